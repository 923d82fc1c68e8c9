// cflags: -fno-pic
#include "mixed.h"
int nopic_data = 200;
fn_t const nopic_table[2] = {pic_fn, lib_pic_fn};
int nopic_fn(int x) { return x + nopic_data + main_fn(2); }
int *nopic_data_ptr(void) { return &pic_data; }
