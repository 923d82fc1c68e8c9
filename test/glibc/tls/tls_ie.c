/* Thread-locals accessed with the initial-exec model. */
#include <string.h>

#include "tls.h"

__thread char ie_name[16] = "main";

void ie_set_name(const char *s) {
  strncpy(ie_name, s, sizeof ie_name - 1);
  ie_name[sizeof ie_name - 1] = '\0';
}

int ie_read_gd(void) { return gd_counter; }
