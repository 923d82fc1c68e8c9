const char *b_string(int i) {
  switch (i) {
  case 2: return "beta";
  case 1: return "alpha";
  case 0: return "tslink-merged-string-literal";
  default: return "delta-only-in-b";
  }
}
const int *b_wide(void) { return (const int *)L"wide merged"; }
