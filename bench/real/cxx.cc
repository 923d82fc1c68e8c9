// Benchmark workload (doc/benchmarks.md): C++ with the standard library (static libstdc++).
#include <algorithm>
#include <iostream>
#include <map>
#include <memory>
#include <numeric>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

struct Shape {
  virtual ~Shape() = default;
  virtual double area() const = 0;
};
struct Rect : Shape {
  double w, h;
  Rect(double w, double h) : w(w), h(h) {}
  double area() const override { return w * h; }
};
struct Tri : Shape {
  double b, h;
  Tri(double b, double h) : b(b), h(h) {}
  double area() const override { return b * h / 2; }
};

int main() {
  std::vector<std::unique_ptr<Shape>> shapes;
  for (int i = 1; i <= 100; i++) {
    if (i % 3) shapes.push_back(std::make_unique<Rect>(i, i + 1));
    else shapes.push_back(std::make_unique<Tri>(i, 2 * i));
  }
  double total = std::accumulate(shapes.begin(), shapes.end(), 0.0, [](double s, const auto &p) { return s + p->area(); });
  std::map<std::string, int> words;
  std::unordered_map<int, std::string> names;
  std::istringstream text("the quick brown fox jumps over the lazy dog the end");
  for (std::string w; text >> w;) words[w]++;
  for (auto &[w, n] : words) names[n] += w + " ";
  std::regex re("([a-z]+)@([a-z]+)\\.org");
  std::smatch m;
  std::string mail = "write to tslink@example.org today";
  bool found = std::regex_search(mail, m, re);
  std::vector<int> v(1000);
  std::iota(v.begin(), v.end(), 0);
  std::sort(v.begin(), v.end(), [](int a, int b) { return (a * 7919) % 1000 < (b * 7919) % 1000; });
  try {
    throw std::out_of_range("caught");
  } catch (const std::exception &e) {
    std::cout << e.what() << "\n";
  }
  std::cout << "area " << total << " words " << words.size() << " the=" << words["the"] << " once: " << names[1].size()
            << " match " << (found ? m[1].str() + "/" + m[2].str() : "none") << " first " << v[0] << "\n";
  return 0;
}
