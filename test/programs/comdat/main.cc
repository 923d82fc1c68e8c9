// expect: 42
/* COMDAT groups (C++). An inline function and a function template, each with
 * a static local counter, and a class template's static data member are
 * instantiated in a.cc and b.cc. The linker must keep one copy of each
 * group: the counters are shared and the addresses agree across units. */
#include "../start.h"
#include "shared.h"

int test_main(void) {
  if (a_bump() != 1 || b_bump() != 2 || a_bump() != 3 || bump() != 4) return 1;
  if (a_t() != 6 || b_t() != 7 || tcount<5>() != 8) return 2;
  if (a_bump_addr() != b_bump_addr() || a_bump_addr() != &bump) return 3;
  if (a_t_addr() != b_t_addr() || b_t_addr() != &tcount<5>) return 4;
  if (a_box() != b_box() || a_box() != &Box<int>::value) return 5;
  *a_box() = 9;
  if (Box<int>::get() != 9 || *b_box() != 9) return 6;
  return 42;
}
