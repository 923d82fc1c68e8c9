/* Uses plugin.dll through its import library: functions and data. */
#include <stdio.h>
#include "plugin.h"

int main(void) {
  int add = plugin_apply("add", 40, 2), mul = plugin_apply("mul", 6, 7), none = plugin_apply("pow", 1, 1);
  printf("add=%d mul=%d none=%d ops=%d first=%s attached=%d state=%d\n",
         add, mul, none, plugin_nops, plugin_ops[0].name, plugin_attached, plugin_state());
  return add == 42 && mul == 42 ? 0 : 1;
}
