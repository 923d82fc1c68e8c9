#include "shared.h"
int b_bump() { return bump(); }
int b_t() { return tcount<5>(); }
fnp b_bump_addr() { return &bump; }
fnp b_t_addr() { return &tcount<5>; }
int *b_box() { return &Box<int>::value; }
