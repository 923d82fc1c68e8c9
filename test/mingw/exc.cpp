#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>
struct Tracker { std::string name; Tracker(const char *n) : name(n) {} ~Tracker() { std::printf("dtor %s\n", name.c_str()); } };
static Tracker global_tracker("global");
int thrower(int x) { Tracker t("local"); if (x > 2) throw std::runtime_error("too big: " + std::to_string(x)); return x; }
int main() {
  std::vector<int> v{1, 2, 3, 4};
  int caught = 0;
  for (int x : v) { try { thrower(x); } catch (const std::exception &e) { std::printf("caught %s\n", e.what()); caught++; } }
  std::printf("caught=%d\n", caught);
  return caught;
}
