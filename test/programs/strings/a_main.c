// expect: 42
/* Mergeable strings (.rodata.str1.1, .rodata.str4.4). The same literals
 * appear in three units, in different orders, so each input section has them
 * at different offsets; references are section-symbol + addend. The contents
 * must survive merging; the test also checks that the marker literal
 * "tslink-merged-string-literal" occurs exactly once in .rodata. */
#include "../start.h"

const char *b_string(int i);
const char *c_string(int i);
const int *b_wide(void);
const int *c_wide(void);

static const char *a_string(int i) {
  switch (i) {
  case 0: return "tslink-merged-string-literal";
  case 1: return "alpha";
  case 2: return "beta";
  default: return "gamma-only-in-a";
  }
}

static int wide_eq(const int *a, const int *b) {
  while (*a && *a == *b) {
    a++;
    b++;
  }
  return *a == *b;
}

int test_main(void) {
  static const char *const want[] = {"tslink-merged-string-literal", "alpha", "beta"};
  for (int i = 0; i < 3; i++) {
    int k = OPAQUE(i);
    if (!str_eq(a_string(k), want[i])) return 1 + i;
    if (!str_eq(b_string(k), want[i])) return 4 + i;
    if (!str_eq(c_string(k), want[i])) return 7 + i;
  }
  if (!str_eq(a_string(OPAQUE(3)), "gamma-only-in-a")) return 10;
  if (!str_eq(b_string(OPAQUE(3)), "delta-only-in-b")) return 11;
  if (!str_eq(c_string(OPAQUE(3)), "epsilon-only-in-c")) return 12;
  if (str_len(b_string(OPAQUE(0))) != 28) return 13;
  if (!wide_eq(b_wide(), (const int *)L"wide merged")) return 14;
  if (!wide_eq(c_wide(), (const int *)L"wide merged")) return 15;
  return 42;
}
