#include "shared.h"
int a_bump() { return bump(); }
int a_t() { return tcount<5>(); }
fnp a_bump_addr() { return &bump; }
fnp a_t_addr() { return &tcount<5>; }
int *a_box() { return &Box<int>::value; }
