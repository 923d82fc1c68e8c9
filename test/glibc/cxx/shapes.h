// The C++ program's class hierarchies: shapes with virtual functions, and
// exceptions derived from a common base.
#ifndef SHAPES_H
#define SHAPES_H

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

struct Shape {
  virtual ~Shape();
  virtual double area() const = 0;
  virtual std::string name() const = 0;
};

// Errors: thrown in parse.cc, caught in main.cc by the base class.
struct AppError : std::runtime_error {
  explicit AppError(const std::string &what) : std::runtime_error(what) {}
};
struct ParseError : AppError {
  int column;
  ParseError(const std::string &what, int col) : AppError(what), column(col) {}
};
struct RangeError : AppError {
  long value;
  RangeError(const std::string &what, long v) : AppError(what), value(v) {}
};

// shapes.cc
std::unique_ptr<Shape> make_shape(const std::string &kind, double a, double b);
extern int shapes_destroyed;

// parse.cc
long parse_number(const std::string &text);
std::vector<std::unique_ptr<Shape>> parse_shapes(const std::string &spec);
extern int guards_unwound;

#endif
