// Order of C and C++ constructors and destructors around main.
#include <cstdio>
#include <cstdlib>

#include "tracer.h"

static Tracer main_object("main.cc");

static void at_exit() { std::puts("atexit: handler registered in main"); }

int main() {
  std::atexit(at_exit);
  static Tracer local("function-local static in main");
  std::printf("main: %d objects in objects.cc\n", tracer_count());
  return 5;
}
