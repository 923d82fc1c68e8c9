/* Thread-locals accessed with the global-dynamic model. */
#include "tls.h"

__thread int gd_counter = 100;
__thread long gd_big[32];

int gd_bump(int by) {
  gd_counter += by;
  gd_big[by & 31] += by;
  return gd_counter + le_value;
}
