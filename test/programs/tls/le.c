// cflags: -ftls-model=local-exec
#include "tls.h"

int *le_addr_t(void) { return &t; }
int *le_addr_z(void) { return &z; }
long *le_addr_arr(void) { return arr_tls; }
int le_sum(void) { return t + z + (int)(arr_tls[0] + arr_tls[1] + arr_tls[2] + arr_tls[3]); }
void le_write(int d) {
  t += d;
  z += d;
  arr_tls[1] += d;
}
int le_read_own(void) { return ie_own; }
int le_read_own_bss(void) { return ie_own_bss; }
