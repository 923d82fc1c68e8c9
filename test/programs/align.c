// expect: 42
/* Large alignments: 4096-byte aligned .data, .bss and .rodata objects,
 * a 256-byte aligned object after odd-sized ones, and 64-byte aligned
 * functions. Addresses are checked at run time (hidden from the optimiser,
 * which would otherwise assume the declared alignment). */
#include "start.h"

char odd_data1[3] = {1, 2, 3};
__attribute__((aligned(4096))) char page_data[100] = {7};
char odd_data2[5] = {4};
__attribute__((aligned(256))) int mid_data = 9;
__attribute__((aligned(4096))) char page_bss[10];
char odd_bss[7];
__attribute__((aligned(4096))) const char page_ro[32] = "page aligned rodata";
__attribute__((aligned(32))) long long_aligned_bss[3];

__attribute__((aligned(64), noinline)) int aligned_fn1(int x) { return x + 1; }
__attribute__((noinline)) int plain_fn(int x) { return x * 3; }
__attribute__((aligned(64), noinline)) int aligned_fn2(int x) { return x + 2; }

static int misaligned(const void *p, unsigned long a) {
  return ((unsigned long)OPAQUE(p) & (a - 1)) != 0;
}

int test_main(void) {
  if (misaligned(page_data, 4096)) return 1;
  if (misaligned(page_bss, 4096)) return 2;
  if (misaligned(page_ro, 4096)) return 3;
  if (misaligned(&mid_data, 256)) return 4;
  if (misaligned(long_aligned_bss, 32)) return 5;
  if (misaligned((const void *)&aligned_fn1, 64)) return 6;
  if (misaligned((const void *)&aligned_fn2, 64)) return 7;
  if (OPAQUE(page_data)[0] != 7 || mid_data != 9 || odd_data1[2] != 3 || odd_data2[0] != 4) return 8;
  if (OPAQUE(page_bss)[9] != 0 || odd_bss[6] != 0) return 9;
  if (!str_eq(page_ro, "page aligned rodata")) return 10;
  int (*f1)(int) = OPAQUE(&aligned_fn1), (*f2)(int) = OPAQUE(&aligned_fn2), (*f3)(int) = OPAQUE(&plain_fn);
  if (f1(1) + f2(2) + f3(3) != 2 + 4 + 9) return 11;
  page_bss[0] = 1;
  long_aligned_bss[2] = 5;
  return 42;
}
