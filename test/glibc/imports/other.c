#include <stdio.h>

extern char **environ;

void *other_puts(void) { return (void *)&puts; }
void *other_environ(void) { return (void *)&environ; }

int other_sum(int (*f)(int), int n) {
  int s = 0;
  for (int i = 0; i < n; i++) s += f(i);
  return s;
}
