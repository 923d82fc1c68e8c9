/**
 * PE DLLs: linked by tslink and by lld, used by programs under Wine.
 *
 * - MinGW (test/dll): a DLL exporting functions and data with
 *   `__declspec(dllexport)`, with DllMain, a constructor and a thread-local,
 *   based at the program's own address so that Wine must relocate it; its
 *   import library (`--out-implib`) links the host program. Every mix is
 *   run: tslink's DLL with lld's program and the reverse, each linked
 *   against the other linker's import library.
 * - MinGW auto-export: a DLL that names no export exports every global of
 *   its own objects (not the C runtime's), as with ld.lld.
 * - lld-link style: a freestanding DLL (`/dll /noentry`) whose exports come
 *   from a module-definition file (by name, by ordinal, NONAME, DATA) and
 *   `/export:`; the import library tslink writes links a program that runs.
 * - A module-definition file's renamed export, forwarder (run: the program
 *   reaches kernel32 through it), BASE=, HEAPSIZE, STACKSIZE, VERSION.
 * - Incremental: an edit of the DLL is patched; the old program still
 *   runs against it, with the new behaviour.
 * - dllimport declarations linked with the definitions instead of a DLL:
 *   the pointer lld makes, and its warning.
 * - Errors: an export of an undefined symbol; a malformed .def line.
 */
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describeExit, exec, repoRoot, requireToolsOrSkip, tmpDir, tool, type ExecResult } from '../support/toolchain.js';
import { mingwGccLibDir, wine } from '../support/wine.js';

const ROOT = repoRoot();
const TSLINK = path.join(ROOT, 'bin', 'tslink.js');
const TSLINK_LINK = path.join(ROOT, 'bin', 'tslink-link');
const SRC = path.join(ROOT, 'test', 'dll');
const TARGET = '--target=x86_64-w64-mingw32';

const MATHLIB_C = `int ml_version = 3;
int ml_square(int x) { return x * x; }
int ml_cube(int x) { return x * x * x; }
int ml_secret(void) { return 5; }
int ml_negate(int x) { return -x; }
`;
const MATHLIB_DEF = `; exports of mathlib.dll
LIBRARY mathlib
EXPORTS
  ml_square
  ml_cube @7
  ml_secret @9 NONAME
  ml_version DATA
`;
/** dllimport declarations, linked with the definitions instead of a DLL (lld: LNK4217, a local pointer). */
const LOCAL_USE_C = `#include <stdio.h>
__declspec(dllimport) int lib_value(void);
__declspec(dllimport) extern int lib_counter;
__declspec(dllimport) extern const char *lib_names[];
int main(void) { printf("%d %d %s\\n", lib_value(), ++lib_counter, lib_names[1]); return 0; }
`;
const LOCAL_DEF_C = `int lib_counter = 41;
int lib_value(void) { return 7; }
const char *lib_names[] = { "zero", "one" };
`;
const KERNEL32_DEF = 'LIBRARY kernel32.dll\nEXPORTS\n  ExitProcess\n  GetTickCount\n';
/** A renamed export (spaced `=`), a forwarder to kernel32, and the header settings a .def file can make. */
const FWD_DEF = `LIBRARY fwdlib BASE=268435456
HEAPSIZE 2097152
STACKSIZE 3145728,8192
VERSION 1.2
EXPORTS
  square = ml_square
  Tick = kernel32.GetTickCount
`;
/** Exits with 25 + 1: square(5) from the DLL, and kernel32's GetTickCount reached through the DLL's forwarder. */
const FWDHOST_C = `__declspec(dllimport) int square(int);
__declspec(dllimport) unsigned long __stdcall Tick(void);
__declspec(dllimport) void __stdcall ExitProcess(unsigned);
void mainCRTStartup(void) { ExitProcess(square(5) + (Tick() != 0)); }
`;
/** Exits with 4 + 27 + 3 - 1 = 33 through kernel32 (no C runtime). */
const MATHHOST_C = `__declspec(dllimport) int ml_square(int);
__declspec(dllimport) int ml_cube(int);
__declspec(dllimport) int ml_negate(int);
__declspec(dllimport) extern int ml_version;
__declspec(dllimport) void __stdcall ExitProcess(unsigned);
void mainCRTStartup(void) { ExitProcess(ml_square(2) + ml_cube(3) + ml_version + ml_negate(1)); }
`;

