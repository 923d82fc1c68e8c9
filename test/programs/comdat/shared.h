#ifndef COMDAT_SHARED_H
#define COMDAT_SHARED_H
/* Defined in every unit that includes this header, each copy in a COMDAT
 * group; the linker must keep exactly one copy of each group. */
inline int bump() {
  static int counter;
  return ++counter;
}

template <int N> int tcount() {
  static int c = N;
  return ++c;
}

template <typename T> struct Box {
  static T value;
  static T get() { return value; }
};
template <typename T> T Box<T>::value = 3;

typedef int (*fnp)();

int a_bump();
int b_bump();
int a_t();
int b_t();
fnp a_bump_addr();
fnp b_bump_addr();
fnp a_t_addr();
fnp b_t_addr();
int *a_box();
int *b_box();
#endif
