/* Archive member: pulled in by table.c; it pulls lib_count.o in turn. */
#include "ops.h"

void lib_count(void);

int lib_sub(int a, int b) {
  lib_count();
  return a - b;
}
