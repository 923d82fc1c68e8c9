// A global object that prints when it is constructed and destroyed.
#ifndef TRACER_H
#define TRACER_H

#include <cstdio>

struct Tracer {
  const char *name;
  explicit Tracer(const char *n) : name(n) { std::printf("ctor: C++ global %s\n", name); }
  ~Tracer() { std::printf("dtor: C++ global %s\n", name); }
};

int tracer_count();

#endif
