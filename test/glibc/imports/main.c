/*
 * Data and functions imported from the C library's shared objects: in a
 * non-PIE the variables are copied into the program (copy relocations) and
 * the functions whose address is taken get canonical PLT entries, so every
 * pointer to them is the same, in the program, in its other unit, and as
 * the C library itself sees them (dlsym).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

void *other_puts(void);
void *other_environ(void);
int other_sum(int (*f)(int), int n);

static int twice(int x) { return 2 * x; }

static int by_value(const void *a, const void *b) {
  return *(const int *)a - *(const int *)b;
}

int main(void) {
  printf("optind %d, opterr %d\n", optind, opterr);
  printf("stdout is fd %d, stderr is fd %d\n", fileno(stdout), fileno(stderr));
  errno = ERANGE;
  printf("errno %d\n", errno);

  void *self = dlsym(RTLD_DEFAULT, "puts");
  printf("&puts the same in both units: %s, and as dlsym sees it: %s\n",
         (void *)&puts == other_puts() ? "yes" : "no", (void *)&puts == self ? "yes" : "no");
  printf("&environ the same in both units: %s, and as dlsym sees it: %s\n",
         (void *)&environ == other_environ() ? "yes" : "no",
         (void *)&environ == dlsym(RTLD_DEFAULT, "environ") ? "yes" : "no");
  printf("&optind as dlsym sees it: %s\n", (void *)&optind == dlsym(RTLD_DEFAULT, "optind") ? "yes" : "no");

  // The C library writes environ; the program reads its (copied) variable.
  setenv("TSLINK_IMPORTS", "forty-two", 1);
  int found = 0;
  for (char **e = environ; *e; e++) found |= strcmp(*e, "TSLINK_IMPORTS=forty-two") == 0;
  printf("setenv seen through environ: %s, getenv: %s\n", found ? "yes" : "no", getenv("TSLINK_IMPORTS"));

  // The C library calls back into the program.
  int v[] = { 9, -3, 27, 0, 5 };
  qsort(v, 5, sizeof v[0], by_value);
  printf("sorted: %d %d %d %d %d\n", v[0], v[1], v[2], v[3], v[4]);
  printf("sum of twice(i) for i < 10: %d\n", other_sum(twice, 10));
  return 7;
}
