/*
 * Everyday C library use in a static glibc program: stdio (printf, puts,
 * snprintf), the heap (malloc, realloc, free), the string functions glibc
 * resolves through IFUNCs (memcpy, memmove, memset, memcmp, strlen, strcmp,
 * strchr, strstr...), qsort with callbacks, atexit handlers, and the exit
 * status returned from main. Inputs are built at run time so the compiler
 * cannot fold the library calls away.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basics.h"

static int cmp_int(const void *a, const void *b) {
  int x = *(const int *)a, y = *(const int *)b;
  return (x > y) - (x < y);
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static void last_words(void) { puts("atexit: registered first, runs last"); }
static void first_words(void) { puts("atexit: registered second, runs first"); }

/* A heap string of `n` letters: abc...xyzabc... */
static char *letters(size_t n) {
  char *s = malloc(n + 1);
  for (size_t i = 0; i < n; i++) s[i] = (char)('a' + i % 26);
  s[n] = '\0';
  return s;
}

static void test_stdio(void) {
  puts("hello from a static glibc program");
  printf("ints: %d %5d|%-5d| %x %o %ld %llu\n", -17, 42, 7, 0xbeef, 8, -1234567890123L, 18446744073709551615ULL);
  printf("floats: %.3f %e %g\n", 3.14159265, 12345.678, 0.0001);
  printf("strings: [%s] [%10s] [%-6s] [%.3s] %c%%\n", "abc", "right", "left", "truncated", 'Z');
  char buf[16];
  int n = snprintf(buf, sizeof buf, "%s-%d-%s", "snprintf", 123456, "overflowing");
  printf("snprintf wanted %d chars, kept \"%s\" (%zu)\n", n, buf, strlen(buf));
}

static void test_heap(void) {
  int *v = malloc(1000 * sizeof *v);
  for (int i = 0; i < 1000; i++) v[i] = i * 3;
  v = realloc(v, 200000 * sizeof *v); /* big enough for mmap */
  long sum = 0;
  for (int i = 1000; i < 200000; i++) v[i] = i & 0xff;
  for (int i = 0; i < 200000; i++) sum += v[i];
  free(v);
  void *blocks[64];
  for (int i = 0; i < 64; i++) blocks[i] = calloc((size_t)i + 1, 24);
  int zero = 1;
  for (int i = 0; i < 64; i++) {
    const unsigned char *p = blocks[i];
    for (int j = 0; j < (i + 1) * 24; j++) zero &= p[j] == 0;
  }
  for (int i = 63; i >= 0; i--) free(blocks[i]);
  printf("heap: sum %ld, calloc zeroed %s\n", sum, zero ? "yes" : "no");
}

static void test_strings(void) {
  char *a = letters(300);
  char *b = malloc(301);
  memcpy(b, a, 301);
  printf("strlen %zu %zu, strcmp equal %d\n", strlen(a), strlen(b + 17), strcmp(a, b) == 0);
  b[250] = 'A';
  printf("strcmp sign %d, memcmp sign %d, strncmp(250) %d\n", strcmp(a, b) > 0, memcmp(b, a, 300) < 0, strncmp(a, b, 250));
  memmove(b + 1, b, 100); /* overlapping */
  printf("memmove: %.8s\n", b);
  memset(b, '#', 5);
  printf("memset: %.10s\n", b);
  printf("strchr offset %td, strrchr offset %td\n", strchr(a, 'q') - a, strrchr(a, 'q') - a);
  printf("strstr offset %td\n", strstr(a, "xyzab") - a);
  char *c = malloc(64);
  strcpy(c, "con");
  strcat(c, "catenated");
  printf("strcpy+strcat: %s (%zu), strdup: %s\n", c, strlen(c), strdup(c + 3));
  free(a);
  free(b);
  free(c);
}

static void test_qsort(void) {
  int nums[12];
  unsigned x = 12345;
  for (int i = 0; i < 12; i++) {
    x = x * 1103515245u + 12345u;
    nums[i] = (int)(x >> 16) % 1000 - 500;
  }
  qsort(nums, 12, sizeof nums[0], cmp_int);
  printf("qsort ints:");
  for (int i = 0; i < 12; i++) printf(" %d", nums[i]);
  printf("\n");
  char *words[] = {strdup("pear"), strdup("apple"), strdup("fig"), strdup("banana"), strdup("cherry")};
  qsort(words, 5, sizeof words[0], cmp_str);
  printf("qsort strings:");
  for (int i = 0; i < 5; i++) printf(" %s", words[i]);
  printf("\n");
}

int main(void) {
  atexit(last_words);
  atexit(first_words);
  test_stdio();
  test_heap();
  test_strings();
  test_qsort();
  printf("%s: %d\n", magic_label(), magic_number());
  return magic_number() % 32;
}
