// expect: 42
/* A 16 MiB .bss array next to small .data and .bss objects: the loader must
 * map zero pages for all of it (memsz > filesz), the first and last bytes are
 * written and read back, and the neighbours must not overlap it. */
#include "start.h"

#define BIG (16u << 20)
int before_data = 5;
char big[BIG];
int after_bss;
int after_data = 6;

int test_main(void) {
  char *b = OPAQUE(big);
  if (b[0] != 0 || b[BIG / 2] != 0 || b[BIG - 1] != 0) return 1;
  b[0] = 1;
  b[BIG - 1] = 2;
  b[BIG / 2] = 3;
  if (OPAQUE(big)[0] != 1 || OPAQUE(big)[BIG - 1] != 2 || OPAQUE(big)[BIG / 2] != 3) return 2;
  if (before_data != 5 || after_data != 6 || after_bss != 0) return 3;
  unsigned long lo = (unsigned long)OPAQUE(big), hi = lo + BIG;
  unsigned long a = (unsigned long)OPAQUE(&before_data), c = (unsigned long)OPAQUE(&after_bss),
                d = (unsigned long)OPAQUE(&after_data);
  if ((a >= lo && a < hi) || (c >= lo && c < hi) || (d >= lo && d < hi)) return 4;
  /* Touch one byte per page across the array. */
  for (unsigned long off = 0; off < BIG; off += 4096) b[off] = (char)(off >> 12);
  unsigned sum = 0;
  for (unsigned long off = 0; off < BIG; off += 4096) sum += (unsigned char)OPAQUE(big)[off];
  /* 4096 pages; page i holds i & 0xff, so each 256-page run sums to 32640. */
  if (sum != 16 * 32640) return 5;
  return 42;
}
