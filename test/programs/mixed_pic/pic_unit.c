// cflags: -fpie
#include "mixed.h"
int pic_data = 100;
fn_t pic_table[3] = {nopic_fn, lib_nopic_fn, main_fn};
int pic_fn(int x) { return x + pic_data + main_data; }
int *pic_data_ptr(void) { return &nopic_data; }
