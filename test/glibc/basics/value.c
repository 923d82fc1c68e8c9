/*
 * The unit the incremental test edits: it changes the constant magic_number
 * returns (42 becomes 57), recompiles this unit alone and relinks.
 */
#include "basics.h"

int magic_number(void) {
  return 42;
}

const char *magic_label(void) {
  return "the magic number";
}
