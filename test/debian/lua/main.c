/*
 * A Lua 5.4 host linked with Debian's liblua5.4.a: the C API (state, stack,
 * registered C functions, userdata with a metatable, pcall from C, errors
 * raised from C through longjmp) and a script that exercises the standard
 * library: strings and patterns, tables and table.sort with a comparator,
 * closures, coroutines, integer and float arithmetic, string.format of
 * floats, pcall/error with error objects, goto, metatables, weak tables
 * emptied by the garbage collector, and string.pack.
 *
 * Lua seeds its string hashes from the clock and from addresses, so the
 * script never prints anything in pairs() order without sorting it first.
 * The exit status is the script's checksum, modulo 256.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

/* A C function called from Lua: sum of its numeric arguments, and their count. */
static int c_sum(lua_State *L) {
  int n = lua_gettop(L);
  lua_Number s = 0;
  for (int i = 1; i <= n; i++) s += luaL_checknumber(L, i);
  lua_pushnumber(L, s);
  lua_pushinteger(L, n);
  return 2;
}

/* Raises a Lua error from C (a longjmp back into lua_pcall). */
static int c_fail(lua_State *L) {
  return luaL_error(L, "c_fail called with %d", (int)luaL_checkinteger(L, 1));
}

/* A userdata type: a counter with :add(n) and :get(), and __tostring. */
typedef struct {
  long long value;
  int adds;
} Counter;

static int counter_new(lua_State *L) {
  Counter *c = lua_newuserdatauv(L, sizeof *c, 0);
  c->value = luaL_optinteger(L, 1, 0);
  c->adds = 0;
  luaL_setmetatable(L, "Counter");
  return 1;
}

static int counter_add(lua_State *L) {
  Counter *c = luaL_checkudata(L, 1, "Counter");
  c->value += luaL_checkinteger(L, 2);
  c->adds++;
  lua_settop(L, 1);
  return 1;
}

static int counter_get(lua_State *L) {
  Counter *c = luaL_checkudata(L, 1, "Counter");
  lua_pushinteger(L, c->value);
  return 1;
}

static int counter_tostring(lua_State *L) {
  Counter *c = luaL_checkudata(L, 1, "Counter");
  lua_pushfstring(L, "Counter(%d after %d adds)", (int)c->value, c->adds);
  return 1;
}

static const luaL_Reg counter_methods[] = {
    {"add", counter_add},
    {"get", counter_get},
    {"__tostring", counter_tostring},
    {NULL, NULL},
};

