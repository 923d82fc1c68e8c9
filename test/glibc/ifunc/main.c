/*
 * Calls IFUNCs directly and through function pointers, and checks that &f
 * is the same pointer wherever it is taken: here, in the defining unit, in
 * a -fno-pic unit and in initialised data of both.
 */
#include <stdio.h>

#include "ifunc.h"

int main(void) {
  int (*volatile here)(void) = &f;
  long (*volatile gp)(long, long) = g;
  printf("f() = %d, through a pointer = %d, from other.c = %d\n", f(), here(), call_f_other());
  printf("g(6, 7) = %ld, through a pointer = %ld\n", g(6, 7), gp(6, 7));
  int (*ptrs[5])(void) = {here, f_address_here(), f_address_other(), f_in_data, f_table[1]};
  int equal = 1, sum = 0;
  for (int i = 0; i < 5; i++) {
    equal &= ptrs[i] == ptrs[0];
    sum += ptrs[i]();
  }
  printf("&f equal in every unit: %s\n", equal ? "yes" : "no");
  printf("sum of calls through the five pointers = %d\n", sum);
  return equal ? f() : 1;
}
