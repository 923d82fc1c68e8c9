// cflags: -fcommon
int counter;
long arr[8];
int mixed = 7;
int guard_b;

void b_fill(void) {
  for (int i = 0; i < 8; i++) arr[i] = i + 1;
}

int b_sum(void) {
  long s = 0;
  for (int i = 0; i < 8; i++) s += arr[i];
  return (int)s;
}

int *b_guard_addr(void) { return &guard_b; }
