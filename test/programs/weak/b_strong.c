int weak_fn(void) { return 2; }
int weak_data = 2;
__attribute__((weak)) int both_weak(void) { return 20; }
int strong_caller(void) { return weak_fn() + both_weak(); }
