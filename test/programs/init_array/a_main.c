// expect: 42
/* .init_array / .fini_array. Without libc nothing runs constructors, so
 * test_main walks __init_array_start..__init_array_end itself (and
 * __fini_array_start..__fini_array_end backwards, as libc does). The linker
 * must sort .init_array.N / .fini_array.N by priority, put the unprioritised
 * entries last in command-line order, and define the bracketing symbols. */
#include "../start.h"

extern void (*__init_array_start[])(void);
extern void (*__init_array_end[])(void);
extern void (*__fini_array_start[])(void);
extern void (*__fini_array_end[])(void);

int log_buf[16];
int log_len;
void note(int v) { log_buf[log_len++] = v; }

__attribute__((constructor)) static void ctor_plain(void) { note(65535); }
__attribute__((constructor(102))) static void ctor102(void) { note(102); }
__attribute__((constructor(101))) static void ctor101(void) { note(101); }
__attribute__((destructor(101))) static void dtor101(void) { note(-101); }
__attribute__((destructor)) static void dtor_plain(void) { note(-65535); }
__attribute__((destructor(102))) static void dtor102(void) { note(-102); }

static int check(const int *want, int n) {
  if (log_len != n) return 0;
  for (int i = 0; i < n; i++)
    if (log_buf[i] != want[i]) return 0;
  return 1;
}

int test_main(void) {
  long n_init = __init_array_end - __init_array_start;
  long n_fini = __fini_array_end - __fini_array_start;
  if (n_init != 5) return 1;
  if (n_fini != 3) return 2;
  for (void (**f)(void) = __init_array_start; f != __init_array_end; f++) (*f)();
  static const int want_init[] = {101, 102, 150, 65535, 65536};
  if (!check(want_init, 5)) return 3;
  log_len = 0;
  for (void (**f)(void) = __fini_array_end; f != __fini_array_start;) (*--f)();
  static const int want_fini[] = {-65535, -102, -101};
  if (!check(want_fini, 3)) return 4;
  return 42;
}
