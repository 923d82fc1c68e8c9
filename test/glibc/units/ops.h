/* Declarations shared by the units of the units program. */
#ifndef OPS_H
#define OPS_H

typedef int (*binop)(int, int);

struct op {
  const char *name;
  binop fn;
};

/* arith.c */
int op_add(int a, int b);
int op_mul(int a, int b);
int fold(binop fn, const int *v, int n);

/* table.c */
extern const struct op op_table[];
extern const int op_count;
extern binop registered[8];
extern int n_registered;
void register_op(binop fn);

/* libmini.a */
int lib_sub(int a, int b);
int lib_mod(int a, int b);
int lib_max(int a, int b);
extern const char lib_banner[];
extern int lib_calls;

#endif