static const char SCRIPT[] =
    "local out = {}\n"
    "local function say(...) print(...) end\n"
    /* strings and patterns */
    "local s = 'The quick brown fox jumps over the lazy dog'\n"
    "local words = {}\n"
    "for w in s:gmatch('%a+') do words[#words + 1] = w:lower() end\n"
    "say('words', #words, table.concat(words, ','))\n"
    "say('upper/rep/sub', s:upper():sub(5, 9), ('ab'):rep(3, '-'), s:find('fox'))\n"
    "local swapped, n = s:gsub('(%w+) (%w+)', '%2 %1')\n"
    "say('gsub', swapped, n)\n"
    "say('byte/char', s:byte(1), string.char(76, 117, 97), #s, s:reverse():sub(1, 8))\n"
    /* tables, sort with a comparator, closures */
    "table.sort(words, function(a, b) if #a ~= #b then return #a > #b end return a < b end)\n"
    "say('sorted', table.concat(words, ' '))\n"
    "local freq = {}\n"
    "for c in s:lower():gmatch('%a') do freq[c] = (freq[c] or 0) + 1 end\n"
    "local keys = {}\n"
    "for k in pairs(freq) do keys[#keys + 1] = k end\n"
    "table.sort(keys, function(a, b) if freq[a] ~= freq[b] then return freq[a] > freq[b] end return a < b end)\n"
    "local top = {}\n"
    "for i = 1, 5 do top[i] = keys[i] .. '=' .. freq[keys[i]] end\n"
    "say('letters', #keys, table.concat(top, ' '))\n"
    "local function counter(step) local n = 0 return function() n = n + step return n end end\n"
    "local c3, c7 = counter(3), counter(7)\n"
    "c3() c3() c7()\n"
    "say('closures', c3(), c7(), c3())\n"
    /* integers, floats, string.format */
    "say('ints', 7 // 2, -7 // 2, 7 % -3, 2^10, 1 << 40, math.maxinteger, math.tointeger(3.0))\n"
    "say('floats', 7 / 2, 1e300 * 1e10, -0.0, math.pi, 0.1 + 0.2)\n"
    "say(string.format('format %.3f %10.4e %g %g %5.1f%% %x %q', math.pi, 12345.6789, 1e-5, 2^53, 99.95, 48879, 'a\\nb'))\n"
    "local acc = 0.0\n"
    "for i = 1, 1000 do acc = acc + math.sin(i) * math.sqrt(i) end\n"
    "say(string.format('series %.6f floor %d fmod %.2f', acc, math.floor(-2.5), math.fmod(7.5, 2)))\n"
    /* coroutines */
    "local gen = coroutine.wrap(function() local a, b = 0, 1 for _ = 1, 12 do coroutine.yield(a) a, b = b, a + b end end)\n"
    "local fib = {}\n"
    "for _ = 1, 12 do fib[#fib + 1] = gen() end\n"
    "say('fib', table.concat(fib, ' '))\n"
    "local co = coroutine.create(function(x) local y = coroutine.yield(x * 2) error({code = y}) end)\n"
    "local ok1, v1 = coroutine.resume(co, 21)\n"
    "local ok2, e2 = coroutine.resume(co, 5)\n"
    "say('coroutine', ok1, v1, ok2, type(e2), e2.code, coroutine.status(co))\n"
    /* pcall / error */
    "local ok, err = pcall(error, 'plain message', 0)\n"
    "say('pcall', ok, err)\n"
    "ok, err = pcall(function() local t = nil return t.field end)\n"
    "say('nil index', ok, (err:gsub('^.-:%d+: ', '')))\n"
    "ok, err = pcall(error, setmetatable({}, {__tostring = function() return 'custom error object' end}))\n"
    "say('error object', ok, tostring(err))\n"
    "ok, err = pcall(c_fail, 42)\n"
    "say('from C', ok, err)\n"
    "say('xpcall', xpcall(function() error('deep', 0) end, function(m) return 'handled: ' .. m end))\n"
    /* C functions and userdata */
    "local total, count = c_sum(1, 2.5, 3, 4.25)\n"
    "say('c_sum', total, count)\n"
    "local ctr = Counter(10):add(5):add(-2):add(100)\n"
    "say('userdata', ctr:get(), tostring(ctr))\n"
    /* metatables */
    "local V = {}\n"
    "V.__index = V\n"
    "V.__add = function(a, b) return setmetatable({x = a.x + b.x, y = a.y + b.y}, V) end\n"
    "V.__eq = function(a, b) return a.x == b.x and a.y == b.y end\n"
    "V.__tostring = function(v) return '(' .. v.x .. ', ' .. v.y .. ')' end\n"
    "function V.len(v) return math.sqrt(v.x * v.x + v.y * v.y) end\n"
    "local a = setmetatable({x = 3, y = 4}, V)\n"
    "local b = a + setmetatable({x = 1, y = -1}, V)\n"
    "say('metatables', tostring(b), a:len(), b == setmetatable({x = 4, y = 3}, V))\n"
    /* goto, weak tables, string.pack, utf8 */
    "local i, odd = 0, {}\n"
    "::top:: i = i + 1\n"
    "if i % 2 == 1 then odd[#odd + 1] = i end\n"
    "if i < 9 then goto top end\n"
    "say('goto', table.concat(odd, ','))\n"
    "local weak = setmetatable({}, {__mode = 'k'})\n"
    "weak[{}] = 1 weak[{}] = 2\n"
    "local keep = {} weak[keep] = 3\n"
    "collectgarbage() collectgarbage()\n"
    "local left = 0 for _ in pairs(weak) do left = left + 1 end\n"
    "say('weak', left)\n"
    "local packed = string.pack('<i4 d s1', -2, 0.5, 'hi')\n"
    "say('pack', #packed, string.unpack('<i4 d s1', packed))\n"
    "say('utf8', utf8.len('h\\u{e9}llo w\\u{f6}rld'), utf8.char(72, 228, 8364))\n"
    /* a checksum of the above, returned to C */
    "local sum = 0\n"
    "for _, w in ipairs(words) do for k = 1, #w do sum = sum + w:byte(k) * k end end\n"
    "return sum + #fib + ctr:get()\n";

int main(void) {
  lua_State *L = luaL_newstate();
  if (!L) {
    fputs("cannot create a Lua state\n", stderr);
    return 100;
  }
  luaL_openlibs(L);
  lua_register(L, "c_sum", c_sum);
  lua_register(L, "c_fail", c_fail);
  luaL_newmetatable(L, "Counter");
  lua_pushvalue(L, -1);
  lua_setfield(L, -2, "__index");
  luaL_setfuncs(L, counter_methods, 0);
  lua_pop(L, 1);
  lua_register(L, "Counter", counter_new);

  printf("%s\n", LUA_RELEASE);
  if (luaL_loadbuffer(L, SCRIPT, sizeof SCRIPT - 1, "=script") != LUA_OK || lua_pcall(L, 0, 1, 0) != LUA_OK) {
    printf("script failed: %s\n", lua_tostring(L, -1));
    lua_close(L);
    return 101;
  }
  long long sum = (long long)lua_tointeger(L, -1);
  lua_pop(L, 1);

  /* A syntax error and a runtime error, reported to C. */
  int st = luaL_loadstring(L, "return 1 +");
  printf("syntax error: status %d, %s\n", st, lua_tostring(L, -1));
  lua_pop(L, 1);
  luaL_loadstring(L, "local t = setmetatable({}, {__index = function(_, k) error('no field ' .. k, 0) end}) return t.missing");
  st = lua_pcall(L, 0, 1, 0);
  printf("runtime error: status %d, %s\n", st, lua_tostring(L, -1));
  lua_pop(L, 1);

  printf("checksum %lld, stack top %d\n", sum, lua_gettop(L));
  lua_close(L);
  return (int)(sum % 256);
}
