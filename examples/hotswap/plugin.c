/* A plugin for the hot-swap host: edit it, rebuild it (./build.sh plugin),
 * and the running host loads the new version. Try changing the greeting or
 * the scale, which is what the test does. */
#include "plugin.h"

static const char greeting[] = "hello from the plugin";
static const int weights[] = {3, 1, 4, 1, 5, 9, 2, 6};
static int calls; /* zeroed again by every (re)load */

static long scale(void) {
  return 10;
}

static long weighted_sum(void) {
  long sum = 0;
  for (unsigned i = 0; i < sizeof weights / sizeof weights[0]; i++) sum += (long)(i + 1) * weights[i];
  return sum;
}

void plugin_answer(struct plugin_answer *out) {
  calls++;
  out->text = greeting;
  out->number = weighted_sum() * scale();
}

/* Not used by the host: how often this copy of the plugin was asked. */
int plugin_calls(void) {
  return calls;
}
