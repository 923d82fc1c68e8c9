/* Built with gcc -fcommon: common symbols, a selectany constant shared with
 * a clang-built unit (gcc pads its COMDAT section, clang does not), weak
 * definitions, a .CRT$XCU initializer, resources from windres, and an
 * over-aligned common (gcc's -aligncomm directive). */
#include <windows.h>
#include <stdio.h>
#include <string.h>

int hits;                 /* common, also tentatively defined in misc_clang.c */
int buckets[128];         /* common */
int paged[3] __attribute__((aligned(4096)));  /* common, aligned by gcc's -aligncomm directive */
int tiny;                 /* common, placed before it */
extern unsigned long long address_of(const void *p);  /* in misc_clang.c: gcc cannot fold the test */
__declspec(selectany) const char banner[13] = "hello world!";
extern const char *clang_banner(void);
extern int bump(void);
__attribute__((weak)) int hook(int x) { return -x; }

static int early;
static void set_early(void) { early = 42; }
__attribute__((section(".CRT$XCU"), used)) static void (*p_set_early)(void) = set_early;

int main(void) {
  hits = 5 + tiny;
  int r = bump();
  char text[64];
  int n = LoadStringA(GetModuleHandleA(NULL), 101, text, sizeof text);
  HRSRC blob = FindResourceA(NULL, MAKEINTRESOURCEA(201), (LPCSTR)RT_RCDATA);
  const char *data = blob ? LockResource(LoadResource(NULL, blob)) : "-";
  printf("hits=%d bump=%d buckets[127]=%d hook=%d early=%d paged=%d\n", hits, r, buckets[127], hook(5), early,
         (address_of(paged) & 4095) == 0);
  printf("banner=%s same=%d\n", clang_banner(), clang_banner() == banner);
  printf("string(%d)=%s rcdata=%s\n", n, n ? text : "-", data);
  return hits == 6 && n > 0 && blob ? 0 : 1;
}
