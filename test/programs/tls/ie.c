// cflags: -ftls-model=initial-exec
#include "tls.h"

__thread int ie_own = 77;
__thread int ie_own_bss;

int *ie_addr_t(void) { return &t; }
char *ie_addr_aligned(void) { return &aligned_tls; }
int *ie_addr_zz(void) { return zz; }
int *ie_addr_own(void) { return &ie_own; }
int *ie_addr_own_bss(void) { return &ie_own_bss; }
int ie_sum(void) { return t + aligned_tls + zz[7] + ie_own; }
void ie_write(int v) {
  aligned_tls = 1;
  zz[7] = v;
  ie_own += v;
}
