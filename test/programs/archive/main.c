// expect: 42
/* Archive member extraction. main.c references direct_fn (lib_direct.c),
 * which references trans_fn (lib_trans.c), which references trans_data
 * (lib_data.c): each member is pulled in only transitively.
 * lib_unused.c is never referenced; it defines unused_member_fn and a second
 * shadowed_fn: extracting it would give a wrong answer (or a duplicate
 * definition). lib_weakonly.c defines weak_only_fn, which is referenced here
 * only weakly: a weak undefined reference must not extract a member. */
#include "../start.h"

int direct_fn(int x);
extern int trans_counter;
extern int weak_only_fn(void) __attribute__((weak));

int shadowed_fn(void) { return 7; }

int test_main(void) {
  if (direct_fn(3) != 3 * 10 + 5) return 1;
  if (trans_counter != 1) return 2;
  if (direct_fn(1) != 15) return 3;
  if (trans_counter != 2) return 4;
  if (shadowed_fn() != 7) return 5;
  if (weak_only_fn) return 6;
  return 42;
}
