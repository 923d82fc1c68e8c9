// C++ in a static glibc program: exceptions thrown in other units (and in
// libstdc++) caught by base class, std::string / std::vector / std::map,
// virtual calls and std::sort.
#include <algorithm>
#include <cstdio>
#include <iomanip>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "shapes.h"

static int try_parse(const std::string &spec) {
  try {
    auto shapes = parse_shapes(spec);
    std::cout << "parsed " << shapes.size() << " shapes from '" << spec << "'\n";
    return 0;
  } catch (const ParseError &e) {
    std::cout << "ParseError at column " << e.column << ": " << e.what() << "\n";
    return 1;
  } catch (const AppError &e) {  // RangeError lands here, by its base
    std::cout << "AppError: " << e.what() << "\n";
    return 2;
  } catch (const std::exception &e) {
    std::cout << "std::exception: " << e.what() << "\n";
    return 3;
  }
}

int main() {
  auto shapes = parse_shapes("rect:3:4,circle:2,square:5,rect:10:1,circle:1");
  std::sort(shapes.begin(), shapes.end(), [](const auto &x, const auto &y) { return x->area() < y->area(); });
  std::cout << std::fixed << std::setprecision(3);
  for (const auto &s : shapes) std::cout << s->name() << " area " << s->area() << "\n";

  std::map<std::string, int> counts;
  for (const auto &s : shapes) counts[s->name().substr(0, s->name().find('('))]++;
  for (const auto &[kind, n] : counts) std::cout << kind << ": " << n << "\n";

  std::vector<int> v{5, 3, 9, 1, 7, 2, 8};
  std::sort(v.begin(), v.end(), std::greater<int>());
  std::string joined;
  for (int x : v) joined += std::to_string(x) + " ";
  std::cout << "sorted descending: " << joined << "\n";

  int errors = 0;
  errors += try_parse("square:4,circle:3");
  errors += try_parse("square:4,hexagon:3");
  errors += try_parse("rect:4:5x");
  errors += try_parse("circle:5000");
  errors += try_parse("rect:1:abc");
  try {
    std::cout << v.at(42) << "\n";
  } catch (const std::out_of_range &) {  // thrown inside libstdc++
    std::cout << "std::out_of_range from vector::at\n";
    errors += 10;
  }
  shapes.clear();
  std::cout << "errors " << errors << ", guards unwound " << guards_unwound << ", shapes destroyed " << shapes_destroyed << "\n";
  return errors + guards_unwound;
}
