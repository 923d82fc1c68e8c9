/* Thread-locals accessed with the local-exec model. */
#include "tls.h"

__thread int le_value = 7;

int le_bump(void) { return ++le_value; }

long le_read_gd_big(int i) { return gd_big[i]; }
