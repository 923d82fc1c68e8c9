int scale(int x) { return 100 * x; }
