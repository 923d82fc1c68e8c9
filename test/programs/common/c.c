// cflags: -fcommon
int counter;
char blob[4096];
int mixed;
int guard_c;

void c_touch(void) {
  counter += 10;
  blob[4095] = 'z';
}

int *c_counter_addr(void) { return &counter; }
int *c_guard_addr(void) { return &guard_c; }
