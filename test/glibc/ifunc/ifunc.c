/*
 * User IFUNCs: the resolvers run before main (IRELATIVE relocations that a
 * static glibc program applies itself) and pick an implementation.
 */
#include "ifunc.h"

static int impl_a(void) { return 41; }

/* The resolver must not depend on anything relocated or initialised later. */
static void *resolve_f(void) { return (void *)impl_a; }

int f(void) __attribute__((ifunc("resolve_f")));

static long add_impl(long x, long y) { return x + y; }
static long mul_impl(long x, long y) { return x * y; }

static const int use_mul = 1;
static void *resolve_g(void) { return use_mul ? (void *)mul_impl : (void *)add_impl; }

long g(long x, long y) __attribute__((ifunc("resolve_g")));

/* &f stored in initialised data of the defining unit. */
int (*const f_in_data)(void) = f;

int (*f_address_here(void))(void) { return f; }
