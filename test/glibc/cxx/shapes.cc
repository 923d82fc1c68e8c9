// Shape implementations (virtual functions) and the factory.
#include "shapes.h"

int shapes_destroyed;

Shape::~Shape() { shapes_destroyed++; }

namespace {

struct Circle : Shape {
  double r;
  explicit Circle(double r) : r(r) {}
  double area() const override { return 3.14159265358979 * r * r; }
  std::string name() const override { return "circle(" + std::to_string(static_cast<int>(r)) + ")"; }
};

struct Rect : Shape {
  double w, h;
  Rect(double w, double h) : w(w), h(h) {}
  double area() const override { return w * h; }
  std::string name() const override { return "rect(" + std::to_string(static_cast<int>(w)) + "x" + std::to_string(static_cast<int>(h)) + ")"; }
};

struct Square : Rect {
  explicit Square(double s) : Rect(s, s) {}
  std::string name() const override { return "square(" + std::to_string(static_cast<int>(w)) + ")"; }
};

}  // namespace

std::unique_ptr<Shape> make_shape(const std::string &kind, double a, double b) {
  if (kind == "circle") return std::make_unique<Circle>(a);
  if (kind == "rect") return std::make_unique<Rect>(a, b);
  if (kind == "square") return std::make_unique<Square>(a);
  throw ParseError("unknown shape kind '" + kind + "'", 0);
}
