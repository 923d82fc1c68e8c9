// expect: 42
// stdout: cross_unit ok
/* Cross-unit calls and data references: main.c calls into calc.c, which
 * calls back into data.c; data is read and written across units, including
 * pointers stored in one unit that point into another. */
#include "../start.h"
#include "shared.h"

int test_main(void) {
  if (add3(1, 2, 3) != 6) return 1;
  if (scale_sum(10) != 10 * (1 + 2 + 3 + 4 + 5 + 6 + 7 + 8)) return 2;
  bump_counter(5);
  bump_counter(7);
  if (shared_counter != 12) return 3;
  if (counter_ptr != &shared_counter) return 4;
  if (*counter_ptr != 12) return 5;
  if (apply(twice, 21) != 42) return 6; /* function pointer from another unit */
  if (greeting[0] != 'c' || str_len(greeting) != 13) return 7;
  shared_table[7] = 100;
  if (scale_sum(1) != 1 + 2 + 3 + 4 + 5 + 6 + 7 + 100) return 8;
  if (last_entry != &shared_table[7] || *last_entry != 100) return 9;
  write(1, greeting, str_len(greeting));
  write(1, "\n", 1);
  return 42;
}
