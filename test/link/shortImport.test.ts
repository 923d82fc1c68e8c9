/**
 * Short import libraries: what lld-link, llvm-dlltool and Microsoft's LIB
 * write for a DLL's exports (one small member per symbol, no code), in place
 * of MinGW's long-format stubs.
 *
 * - A freestanding program compiled for x86_64-windows-msvc imports from
 *   kernel32.dll and msvcrt.dll through import libraries llvm-dlltool makes
 *   from .def files: functions called through `__declspec(dllimport)` and
 *   through the thunk (no dllimport), and a variable (`_fmode`, DATA). It is
 *   linked by tslink-link and lld-link, run under Wine: the same output and
 *   status, and the same import tables (llvm-readobj --coff-imports).
 * - Imports by ordinal and by name with a hint: the same import tables as
 *   lld-link's (not run: the DLL does not exist). The name types that
 *   strip decorations are checked on members made here.
 * - Incremental: an edit of the program is patched; a rebuilt import
 *   library falls back, saying why; both run.
 * - Malformed members: one error line naming the member.
 */
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describeExit, exec, repoRoot, requireTools, tmpDir, tool, type ExecResult } from '../support/toolchain.js';
import { wine } from '../support/wine.js';
import { readCoffObject } from '../../src/obj/readCoff.js';

const ROOT = repoRoot();
const BIN_LINK = path.join(ROOT, 'bin', 'tslink-link');

const KERNEL32_DEF = `LIBRARY kernel32.dll
EXPORTS
  GetStdHandle
  WriteFile
  ExitProcess
`;
const MSVCRT_DEF = `LIBRARY msvcrt.dll
EXPORTS
  _fmode DATA
  strlen
  sprintf
`;

/** Exits with 7 when sprintf's count agrees with strlen; prints what it computed and msvcrt's _fmode. */
const MAIN_C = `typedef void *HANDLE;
__declspec(dllimport) HANDLE __stdcall GetStdHandle(unsigned long);
__declspec(dllimport) int __stdcall WriteFile(HANDLE, const void *, unsigned long, unsigned long *, void *);
void __stdcall ExitProcess(unsigned);
unsigned long long strlen(const char *);
int sprintf(char *, const char *, ...);
__declspec(dllimport) extern int _fmode;
extern int (*volatile op)(int, int);
void mainCRTStartup(void) {
  char buf[64];
  int n = sprintf(buf, "VALUE %d fmode=%d\\n", op(40, 2), _fmode);
  unsigned long written;
  WriteFile(GetStdHandle((unsigned long)-11), buf, (unsigned long)strlen(buf), &written, 0);
  ExitProcess(n == (int)strlen(buf) ? 7 : 1);
}
`;
const UNIT_C = `static int add(int a, int b) { return a + b; }
int (*volatile op)(int, int) = add;
`;

const ORDINAL_DEF = `LIBRARY extra.dll
EXPORTS
  by_ordinal @5 NONAME
  by_name @9
`;
const ORDINAL_C = `__declspec(dllimport) int by_ordinal(void);
int by_name(void);
int mainCRTStartup(void) { return by_ordinal() + by_name(); }
`;

async function whyNotHere(): Promise<string | null> {
  try {
    await requireTools(['clang', 'lld-link', 'llvm-dlltool', 'llvm-readobj']);
  } catch (e) {
    return (e as Error).message;
  }
  const wine = await exec('wine', ['--version']).catch(() => null);
  return wine && wine.status === 0 ? null : 'wine is not installed (install wine64)';
}

