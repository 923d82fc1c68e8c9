/* A MinGW DLL: exported functions and data (__declspec(dllexport)), a table
 * of pointers (base relocations: the DLL is based where the program is, so
 * the loader must move it), DllMain, a constructor, a thread-local. */
#include <windows.h>
#include "plugin.h"

static int add(int a, int b) { return a + b; }
static int mul(int a, int b) { return a * b; }
API const struct op plugin_ops[] = { { "add", add }, { "mul", mul } };
API int plugin_nops = 2;
API int plugin_attached;
static int constructed;
static __thread int calls;

__attribute__((constructor)) static void init(void) { constructed = 7; }

BOOL WINAPI DllMain(HINSTANCE h, DWORD reason, LPVOID reserved) {
  (void)h; (void)reserved;
  if (reason == DLL_PROCESS_ATTACH) plugin_attached++;
  return TRUE;
}

API int plugin_apply(const char *name, int a, int b) {
  calls++;
  for (int i = 0; i < plugin_nops; i++) {
    const char *p = plugin_ops[i].name, *q = name;
    while (*p && *p == *q) p++, q++;
    if (*p == *q) return plugin_ops[i].fn(a, b);
  }
  return -1;
}

API int plugin_state(void) { return constructed * 100 + calls; }
