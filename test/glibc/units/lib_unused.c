/*
 * Archive member nothing references: it must stay out of the link. If a
 * linker pulled it in anyway, its constructor would change the output.
 */
#include <stdio.h>

__attribute__((constructor)) static void announce(void) { puts("lib_unused.o was linked: it should not be"); }

int lib_unused(void) { return 99; }
