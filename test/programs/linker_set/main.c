// expect: 42
/* A linker set: entries placed by several units in one section named like a
 * C identifier, walked from __start_SECTION to __stop_SECTION. The section
 * must be gap-free, with or without incremental slack: a gap would be read
 * as an entry. */
#include "../start.h"

typedef int (*entry_fn)(void);
extern entry_fn __start_test_set[], __stop_test_set[];

static int seven(void) { return 7; }
__attribute__((used, section("test_set"))) static entry_fn e_main = seven;

int test_main(void) {
  int n = (int)(__stop_test_set - __start_test_set);
  if (n != 3) return 1;
  int sum = 0;
  for (entry_fn *p = __start_test_set; p < __stop_test_set; p++) {
    if (!*p) return 2;
    sum += (*p)();
  }
  return sum == 42 ? 42 : 3;
}
