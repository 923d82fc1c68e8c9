/* Built with clang, linked with misc.c (gcc): the same selectany constant, a common, a strong hook. */
int hits;
extern int buckets[128];
__declspec(selectany) const char banner[13] = "hello world!";
const char *clang_banner(void) { return banner; }
int bump(void) { buckets[127] = 3; return ++hits; }
int hook(int x) { return 2 * x; }
unsigned long long address_of(const void *p) { return (unsigned long long)p; }
