/* File-local thread-locals accessed with the local-dynamic model. */
#include "tls.h"

static __thread int ld_a = 5;
static __thread long ld_b[4] = {1, 2, 3, 4};
static __thread int ld_zero;

int ld_bump(void) {
  ld_a++;
  ld_zero += 2;
  ld_b[ld_a & 3] += ld_a;
  return ld_a * 100 + ld_zero;
}

long ld_sum(void) { return ld_a + ld_b[0] + ld_b[1] + ld_b[2] + ld_b[3] + ld_zero; }
