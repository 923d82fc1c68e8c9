/* Benchmark workload (doc/benchmarks.md): a small program on Debian's liblua5.4.a. */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdio.h>

static const char script[] =
    "local t = {}\n"
    "for i = 1, 1000 do t[#t + 1] = string.format('%04d', (i * 7919) % 1000) end\n"
    "table.sort(t)\n"
    "local s = 0\n"
    "for _, v in ipairs(t) do s = s + tonumber(v) end\n"
    "print(#t, s, t[1], t[#t], math.floor(math.sqrt(s)), string.rep('ab', 3))\n"
    "print(select('#', string.byte('hello', 1, -1)), ('x'):upper(), utf8.char(72, 105))\n";

int main(void) {
  lua_State *L = luaL_newstate();
  if (!L) return 1;
  luaL_openlibs(L);
  if (luaL_dostring(L, script) != LUA_OK) {
    printf("error: %s\n", lua_tostring(L, -1));
    return 1;
  }
  lua_close(L);
  return 0;
}
