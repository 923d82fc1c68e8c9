// expect: 42
/* A dense switch that -O1 lowers to a jump table: absolute entries
 * (R_X86_64_64 / 32S) without PIC, relative entries (R_X86_64_PC32 against
 * the table's own section) with -fpie; AArch64 uses compressed relative
 * entries. Each case has a side effect so the switch is not turned into a
 * lookup table of values. */
#include "start.h"

volatile int sink;

__attribute__((noinline)) static int dispatch(int k) {
  switch (k) {
  case 0: sink = 11; return sink + 1;
  case 1: sink = 23; return sink * 2;
  case 2: sink = 5; return sink - 9;
  case 3: sink = 7; return sink << 3;
  case 4: sink = 100; return sink / 3;
  case 5: sink = 13; return sink ^ 0x55;
  case 6: sink = 1; return sink + 1000;
  case 7: sink = 77; return sink - 70;
  case 8: sink = 9; return sink * sink;
  case 9: sink = 31; return sink | 64;
  case 10: sink = 2; return sink * 17;
  case 11: sink = 64; return sink >> 2;
  case 12: sink = 3; return sink + 300;
  default: sink = -1; return -1;
  }
}

int test_main(void) {
  static const int want[] = {12, 46, -4, 56, 33, 13 ^ 0x55, 1001, 7, 81, 95, 34, 16, 303, -1, -1};
  static const int sinks[] = {11, 23, 5, 7, 100, 13, 1, 77, 9, 31, 2, 64, 3, -1, -1};
  for (int k = 0; k < 15; k++) {
    if (dispatch(k) != want[k]) return 1 + k;
    if (sink != sinks[k]) return 20 + k;
  }
  /* Walk the cases in a scrambled order too. */
  int sum = 0;
  for (int k = 12; k >= 0; k -= 3) sum += dispatch(k);
  return sum == 303 + 95 + 1001 + 56 + 12 ? 42 : 100;
}
