#ifndef MIXED_H
#define MIXED_H
typedef int (*fn_t)(int);
extern int main_data, pic_data, nopic_data, lib_pic_data, lib_nopic_data;
int main_fn(int);
int pic_fn(int);
int nopic_fn(int);
int lib_pic_fn(int);
int lib_nopic_fn(int);
int *pic_data_ptr(void);
int *nopic_data_ptr(void);
int *lib_pic_ptr(void);
int *lib_nopic_ptr(void);
extern fn_t const nopic_table[2];
extern fn_t pic_table[3];
#endif
