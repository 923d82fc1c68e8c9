/*
 * Several translation units and an archive of our own (libmini.a): calls
 * through a table of function pointers defined in another unit, through a
 * registry filled at run time, and through callbacks passed across units.
 */
#include <stdio.h>

#include "ops.h"

static int op_min(int a, int b) { return a < b ? a : b; }

int main(void) {
  puts(lib_banner);
  for (int i = 0; i < op_count; i++) printf("%s(17, 5) = %d\n", op_table[i].name, op_table[i].fn(17, 5));

  register_op(op_min);
  register_op(op_table[0].fn);
  register_op(lib_max);
  const int v[] = {9, -4, 30, 7, 12};
  int total = 0;
  for (int i = 0; i < n_registered; i++) {
    int r = fold(registered[i], v, 5);
    printf("fold #%d = %d\n", i, r);
    total += r;
  }
  printf("same pointer through the table and directly: %s\n", op_table[2].fn == lib_sub && registered[2] == lib_max ? "yes" : "no");
  printf("archive calls counted: %d\n", lib_calls);
  return total & 0x7f;
}
