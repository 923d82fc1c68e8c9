#ifndef CROSS_UNIT_SHARED_H
#define CROSS_UNIT_SHARED_H
int add3(int a, int b, int c);
int scale_sum(int k);
void bump_counter(int by);
int apply(int (*fn)(int), int x);
int twice(int x);
extern int shared_counter;
extern int *counter_ptr;
extern int shared_table[8];
extern int *const last_entry;
extern const char greeting[];
#endif
