// Two C++ global objects in a second unit, constructed in definition order.
#include "tracer.h"

static Tracer first("objects.cc #1");
static Tracer second("objects.cc #2");

int tracer_count() { return first.name[0] == 'o' && second.name[0] == 'o' ? 2 : 0; }
