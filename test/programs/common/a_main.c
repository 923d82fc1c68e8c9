// expect: 42
// cflags: -fcommon
/* Common symbols (-fcommon tentative definitions). `counter` is tentatively
 * defined in all three units and must become one object. `arr` is long[2]
 * here but long[8] in b.c, `blob` char[16] here but char[4096] in c.c: the
 * linker must allocate the largest size, so no other object may live inside
 * [arr, arr+8) or [blob, blob+4096). `mixed` is common here and in c.c but
 * has a real initialised definition in b.c, which wins. `acommon` asks for
 * 64-byte alignment. */
#include "../start.h"

int counter;
long arr[2];
char blob[16];
int mixed;
__attribute__((aligned(64))) int acommon;
int guard_a;

void b_fill(void);
int b_sum(void);
void c_touch(void);
int *c_counter_addr(void);
int *b_guard_addr(void);
int *c_guard_addr(void);

static int inside(const void *p, const void *lo, unsigned long size) {
  unsigned long a = (unsigned long)OPAQUE(p), l = (unsigned long)OPAQUE(lo);
  return a >= l && a < l + size;
}

int test_main(void) {
  if (counter != 0 || mixed != 7) return 1;
  counter = 5;
  c_touch(); /* counter += 10, blob[4095] = 'z' */
  if (counter != 15) return 2;
  if (c_counter_addr() != &counter) return 3;
  b_fill(); /* arr[i] = i + 1 for i < 8 */
  if (arr[0] != 1 || arr[1] != 2) return 4;
  if (b_sum() != 36) return 5;
  if (blob[0] != 0 || OPAQUE(blob)[4095] != 'z') return 6;
  const void *others[] = {&counter, &mixed, &acommon, &guard_a, b_guard_addr(), c_guard_addr()};
  for (unsigned i = 0; i < sizeof others / sizeof others[0]; i++) {
    if (inside(others[i], arr, 8 * sizeof(long))) return 10 + i;
    if (inside(others[i], blob, 4096)) return 20 + i;
  }
  if (inside(arr, blob, 4096) || inside(blob, arr, 8 * sizeof(long))) return 30;
  if ((unsigned long)OPAQUE(&acommon) % 64 != 0) return 31;
  if (guard_a != 0 || *b_guard_addr() != 0 || *c_guard_addr() != 0) return 32;
  return 42;
}
