const char *c_string(int i) {
  const char *s = "epsilon-only-in-c";
  if (i == 1) s = "alpha";
  if (i == 0) s = "tslink-merged-string-literal";
  if (i == 2) s = "beta";
  return s;
}
const int *c_wide(void) { return (const int *)L"wide merged"; }
