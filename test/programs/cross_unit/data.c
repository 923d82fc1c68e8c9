#define START_NO_ENTRY
#include "../start.h"
#include "shared.h"

int shared_counter;
int *counter_ptr = &shared_counter;
int shared_table[8] = {1, 2, 3, 4, 5, 6, 7, 8};
int *const last_entry = &shared_table[7];
const char greeting[] = "cross_unit ok";

int twice(int x) { return add3(x, x, 0); }
