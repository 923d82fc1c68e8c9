#define START_NO_ENTRY
#include "../start.h"

typedef int (*entry_fn)(void);
static int fifteen(void) { return 15; }
static int twenty(void) { return 20; }
__attribute__((used, section("test_set"))) static entry_fn e_a = fifteen;
__attribute__((used, section("test_set"))) static entry_fn e_b = twenty;
