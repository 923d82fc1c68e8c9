/*
 * C constructors and destructors with and without priorities. Lower
 * priorities construct first and destruct last; this unit is linked last,
 * so the prioritized ones must still come before the C++ global objects.
 */
#include <stdio.h>

__attribute__((constructor)) static void c_ctor(void) { puts("ctor: C constructor, default priority"); }
__attribute__((constructor(101))) static void c_ctor_101(void) { puts("ctor: C constructor, priority 101"); }
__attribute__((constructor(200))) static void c_ctor_200(void) { puts("ctor: C constructor, priority 200"); }

__attribute__((destructor)) static void c_dtor(void) { puts("dtor: C destructor, default priority"); }
__attribute__((destructor(101))) static void c_dtor_101(void) { puts("dtor: C destructor, priority 101"); }
__attribute__((destructor(200))) static void c_dtor_200(void) { puts("dtor: C destructor, priority 200"); }
