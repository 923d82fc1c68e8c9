#include <stdio.h>
#include <stdlib.h>
#include <string.h>
int list_sum(int n);
const char *greet(const char *who);
extern int counter;
static int ctor_ran;
__attribute__((constructor)) static void init(void) { ctor_ran = 40; }
__thread int tls_value = 5;
int main(int argc, char **argv) {
  char *buf = malloc(64);
  strcpy(buf, greet("wine"));
  tls_value += argc;
  printf("%s sum=%d ctor=%d tls=%d counter=%d\n", buf, list_sum(10), ctor_ran, tls_value, counter);
  free(buf);
  return (list_sum(4) + ctor_ran) & 0xff;
}
