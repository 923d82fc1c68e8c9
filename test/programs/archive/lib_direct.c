int trans_fn(int x);
int direct_fn(int x) { return trans_fn(x) + 5; }
