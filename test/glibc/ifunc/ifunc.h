/* The IFUNC program's shared declarations. */
#ifndef IFUNC_H
#define IFUNC_H

int f(void);
long g(long x, long y);

/* ifunc.c */
extern int (*const f_in_data)(void);
int (*f_address_here(void))(void);

/* other.c (compiled -fno-pic: absolute references to f) */
extern int (*const f_table[2])(void);
int (*f_address_other(void))(void);
int call_f_other(void);

#endif