describe('PE DLLs (tslink vs lld), run under Wine', function () {
  this.timeout(600_000);
  let dir = '';
  let libDir = '';
  const w = (...p: string[]) => path.join(dir, ...p);

  before(async function () {
    await requireToolsOrSkip(this, ['clang', 'ld.lld', 'lld-link', 'llvm-dlltool', 'llvm-readobj', 'wine']);
    const lib = mingwGccLibDir();
    if (!lib) this.skip();
    libDir = lib!;
    dir = tmpDir('tslink-dll-');
    for (const f of fs.readdirSync(SRC)) fs.copyFileSync(path.join(SRC, f), w(f));
    const files: Record<string, string> = { 'mathlib.c': MATHLIB_C, 'mathlib.def': MATHLIB_DEF, 'kernel32.def': KERNEL32_DEF, 'mathhost.c': MATHHOST_C,
      'local_use.c': LOCAL_USE_C, 'local_def.c': LOCAL_DEF_C,
      'fwd.def': FWD_DEF, 'fwdhost.c': FWDHOST_C };
    for (const [name, text] of Object.entries(files)) fs.writeFileSync(w(name), text);
    for (const v of ['lld', 'ts']) fs.mkdirSync(w(v));
    await Promise.all([
      ok('clang', [TARGET, '-O2', '-DBUILDING_PLUGIN', '-c', 'plugin.c', '-o', 'plugin.o']),
      ok('clang', [TARGET, '-O2', '-c', 'host.c', '-o', 'host.o']),
      ok('clang', [TARGET, '-O2', '-c', 'util.c', '-o', 'util.o']),
      ok('clang', ['--target=x86_64-windows-msvc', '-O1', '-c', 'mathlib.c', '-o', 'mathlib.obj']),
      ok('clang', ['--target=x86_64-windows-msvc', '-O1', '-c', 'mathhost.c', '-o', 'mathhost.obj']),
      ok('clang', ['--target=x86_64-windows-msvc', '-O1', '-c', 'fwdhost.c', '-o', 'fwdhost.obj']),
      ok('llvm-dlltool', ['-m', 'i386:x86-64', '-d', 'kernel32.def', '-l', 'kernel32.lib']),
      ok('clang', [TARGET, '-O1', '-c', 'local_use.c', '-o', 'local_use.o']),
      ok('clang', [TARGET, '-O1', '-c', 'local_def.c', '-o', 'local_def.o']),
    ]);
  });

  after(() => {
    if (dir && process.env.TSLINK_KEEP_TMP !== '1') fs.rmSync(dir, { recursive: true, force: true });
    else if (dir) console.log(`      kept ${dir}`);
  });

  async function ok(cmd: string, args: string[]): Promise<ExecResult> {
    const r = await exec(cmd, args, { cwd: dir, timeoutMs: 180_000 });
    expect(r.stderr, `${cmd}: a JavaScript stack trace`).to.not.match(/^\s{4}at /m);
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${describeExit(r)}): ${r.stderr}`);
    return r;
  }

  /** clang's MinGW driver with ld.lld or tslink. */
  const mingw = (linker: 'lld' | 'ts', args: string[]) =>
    ok('clang', [TARGET, `-L${libDir}`, linker === 'lld' ? '-fuse-ld=lld' : `--ld-path=${TSLINK}`, ...args]);

  /** `ORDINAL NAME` of each export with an address (lld's table also lists empty slots from ordinal 0). */
  async function exportList(file: string): Promise<string[]> {
    return (await tool('llvm-readobj', ['--coff-exports', w(file)])).split('Export {').slice(1)
      .map((e) => ({ ordinal: /Ordinal: (\d+)/.exec(e)![1], name: /Name: (\S*)/.exec(e)?.[1] ?? '', rva: /RVA: (0x[0-9A-F]+)/.exec(e)?.[1] ?? '' }))
      .filter((e) => e.rva !== '0x0').map((e) => `${e.ordinal} ${e.name}`.trim()).sort();
  }

  async function exportNames(file: string): Promise<string[]> {
    const text = await tool('llvm-readobj', ['--coff-exports', w(file)]);
    return text.split('\n').filter((l) => /^\s*Name: \S/.test(l)).map((l) => l.trim().slice(6)).sort();
  }

  const EXPECTED = 'add=42 mul=42 none=-1 ops=2 first=add attached=1 state=703\n';

  it('MinGW: a DLL with dllexport, DllMain, a constructor and TLS, relocated by the loader; every linker mix runs alike', async () => {
    for (const v of ['lld', 'ts'] as const) {
      // Based at 0x140000000, where the program is: Wine must apply the DLL's base relocations.
      await mingw(v, ['-shared', 'plugin.o', '-o', `${v}/plugin.dll`, `-Wl,--out-implib,${v}/libplugin.dll.a`, '-Wl,--image-base,0x140000000']);
    }
    expect(await exportNames('ts/plugin.dll')).to.deep.equal(await exportNames('lld/plugin.dll'));
    expect(await exportNames('ts/plugin.dll')).to.deep.equal(['plugin_apply', 'plugin_attached', 'plugin_nops', 'plugin_ops', 'plugin_state']);
    const header = await tool('llvm-readobj', ['--file-headers', w('ts/plugin.dll')]);
    expect(header).to.match(/IMAGE_FILE_DLL/);
    // Each program against each import library, next to each DLL.
    for (const dll of ['lld', 'ts']) {
      for (const [exeLinker, implib] of [['lld', 'ts'], ['ts', 'lld'], ['ts', 'ts']] as const) {
        const sub = `run-${dll}-${exeLinker}-${implib}`;
        fs.mkdirSync(w(sub), { recursive: true });
        fs.copyFileSync(w(dll, 'plugin.dll'), w(sub, 'plugin.dll'));
        await mingw(exeLinker, ['host.o', `-L${implib}`, '-lplugin', '-o', `${sub}/host.exe`]);
        const r = await wine(w(sub, 'host.exe'));
        expect({ status: r.status, stdout: r.stdout.replace(/\r\n/g, '\n') }, `${sub}: ${r.stderr}`).to.deep.equal({ status: 0, stdout: EXPECTED });
      }
    }
  });

  it('MinGW: a DLL that names no export exports every global of its own objects', async () => {
    for (const v of ['lld', 'ts'] as const) await mingw(v, ['-shared', 'util.o', '-o', `${v}/util.dll`]);
    const names = await exportNames('ts/util.dll');
    expect(names).to.deep.equal(await exportNames('lld/util.dll'));
    expect(names).to.include.members(['util_twice', 'util_counter', 'util_name', 'util_hidden_user']);
  });

  it('lld-link style: /dll /noentry with a .def file (ordinals, NONAME, DATA) and /export:; the import library links a program', async () => {
    const args = (v: string) => ['/dll', '/noentry', '/def:mathlib.def', '/export:ml_negate', `/out:${v}/mathlib.dll`, `/implib:${v}/mathlib.lib`, 'mathlib.obj'];
    await ok('lld-link', args('lld'));
    await ok(process.execPath, [TSLINK_LINK, ...args('ts')]);
    expect(await exportList('ts/mathlib.dll')).to.deep.equal(await exportList('lld/mathlib.dll'));
    expect(await exportList('ts/mathlib.dll')).to.deep.equal(['10 ml_negate', '11 ml_square', '12 ml_version', '7 ml_cube', '9']);
    for (const v of ['lld', 'ts']) {
      await ok(process.execPath, [TSLINK_LINK, '/entry:mainCRTStartup', '/subsystem:console', `/out:${v}/mathhost.exe`, 'mathhost.obj', `${v}/mathlib.lib`, 'kernel32.lib']);
      const r = await wine(w(v, 'mathhost.exe'));
      expect(r.status, `${v}: ${describeExit(r)} ${r.stderr}`).to.equal(33);
    }
  });

  it('a .def file\'s renamed export, forwarder to another DLL, BASE=, HEAPSIZE, STACKSIZE and VERSION, as lld-link has them', async () => {
    const args = (v: string) => ['/dll', '/noentry', '/def:fwd.def', `/out:${v}/fwdlib.dll`, 'mathlib.obj'];
    await ok('lld-link', args('lld'));
    await ok(process.execPath, [TSLINK_LINK, ...args('ts')]);
    expect(await exportList('ts/fwdlib.dll')).to.deep.equal(await exportList('lld/fwdlib.dll'));
    expect(await exportList('ts/fwdlib.dll')).to.deep.equal(['1 Tick', '2 square']);
    const forwarders = async (f: string) => (await tool('llvm-objdump', ['-p', w(f)])).split('\n').filter((l) => /forwarded to/.test(l)).map((l) => l.trim());
    expect(await forwarders('ts/fwdlib.dll')).to.deep.equal(await forwarders('lld/fwdlib.dll'));
    expect((await forwarders('ts/fwdlib.dll')).join('\n')).to.match(/Tick \(forwarded to kernel32\.GetTickCount\)/);
    const fields = async (f: string) => (await tool('llvm-readobj', ['--file-headers', w(f)])).split('\n')
      .filter((l) => /ImageBase|ImageVersion|SizeOf(Stack|Heap)/.test(l)).map((l) => l.trim());
    expect(await fields('ts/fwdlib.dll')).to.deep.equal(await fields('lld/fwdlib.dll'));
    expect(await fields('ts/fwdlib.dll')).to.include.members(['ImageBase: 0x10000000', 'MajorImageVersion: 1', 'MinorImageVersion: 2', 'SizeOfStackCommit: 8192']);
    await ok(process.execPath, [TSLINK_LINK, '/entry:mainCRTStartup', '/subsystem:console', '/out:ts/fwdhost.exe', 'fwdhost.obj', 'ts/fwdlib.lib', 'kernel32.lib']);
    const r = await wine(w('ts', 'fwdhost.exe'));
    expect(r.status, `${describeExit(r)} ${r.stderr}`).to.equal(26);
  });

  it('incremental: an edit of the DLL is patched, and the program runs against it unchanged', async () => {
    fs.mkdirSync(w('inc'), { recursive: true });
    const link = () => mingw('ts', ['-shared', 'plugin.o', '-o', 'inc/plugin.dll', '-Wl,--out-implib,inc/libplugin.dll.a', '-Wl,--incremental,--explain']);
    const first = await link();
    expect(first.stdout + first.stderr).to.match(/\bfull\b/);
    await mingw('ts', ['host.o', '-Linc', '-lplugin', '-o', 'inc/host.exe']);
    fs.writeFileSync(w('plugin.edit.c'), fs.readFileSync(w('plugin.c'), 'utf8').replace('constructed = 7', 'constructed = 9'));
    await ok('clang', [TARGET, '-O2', '-DBUILDING_PLUGIN', '-c', 'plugin.edit.c', '-o', 'plugin.o']);
    fs.rmSync(w('inc', 'libplugin.dll.a'));
    const second = await link();
    expect(second.stdout + second.stderr).to.match(/\bpatched\b/);
    expect(fs.existsSync(w('inc', 'libplugin.dll.a')), 'the import library is written after a patch too').to.equal(true);
    const r = await wine(w('inc', 'host.exe'));
    expect(r.stdout.replace(/\r\n/g, '\n')).to.equal(EXPECTED.replace('state=703', 'state=903'));
  });

  it('dllimport declarations linked with the definitions: a local import pointer and lld\'s warning', async () => {
    for (const v of ['lld', 'ts'] as const) {
      const r = await mingw(v, ['local_use.o', 'local_def.o', '-o', `${v}/local.exe`]);
      expect(r.stderr, v).to.match(/local_use\.o: locally defined symbol imported: lib_(value|counter|names) \(defined in local_def\.o\) \[LNK4217\]/);
      const run = await wine(w(v, 'local.exe'));
      expect({ status: run.status, stdout: run.stdout.replace(/\r\n/g, '\n') }, v).to.deep.equal({ status: 0, stdout: '7 42 one\n' });
    }
  });

  it('errors: an export nothing defines; a malformed module-definition file', async () => {
    const run = (args: string[]) => exec(process.execPath, [TSLINK_LINK, ...args], { cwd: dir });
    const undef = await run(['/dll', '/noentry', '/export:nowhere', '/out:bad.dll', 'mathlib.obj']);
    expect(undef.status).to.equal(1);
    expect(undef.stderr).to.equal('tslink: error: undefined symbol: nowhere (exported)\n');
    fs.writeFileSync(w('bad.def'), 'LIBRARY bad\nEXPORTS\n  ml_square @0\n');
    const def = await run(['/dll', '/noentry', '/def:bad.def', '/out:bad.dll', 'mathlib.obj']);
    expect(def.status).to.equal(1);
    expect(def.stderr).to.equal("tslink: error: bad.def:3: export 'ml_square': the ordinal must be 1 to 65535, not '0'\n");
  });
});
