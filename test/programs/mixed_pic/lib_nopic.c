// cflags: -fno-pic
#include "mixed.h"
int lib_nopic_data = 2000;
int lib_nopic_fn(int x) { return x + lib_nopic_data + main_fn(0); }
int *lib_nopic_ptr(void) { return &lib_pic_data; }
