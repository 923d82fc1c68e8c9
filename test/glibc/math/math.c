/* libm through -lm (a GNU ld script on Debian): results printed with %.6f. */
#include <math.h>
#include <stdio.h>

/* volatile: the compiler must call libm rather than fold the results. */
static volatile double inputs[] = {0.5, 2.0, 10.0, 3.14159265358979};

int main(void) {
  double a = inputs[0], b = inputs[1], c = inputs[2], pi = inputs[3];
  printf("sqrt(2) = %.6f\n", sqrt(b));
  printf("sqrt(10) = %.6f\n", sqrt(c));
  printf("pow(2, 10) = %.6f\n", pow(b, c));
  printf("pow(10, 0.5) = %.6f\n", pow(c, a));
  printf("sin(0.5) = %.6f\n", sin(a));
  printf("sin(pi/6) = %.6f\n", sin(pi / 6));
  printf("cos(pi/3) = %.6f\n", cos(pi / 3));
  printf("exp(2) = %.6f, log(10) = %.6f\n", exp(b), log(c));
  printf("atan2(1, 2) = %.6f, fmod(10, 3) = %.6f\n", atan2(a * 2, b), fmod(c, 3.0));
  printf("cbrt(10) = %.6f, hypot(0.5, 2) = %.6f\n", cbrt(c), hypot(a, b));
  double s = 0;
  for (int i = 1; i <= 1000; i++) s += sin(i * a) * sin(i * a) + cos(i * a) * cos(i * a);
  printf("sum of sin^2 + cos^2 over 1000 angles = %.6f\n", s);
  return (int)lround(pow(b, 5.0)) + (int)floor(sqrt(c)); /* 32 + 3 */
}
