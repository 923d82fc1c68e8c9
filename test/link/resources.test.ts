/**
 * Compiled resource files (`.res`) as lld-link inputs: llvm-rc compiles a
 * string table, RCDATA and a named resource type, tslink-link and lld-link
 * link them into a freestanding program that reads them back through
 * user32 and kernel32, run under Wine; and merged with the resources of two
 * windres objects into one tree. (MinGW's windres objects and `.res`
 * files: test/link/mingw.test.ts.)
 */
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describeExit, exec, repoRoot, requireToolsOrSkip, tmpDir, tool } from '../support/toolchain.js';
import { wine } from '../support/wine.js';

const TSLINK_LINK = path.join(repoRoot(), 'bin', 'tslink-link');
const TSLINK = path.join(repoRoot(), 'bin', 'tslink.js');

const RC = `STRINGTABLE
BEGIN
  7 "seven chars"
  8 "eight"
END
100 RCDATA { "DATA-ONE\\0" }
NAMED CUSTOMTYPE { "custom resource\\0" }
`;
/** Exits with 11 (the length of string 7) * 10 + 5 (string 8) + 1 if both other resources are found. */
const MAIN_C = `typedef void *HANDLE;
__declspec(dllimport) HANDLE __stdcall GetModuleHandleA(const char *);
__declspec(dllimport) int __stdcall LoadStringA(HANDLE, unsigned, char *, int);
__declspec(dllimport) HANDLE __stdcall FindResourceA(HANDLE, const char *, const char *);
__declspec(dllimport) void __stdcall ExitProcess(unsigned);
void mainCRTStartup(void) {
  char buf[32];
  HANDLE self = GetModuleHandleA(0);
  int a = LoadStringA(self, 7, buf, sizeof buf), b = LoadStringA(self, 8, buf, sizeof buf);
  int found = FindResourceA(self, (const char *)100, (const char *)10) && FindResourceA(self, "NAMED", "CUSTOMTYPE");
  ExitProcess(a * 10 + b + found);
}
`;

/** Exits with the number of RCDATA resources 100, 300 and 301 it finds. */
const COUNT_C = `typedef void *HANDLE;
__declspec(dllimport) HANDLE __stdcall FindResourceA(HANDLE, const char *, const char *);
__declspec(dllimport) void __stdcall ExitProcess(unsigned);
void mainCRTStartup(void) {
  unsigned n = 0;
  for (unsigned long id = 100; id <= 301; id++) n += FindResourceA(0, (const char *)id, (const char *)10) != 0;
  ExitProcess(n);
}
`;

describe('.res files (llvm-rc) linked by tslink-link and lld-link, run under Wine', function () {
  this.timeout(300_000);
  let dir = '';
  const w = (...p: string[]) => path.join(dir, ...p);

  before(async function () {
    await requireToolsOrSkip(this, ['clang', 'lld-link', 'ld.lld', 'llvm-rc', 'llvm-dlltool', 'x86_64-w64-mingw32-windres', 'wine']);
    dir = tmpDir('tslink-res-');
    fs.writeFileSync(w('app.rc'), RC);
    fs.writeFileSync(w('main.c'), MAIN_C);
    fs.writeFileSync(w('count.c'), COUNT_C);
    fs.writeFileSync(w('one.rc'), '300 RCDATA { "ONE\\0" }\n');
    fs.writeFileSync(w('two.rc'), '301 RCDATA { "TWO\\0" }\n');
    fs.writeFileSync(w('kernel32.def'), 'LIBRARY kernel32.dll\nEXPORTS\n  GetModuleHandleA\n  FindResourceA\n  ExitProcess\n');
    fs.writeFileSync(w('user32.def'), 'LIBRARY user32.dll\nEXPORTS\n  LoadStringA\n');
    await Promise.all([
      tool('llvm-rc', ['/fo', 'app.res', 'app.rc'], { cwd: dir }),
      tool('clang', ['--target=x86_64-windows-msvc', '-O1', '-c', 'main.c', '-o', 'main.obj'], { cwd: dir }),
      tool('clang', ['--target=x86_64-windows-msvc', '-O1', '-c', 'count.c', '-o', 'count.obj'], { cwd: dir }),
      tool('llvm-dlltool', ['-m', 'i386:x86-64', '-d', 'kernel32.def', '-l', 'kernel32.lib'], { cwd: dir }),
      tool('llvm-dlltool', ['-m', 'i386:x86-64', '-d', 'user32.def', '-l', 'user32.lib'], { cwd: dir }),
    ]);
    for (const rc of ['one', 'two']) await tool('x86_64-w64-mingw32-windres', [`${rc}.rc`, '-O', 'coff', '-o', `${rc}.o`], { cwd: dir });
  });

  after(() => {
    if (dir && process.env.TSLINK_KEEP_TMP !== '1') fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a string table, RCDATA and a named type: the same resource tree as lld-link\'s, found at run time', async () => {
    const args = (out: string) => [`/out:${out}`, '/entry:mainCRTStartup', '/subsystem:console', 'main.obj', 'app.res', 'kernel32.lib', 'user32.lib'];
    const rl = await exec('lld-link', args('lld.exe'), { cwd: dir });
    expect(rl.status, rl.stderr).to.equal(0);
    const rt = await exec(process.execPath, [TSLINK_LINK, ...args('ts.exe')], { cwd: dir });
    expect(rt.status, rt.stderr).to.equal(0);
    // The tree (types, names, languages, sizes), without the addresses.
    const tree = async (exe: string) => (await tool('llvm-readobj', ['--coff-resources', w(exe)]))
      .replace(/^File: .*$/m, '').replace(/(Base Table Address|DataRVA): 0x[0-9A-F]+/g, '$1');
    expect(await tree('ts.exe')).to.equal(await tree('lld.exe'));
    for (const exe of ['lld.exe', 'ts.exe']) {
      const r = await wine(w(exe));
      expect(r.status, `${exe}: ${describeExit(r)}`).to.equal(116);
    }
  });

  // lld-link refuses a second object with resources; ld.lld's MinGW mode merges them all (tslink does in both).
  it('one tree from a .res file and two objects with resource sections (windres), as ld.lld -m i386pep merges them', async () => {
    const args = (out: string) => ['-m', 'i386pep', '--entry', 'mainCRTStartup', '-o', out, 'count.obj', 'app.res', 'one.o', 'two.o', 'kernel32.lib'];
    const rl = await exec('ld.lld', args('lld2.exe'), { cwd: dir });
    expect(rl.status, rl.stderr).to.equal(0);
    const rt = await exec(process.execPath, [TSLINK, ...args('ts2.exe')], { cwd: dir });
    expect(rt.status, rt.stderr).to.equal(0);
    for (const exe of ['lld2.exe', 'ts2.exe']) {
      const r = await wine(w(exe));
      expect(r.status, `${exe}: ${describeExit(r)}`).to.equal(3);
    }
  });
});
