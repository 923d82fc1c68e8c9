/* Archive member with two functions and a data object. */
#include "ops.h"

void lib_count(void);

const char lib_banner[] = "libmini: sub mod max";

int lib_mod(int a, int b) {
  lib_count();
  return b ? a % b : 0;
}

int lib_max(int a, int b) {
  lib_count();
  return a > b ? a : b;
}
