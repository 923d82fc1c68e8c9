int scale(int x) { return 10 * x; }
