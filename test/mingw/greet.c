#include <stdio.h>
static char out[64];
const char *greet(const char *who) { snprintf(out, sizeof out, "hello, %s", who); return out; }