describe('short import libraries (llvm-dlltool, lld-link, LIB)', function () {
  this.timeout(600_000);
  let work = '';
  const w = (...p: string[]) => path.join(work, ...p);

  before(async function () {
    const why = await whyNotHere();
    if (why) {
      console.warn(`      skipped: ${why}`);
      this.skip();
    }
    work = tmpDir('tslink-short-import');
    const files: Record<string, string> = {
      'kernel32.def': KERNEL32_DEF, 'msvcrt.def': MSVCRT_DEF, 'main.c': MAIN_C, 'unit.c': UNIT_C, 'extra.def': ORDINAL_DEF, 'ord.c': ORDINAL_C,
    };
    for (const [name, text] of Object.entries(files)) fs.writeFileSync(w(name), text);
    await Promise.all([
      ...['kernel32', 'msvcrt', 'extra'].map((l) => tool('llvm-dlltool', ['-m', 'i386:x86-64', '-d', `${l}.def`, '-l', `${l}.lib`], { cwd: work })),
      ...['main', 'unit', 'ord'].map((c) => tool('clang', ['--target=x86_64-windows-msvc', '-O1', '-c', `${c}.c`, '-o', `${c}.obj`], { cwd: work })),
    ]);
  });

  after(() => {
    if (work && process.env.TSLINK_KEEP_TMP !== '1') fs.rmSync(work, { recursive: true, force: true });
    else if (work) console.log(`      kept ${work}`);
  });

  const args = (out: string, objs = ['main.obj', 'unit.obj'], libs = ['kernel32.lib', 'msvcrt.lib']) =>
    [`/out:${out}`, '/entry:mainCRTStartup', '/subsystem:console', '/nodefaultlib', ...objs, ...libs];

  async function tslinkLink(argv: string[]): Promise<ExecResult> {
    const r = await exec(process.execPath, [BIN_LINK, ...argv], { cwd: work, timeoutMs: 180_000 });
    expect(r.stderr, 'a JavaScript stack trace').to.not.match(/^\s{4}at /m);
    return r;
  }

  async function imports(exe: string): Promise<string> {
    return (await tool('llvm-readobj', ['--coff-imports', exe], { cwd: work })).replace(/^File: .*$/m, '');
  }

  function expectRun(r: ExecResult, what: string): void {
    expect(r.status, `${what}: ${describeExit(r)}, stdout ${JSON.stringify(r.stdout)}, stderr ${JSON.stringify(r.stderr)}`).to.equal(7);
    expect(r.stdout.replace(/\r\n/g, '\n'), what).to.match(/^VALUE 42 fmode=\d+\n$/);
  }

  it('links functions (through dllimport and through the thunk) and data from two DLLs, and runs as lld-link\'s image', async () => {
    const rl = await exec('lld-link', args('lld.exe'), { cwd: work });
    expect(rl.status, `lld-link: ${rl.stderr}`).to.equal(0);
    const rt = await tslinkLink(args('ts.exe'));
    expect(rt.status, `tslink-link: ${rt.stderr}`).to.equal(0);
    expect(await imports('ts.exe')).to.equal(await imports('lld.exe'));
    const [ts, ref] = [await wine(w('ts.exe')), await wine(w('lld.exe'))];
    expectRun(ref, 'lld-link\'s image');
    expectRun(ts, 'tslink\'s image');
    expect(ts.stdout).to.equal(ref.stdout);
  });

  it('imports by ordinal, by name with a hint, as lld-link does', async () => {
    const ordArgs = (out: string) => args(out, ['ord.obj'], ['extra.lib']);
    const rl = await exec('lld-link', ordArgs('ord.lld.exe'), { cwd: work });
    expect(rl.status, `lld-link: ${rl.stderr}`).to.equal(0);
    const rt = await tslinkLink(ordArgs('ord.ts.exe'));
    expect(rt.status, `tslink-link: ${rt.stderr}`).to.equal(0);
    const ours = await imports('ord.ts.exe');
    expect(ours).to.equal(await imports('ord.lld.exe'));
    expect(ours).to.contain('Symbol:  (5)').and.contain('Symbol: by_name (9)');
  });

  it('patches an edit of the program, falls back when an import library is rebuilt, and both images run', async () => {
    const inc = [...args('inc.exe'), '/incremental', '--explain'];
    const first = await tslinkLink(inc);
    expect(first.status, first.stderr).to.equal(0);
    fs.writeFileSync(w('unit.c'), UNIT_C.replace('a + b', 'a + b + 1'));
    await tool('clang', ['--target=x86_64-windows-msvc', '-O1', '-c', 'unit.c', '-o', 'unit.obj'], { cwd: work });
    const edited = await tslinkLink(inc);
    expect(edited.status, edited.stderr).to.equal(0);
    expect(edited.stdout + edited.stderr).to.match(/\bpatched\b/);
    const r1 = await wine(w('inc.exe'));
    expect(r1.status, describeExit(r1)).to.equal(7);
    expect(r1.stdout).to.match(/^VALUE 43 /);

    // The same exports, another order: another library with every member named msvcrt.dll.
    fs.writeFileSync(w('msvcrt.def'), MSVCRT_DEF.replace('  strlen\n  sprintf\n', '  sprintf\n  strlen\n'));
    await tool('llvm-dlltool', ['-m', 'i386:x86-64', '-d', 'msvcrt.def', '-l', 'msvcrt.lib'], { cwd: work });
    const relib = await tslinkLink(inc);
    expect(relib.status, relib.stderr).to.equal(0);
    expect(relib.stdout + relib.stderr).to.match(/fell-back-full/).and.match(/msvcrt\.lib/);
    const r2 = await wine(w('inc.exe'));
    expect(r2.status, describeExit(r2)).to.equal(7);
    expect(r2.stdout).to.match(/^VALUE 43 /);
  });

  it('a changed PE option (/subsystem) is a full link, not a patch that keeps the old header', async () => {
    const first = await tslinkLink([...args('opt.exe'), '/incremental', '--explain']);
    expect(first.status, first.stderr).to.equal(0);
    const again = await tslinkLink([...args('opt.exe').map((a) => a === '/subsystem:console' ? '/subsystem:windows' : a), '/incremental', '--explain']);
    expect(again.status, again.stderr).to.equal(0);
    expect(again.stdout).to.match(/fell-back-full: the link options changed \(pe\)/);
    expect(await tool('llvm-readobj', ['--file-headers', w('opt.exe')])).to.match(/Subsystem: IMAGE_SUBSYSTEM_WINDOWS_GUI/);
  });

  it('rejects malformed members with the member\'s name and what is wrong', () => {
    const member = (type: number, nameType: number, names: string) => {
      const text = new TextEncoder().encode(names);
      const b = new Uint8Array(20 + text.length);
      const v = new DataView(b.buffer);
      v.setUint16(2, 0xffff, true);
      v.setUint16(6, 0x8664, true);
      v.setUint32(12, text.length, true);
      v.setUint16(18, type | (nameType << 2), true);
      b.set(text, 20);
      return b;
    };
    const read = (b: Uint8Array) => () => readCoffObject('k.lib(k.dll)', b);
    expect(read(member(0, 1, 'f\0k.dll\0').subarray(0, 24))).to.throw(/k\.lib\(k\.dll\).*short import names \(8 bytes\)/);
    expect(read(member(3, 1, 'f\0k.dll\0'))).to.throw(/k\.lib\(k\.dll\).*'f' from 'k\.dll' has unknown import type 3/);
    expect(read(member(0, 6, 'f\0k.dll\0'))).to.throw(/unknown name type 6/);
    expect(read(member(0, 1, 'f\0k.dll'))).to.throw(/k\.lib\(k\.dll\).*DLL name/);
    const ok = readCoffObject('k.lib(k.dll)', member(0, 1, 'f\0k.dll\0'));
    expect(ok.dllImport).to.deep.include({ dll: 'k.dll', symbol: 'f', importName: 'f', ordinal: null });
    expect(ok.symbols.slice(ok.firstGlobal).map((s) => s.name)).to.deep.equal(['__imp_f', 'f']);
    // Name types 2 and 3: the DLL knows the name without its first decoration character, and undecorated without `@...`.
    expect(readCoffObject('k.lib(k.dll)', member(1, 2, '_var\0k.dll\0')).dllImport).to.deep.include({ symbol: '_var', importName: 'var', type: 1 });
    expect(readCoffObject('k.lib(k.dll)', member(0, 3, '_f@8\0k.dll\0')).dllImport).to.deep.include({ importName: 'f' });
    const data = readCoffObject('k.lib(k.dll)', member(1, 1, 'v\0k.dll\0'));
    expect(data.symbols.slice(data.firstGlobal).map((s) => s.name), 'data: no thunk').to.deep.equal(['__imp_v']);
  });
});
