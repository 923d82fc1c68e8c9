// Parsing that throws; the exceptions cross into main.cc, unwinding through
// frames with destructors to run.
#include <cstdio>
#include <sstream>

#include "shapes.h"

int guards_unwound;

namespace {

struct Guard {
  const char *what;
  bool done = false;
  explicit Guard(const char *w) : what(w) {}
  ~Guard() {
    if (!done) {
      guards_unwound++;
      std::printf("  unwinding: guard '%s' released\n", what);
    }
  }
};

}  // namespace

long parse_number(const std::string &text) {
  Guard g("parse_number");
  std::size_t used = 0;
  long v;
  try {
    v = std::stol(text, &used);  // throws std::invalid_argument / std::out_of_range
  } catch (const std::invalid_argument &) {
    throw ParseError("not a number: '" + text + "'", 0);
  }
  if (used != text.size()) throw ParseError("trailing characters in '" + text + "'", static_cast<int>(used));
  if (v < 0 || v > 1000) throw RangeError("out of range: " + text, v);
  g.done = true;
  return v;
}

// "kind:a:b,kind:a:b,..."
std::vector<std::unique_ptr<Shape>> parse_shapes(const std::string &spec) {
  Guard g("parse_shapes");
  std::vector<std::unique_ptr<Shape>> out;
  std::stringstream items(spec);
  std::string item;
  while (std::getline(items, item, ',')) {
    std::stringstream fields(item);
    std::string kind, a, b;
    std::getline(fields, kind, ':');
    std::getline(fields, a, ':');
    std::getline(fields, b, ':');
    out.push_back(make_shape(kind, static_cast<double>(parse_number(a)), b.empty() ? 0.0 : static_cast<double>(parse_number(b))));
  }
  g.done = true;
  return out;
}
