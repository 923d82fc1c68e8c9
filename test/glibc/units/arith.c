/* Two operations of the function-pointer table, and a fold over a callback. */
#include "ops.h"

int op_add(int a, int b) { return a + b; }

int op_mul(int a, int b) { return a * b; }

int fold(binop fn, const int *v, int n) {
  int acc = v[0];
  for (int i = 1; i < n; i++) acc = fn(acc, v[i]);
  return acc;
}
