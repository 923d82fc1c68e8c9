// expect: 42
/* Weak symbols. Weak definitions here are overridden by strong ones in
 * b_strong.c; a weak definition with no strong rival is kept; when two units
 * both define a symbol weakly, the first one on the command line wins;
 * weak undefined functions and data resolve to address 0. */
#include "../start.h"

__attribute__((weak)) int weak_fn(void) { return 1; }
__attribute__((weak)) int weak_data = 1;
__attribute__((weak)) int lonely_weak(void) { return 3; }
__attribute__((weak)) int lonely_weak_data = 33;
__attribute__((weak)) int both_weak(void) { return 10; }

extern int missing_fn(void) __attribute__((weak));
extern int missing_data __attribute__((weak));
extern int missing_array[] __attribute__((weak));

int strong_caller(void); /* in b_strong.c: calls weak_fn from there */

int test_main(void) {
  if (weak_fn() != 2) return 1;
  if (weak_data != 2) return 2;
  if (lonely_weak() != 3) return 3;
  if (lonely_weak_data != 33) return 4;
  if (both_weak() != 10) return 5;
  if (strong_caller() != 2 + 10) return 6;
  if (missing_fn) return 7;
  if (&missing_data) return 8;
  if (OPAQUE(missing_array) != 0) return 9;
  return missing_fn ? 1 : 42;
}
