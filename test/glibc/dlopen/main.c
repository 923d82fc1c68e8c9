/* dlopen of system libraries from a program tslink linked. */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

int main(void) {
  void *m = dlopen("libm.so.6", RTLD_NOW);
  if (!m) {
    printf("dlopen libm.so.6 failed: %s\n", dlerror());
    return 1;
  }
  double (*cosp)(double) = (double (*)(double))dlsym(m, "cos");
  double (*powp)(double, double) = (double (*)(double, double))dlsym(m, "pow");
  printf("cos(0) = %.3f, pow(2, 10) = %.1f\n", cosp(0.0), powp(2.0, 10.0));
  printf("no such symbol: %s\n", dlsym(m, "no_such_symbol_here") == NULL ? "NULL" : "found");

  void *c = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);
  size_t (*len)(const char *) = c ? (size_t (*)(const char *))dlsym(c, "strlen") : NULL;
  printf("libc already loaded: %s, strlen(\"tslink\") = %zu\n", c ? "yes" : "no", len ? len("tslink") : 0);

  printf("dlopen of a missing library fails: %s\n", dlopen("libdoes-not-exist.so.9", RTLD_NOW) == NULL ? "yes" : "no");
  dlclose(m);
  if (c) dlclose(c);
  return 0;
}
