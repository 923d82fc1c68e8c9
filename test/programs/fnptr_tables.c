// expect: 42
/* Function-pointer tables: a const table (in .rodata with -fno-pic, in
 * .data.rel.ro with -fpie), a writable table in .data that is modified at
 * run time, and a table of pointers to tables. Every entry is an absolute
 * address the linker has to fill in. */
#include "start.h"

static int op_add(int a, int b) { return a + b; }
static int op_sub(int a, int b) { return a - b; }
static int op_mul(int a, int b) { return a * b; }
static int op_xor(int a, int b) { return a ^ b; }
int op_max(int a, int b) { return a > b ? a : b; }
int op_min(int a, int b) { return a < b ? a : b; }

typedef int (*binop)(int, int);

static binop const const_ops[] = {op_add, op_sub, op_mul, op_xor};
binop writable_ops[] = {op_max, op_min, op_add, 0};
static binop const *const tables[] = {const_ops, writable_ops};
static const struct {
  const char *name;
  binop fn;
} named[] = {{"mul", op_mul}, {"max", op_max}, {"xor", op_xor}};

int test_main(void) {
  int i0 = OPAQUE(0), i1 = OPAQUE(1), i2 = OPAQUE(2), i3 = OPAQUE(3);
  if (const_ops[i0](5, 3) != 8) return 1;
  if (const_ops[i1](5, 3) != 2) return 2;
  if (const_ops[i2](5, 3) != 15) return 3;
  if (const_ops[i3](5, 3) != 6) return 4;
  if (writable_ops[i0](5, 3) != 5) return 5;
  if (writable_ops[i1](5, 3) != 3) return 6;
  if (writable_ops[i3] != 0) return 7;
  writable_ops[i3] = const_ops[i2];
  if (writable_ops[i3](6, 7) != 42) return 8;
  if (tables[i1][i2] != op_add) return 9;
  if (tables[i0][i1](10, 4) != 6) return 10;
  if (named[i1].fn != op_max || !str_eq(named[i1].name, "max")) return 11;
  if (named[i2].fn(12, 10) != 6) return 12;
  if (OPAQUE(&op_min) != writable_ops[1]) return 13;
  return writable_ops[3](6, 7);
}
