/* &f taken in another unit, compiled -fno-pic: absolute address references. */
#include "ifunc.h"

int (*const f_table[2])(void) = {f, f};

int (*f_address_other(void))(void) { return &f; }

int call_f_other(void) { return f() + 1; }
