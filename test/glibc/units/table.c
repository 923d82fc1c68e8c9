/*
 * A constant table of function pointers to functions of other units and of
 * archive members (relocated data), and a mutable registry filled at run time.
 */
#include "ops.h"

const struct op op_table[] = {
    {"add", op_add},
    {"mul", op_mul},
    {"sub", lib_sub},
    {"mod", lib_mod},
    {"max", lib_max},
};
const int op_count = sizeof op_table / sizeof op_table[0];

binop registered[8];
int n_registered;

void register_op(binop fn) { registered[n_registered++] = fn; }
