/* Data that msvcrt.dll exports, used without __declspec(dllimport): MinGW's
 * auto-import. Through clang's and gcc's .refptr pointers, and through a
 * pointer in initialized data (a runtime pseudo relocation). (_fmode is
 * MinGW's own, in libmingw32: not imported.) */
#include <stdio.h>
extern int _fmode;
extern int __argc;
extern char **__argv;
int *argc_ptr = &__argc;
extern int scale(int);
#ifndef LABEL
#define LABEL "argc"
#endif

int main(void) {
  printf(LABEL "=%d argv1=%s same=%d fmode=%d scaled=%d\n", __argc, __argc > 1 ? __argv[1] : "-", *argc_ptr == __argc, _fmode, scale(__argc));
  return __argc;
}
