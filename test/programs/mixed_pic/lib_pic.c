// cflags: -fpie
#include "mixed.h"
int lib_pic_data = 1000;
int lib_pic_fn(int x) { return x + lib_pic_data + main_data; }
int *lib_pic_ptr(void) { return &main_data; }
