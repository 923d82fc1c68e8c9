/**
 * tslink's two PE command lines, as users and compiler drivers meet them:
 *
 * - MinGW's GNU ld command line (`-m i386pep`): clang targeting
 *   x86_64-w64-mingw32 links a C program with the MinGW C runtime through
 *   `--ld-path=bin/tslink.js`, and again with `-fuse-ld=lld`; both run under
 *   Wine and must print the same and exit with the same status;
 * - lld-link's (`bin/tslink-link`, `tslink -flavor link`): a freestanding
 *   program compiled for x86_64-windows-msvc, linked with the same arguments
 *   by tslink and lld-link, run under Wine;
 * - errors: one `tslink: error: ...` line, exit status 1, no output file.
 *
 * The runs need clang, lld (ld.lld, lld-link), llvm-readobj, Wine and the
 * mingw-w64 sysroot (Debian's mingw-w64 package); without them those tests
 * are skipped, saying why. The first Wine run on a machine creates its
 * prefix, which takes a while: the timeouts are generous.
 */
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describeExit, exec, repoRoot, requireTools, requireToolsOrSkip, tmpDir, tool, type ExecResult } from '../support/toolchain.js';
import { mingwGccLibDir, wine } from '../support/wine.js';

const ROOT = repoRoot();
const BIN = path.join(ROOT, 'bin', 'tslink.js');
const BIN_LINK = path.join(ROOT, 'bin', 'tslink-link');
const MINGW = '/usr/x86_64-w64-mingw32';
const MINGW_LIB = path.join(MINGW, 'lib');
const KERNEL32 = path.join(MINGW_LIB, 'libkernel32.a');

/** A C program of two units using the C library: it prints, and its status is computed. */
const MAIN_C = `#include <stdio.h>
#include <stdlib.h>
#include <string.h>
extern int triangle(int n);
extern const char *greeting(void);
int main(void) {
  int *squares = malloc(16 * sizeof *squares);
  if (!squares) return 1;
  for (int i = 0; i < 16; i++) squares[i] = i * i;
  char *text = malloc(64);
  strcpy(text, greeting());
  int status = (triangle(12) + squares[7]) % 256;
  printf("%s: triangle(12) = %d, squares[7] = %d\\n", text, triangle(12), squares[7]);
  printf("status %d\\n", status);
  free(text);
  free(squares);
  return status;
}
`;
const UNIT_C = `int triangle(int n) { int s = 0; for (int i = 1; i <= n; i++) s += i; return s; }
const char *greeting(void) { return "hello from tslink"; }
`;
/** 78 + 49 */
const MAIN_STATUS = 127;

/** Freestanding (no C runtime): the entry point writes through kernel32 and returns the status. */
const FREE_MAIN_C = `typedef void *HANDLE;
__declspec(dllimport) HANDLE __stdcall GetStdHandle(unsigned long which);
__declspec(dllimport) int __stdcall WriteFile(HANDLE h, const void *buf, unsigned long n, unsigned long *done, void *overlapped);
extern int twice(int x);
static const char message[] = "freestanding main\\n";
int main(void) {
  unsigned long written = 0;
  WriteFile(GetStdHandle((unsigned long)-11), message, sizeof message - 1, &written, 0);
  return twice(21) + (int)written;
}
`;
const FREE_UNIT_C = 'int twice(int x) { return 2 * x; }\n';
/** 42 + 18 bytes written */
const FREE_STATUS = 60;

/** Header fields two linkers must agree on (llvm-readobj --file-headers). */
const HEADER_FIELDS = /^\s*(ImageBase|Major\w+Version|Minor\w+Version|Subsystem|SizeOfStack\w+|SizeOfHeap\w+|IMAGE_DLL_CHARACTERISTICS_\w+|IMAGE_FILE_\w+)\b/;

async function haveWine(): Promise<boolean> {
  const r = await exec('wine', ['--version']).catch(() => null);
  return !!r && r.status === 0;
}


/** Why the Wine tests cannot run here, or null. */
async function whyNoPeRuns(): Promise<string | null> {
  try {
    await requireTools(['clang', 'ld.lld', 'lld-link', 'llvm-readobj', 'llvm-ar']);
  } catch (e) {
    return (e as Error).message;
  }
  for (const f of ['crt2.o', 'crtbegin.o', 'crtend.o', 'libmsvcrt.a', 'libkernel32.a', 'libmingw32.a']) {
    if (!fs.existsSync(path.join(MINGW_LIB, f))) return `the mingw-w64 sysroot is missing (no ${path.join(MINGW_LIB, f)}; install mingw-w64)`;
  }
  if (!mingwGccLibDir()) return 'MinGW\'s libgcc is missing (no /usr/lib/gcc/x86_64-w64-mingw32/*/libgcc.a; install mingw-w64)';
  if (!(await haveWine())) return 'wine is not installed (install wine64)';
  return null;
}

function node(bin: string, args: readonly string[], cwd: string): Promise<ExecResult> {
  return exec(process.execPath, [bin, ...args], { cwd, timeoutMs: 180_000 });
}


function expectNoCrash(r: ExecResult, what: string): void {
  const all = r.stderr + r.stdout;
  expect(all, `${what}: a JavaScript stack trace`).to.not.match(/^\s{4}at /m);
  expect(all, `${what}: an internal error`).to.not.contain('internal error');
}

function expectLinked(r: ExecResult, out: string, what: string): void {
  expectNoCrash(r, what);
  expect(r.status, `${what} (${describeExit(r)}): ${r.stderr}`).to.equal(0);
  expect(fs.existsSync(out), `${what}: ${out} written`).to.equal(true);
}

/** Exit status 1, one stderr line `tslink: error: ...` containing every part, no stack trace. */
function expectOneError(r: ExecResult, parts: string[]): void {
  const what = `stderr:\n${r.stderr}`;
  expectNoCrash(r, what);
  expect(r.status, `exit status (${describeExit(r)}); ${what}`).to.equal(1);
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  expect(lines, `one line on stderr; ${what}`).to.have.length(1);
  expect(lines[0]).to.match(/^tslink: error: \S/);
  for (const p of parts) expect(lines[0]).to.contain(p);
}

async function headerFields(exe: string): Promise<string[]> {
  const text = await tool('llvm-readobj', ['--file-headers', exe]);
  return text.split('\n').filter((l) => HEADER_FIELDS.test(l)).map((l) => l.trim());
}

/** Both ran, printed the same (and what was expected), and exited with `status`. */
function expectSameRun(ts: ExecResult, ref: ExecResult, status: number, stdout: RegExp): void {
  const show = (r: ExecResult) => `${describeExit(r)}, stdout ${JSON.stringify(r.stdout)}, stderr ${JSON.stringify(r.stderr)}`;
  expect(ref.status, `the reference image: ${show(ref)}`).to.equal(status);
  expect(ts.status, `tslink's image: ${show(ts)}`).to.equal(status);
  expect(ts.stdout).to.equal(ref.stdout);
  expect(ts.stdout.replace(/\r\n/g, '\n')).to.match(stdout);
}

describe('PE command lines: MinGW (-m i386pep) and lld-link (tslink-link), run under Wine', function () {
  this.timeout(600_000);
  let work = '';
  let gccDir = '';
  const w = (...p: string[]) => path.join(work, ...p);

  before(async function () {
    const why = await whyNoPeRuns();
    if (why) {
      console.warn(`      skipped: ${why}`);
      this.skip();
    }
    gccDir = mingwGccLibDir()!;
    work = tmpDir('tslink-pe-cli');
    fs.writeFileSync(w('main.c'), MAIN_C);
    fs.writeFileSync(w('unit.c'), UNIT_C);
    fs.writeFileSync(w('free_main.c'), FREE_MAIN_C);
    fs.writeFileSync(w('free_unit.c'), FREE_UNIT_C);
    await Promise.all([
      tool('clang', ['--target=x86_64-w64-mingw32', '-O1', '-c', 'main.c', '-o', 'main.o'], { cwd: work }),
      tool('clang', ['--target=x86_64-w64-mingw32', '-O1', '-c', 'unit.c', '-o', 'unit.o'], { cwd: work }),
      tool('clang', ['--target=x86_64-windows-msvc', '-O1', '-c', 'free_main.c', '-o', 'free_main.obj'], { cwd: work }),
      tool('clang', ['--target=x86_64-windows-msvc', '-O1', '-c', 'free_unit.c', '-o', 'free_unit.obj'], { cwd: work }),
    ]);
  });

  after(() => {
    if (work && process.env.TSLINK_KEEP_TMP !== '1') fs.rmSync(work, { recursive: true, force: true });
    else if (work) console.log(`      kept ${work}`);
  });

  /** clang's MinGW driver links main.o and unit.o with the C runtime, with `linker` flags; returns the image. */
  async function clangLink(out: string, linker: string[], extra: string[] = []): Promise<ExecResult> {
    return exec('clang', ['--target=x86_64-w64-mingw32', `-L${gccDir}`, ...linker, ...extra, 'main.o', 'unit.o', '-o', out], { cwd: work, timeoutMs: 180_000 });
  }

  it('clang --ld-path=tslink links a C program with the MinGW runtime (printf, malloc) that runs as with -fuse-ld=lld', async () => {
    const rl = await clangLink('lld.exe', ['-fuse-ld=lld']);
    expect(rl.status, `clang -fuse-ld=lld: ${rl.stderr}`).to.equal(0);
    const rt = await clangLink('tslink.exe', [`--ld-path=${BIN}`]);
    expectLinked(rt, w('tslink.exe'), 'clang --ld-path=tslink');
    expect(rt.stderr).to.equal('');
    const [ts, ref] = [await wine(w('tslink.exe')), await wine(w('lld.exe'))];
    expectSameRun(ts, ref, MAIN_STATUS, /^hello from tslink: triangle\(12\) = 78, squares\[7\] = 49\nstatus 127\n$/);
  });

  it('MinGW options reach the image header as they do with ld.lld (subsystem, versions, image base, stack, heap, DLL characteristics)', async () => {
    const variants: string[][] = [
      ['-Wl,--subsystem,console:5.2,--image-base,0x150000000', '-Wl,--disable-high-entropy-va,--disable-nxcompat'],
      ['-Xlinker', '--stack', '-Xlinker', '0x200000,0x2000', '-Xlinker', '--heap=0x300000,0x3000', '-Wl,--disable-tsaware'],
      ['-Wl,--major-os-version,10,--minor-subsystem-version,1', '-Wl,--no-insert-timestamp,--enable-auto-import,-Bdynamic'],
      ['-mwindows', '-s'],
    ];
    for (const [i, flags] of variants.entries()) {
      const rl = await clangLink(`h${i}.lld.exe`, ['-fuse-ld=lld'], flags);
      expect(rl.status, `clang -fuse-ld=lld ${flags.join(' ')}: ${rl.stderr}`).to.equal(0);
      const rt = await clangLink(`h${i}.tslink.exe`, [`--ld-path=${BIN}`], flags);
      expectLinked(rt, w(`h${i}.tslink.exe`), `clang --ld-path=tslink ${flags.join(' ')}`);
      expect(await headerFields(w(`h${i}.tslink.exe`)), flags.join(' ')).to.deep.equal(await headerFields(w(`h${i}.lld.exe`)));
    }
    // -mwindows: the GUI subsystem, whose entry point is WinMainCRTStartup (which calls main here).
    expect(await headerFields(w('h3.tslink.exe'))).to.include('Subsystem: IMAGE_SUBSYSTEM_WINDOWS_GUI (0x2)');
    const gui = await wine(w('h3.tslink.exe'));
    expect(gui.status, describeExit(gui)).to.equal(MAIN_STATUS);
  });

  it('the MinGW command line as the driver passes it, by hand: -m i386pep, crt2.o, -L, -l (libNAME.a, libNAME.dll.a), -Bstatic', async () => {
    const libs = ['-lmingw32', '-lgcc', '-lgcc_eh', '-lmoldname', '-lmingwex', '-lmsvcrt', '-ladvapi32', '-lshell32', '-luser32', '-lkernel32'];
    const args = [
      '-m', 'i386pep', '-Bdynamic', '-o', 'byhand.exe', path.join(MINGW_LIB, 'crt2.o'), path.join(MINGW_LIB, 'crtbegin.o'),
      `-L${gccDir}`, `-L${MINGW_LIB}`, 'main.o', 'unit.o', ...libs, '-Bstatic', '-lmingwex', '-Bdynamic', ...libs, path.join(MINGW_LIB, 'crtend.o'),
    ];
    const rt = await node(BIN, args, work);
    expectLinked(rt, w('byhand.exe'), `tslink ${args.join(' ')}`);
    const rl = await exec('ld.lld', [...args.slice(0, 3), '-o', 'byhand.lld.exe', ...args.slice(5)], { cwd: work });
    expect(rl.status, `ld.lld: ${rl.stderr}`).to.equal(0);
    expectSameRun(await wine(w('byhand.exe')), await wine(w('byhand.lld.exe')), MAIN_STATUS, /status 127\n$/);
  });

  /** lld-link's arguments for the freestanding program (`free_unit` without its extension: lld-link adds .obj). */
  const linkArgs = (out: string, more: string[] = []) => [`/out:${out}`, '/entry:main', '/subsystem:console', ...more, 'free_main.obj', 'free_unit', KERNEL32];

  it('tslink-link /out: /entry:main /subsystem:console links a freestanding program that runs as lld-link\'s', async () => {
    const rl = await exec('lld-link', linkArgs('free.lld.exe'), { cwd: work });
    expect(rl.status, `lld-link: ${rl.stderr}`).to.equal(0);
    const rt = await node(BIN_LINK, linkArgs('free.tslink.exe'), work);
    expectLinked(rt, w('free.tslink.exe'), 'tslink-link');
    expect(rt.stderr).to.equal('');
    const ref = await wine(w('free.lld.exe'));
    expectSameRun(await wine(w('free.tslink.exe')), ref, FREE_STATUS, /^freestanding main\n$/);
    expect(await headerFields(w('free.tslink.exe'))).to.deep.equal(await headerFields(w('free.lld.exe')));
  });

  it('tslink -flavor link takes the same command line: case-insensitive, - or /, /libpath and /defaultlib, header options as lld-link', async () => {
    const more = [
      '/NOLOGO', '-libpath:' + MINGW_LIB, '/DefaultLib:libkernel32.a', '/BASE:0x180000000', '/stack:0x200000,8192', '/heap:65536',
      '/highentropyva:no', '/NXCOMPAT:NO', '/osversion:10.0', '/debug', '/opt:noref,noicf', '/incremental:no', '/Brepro',
    ];
    const args = (out: string) => [`/OUT:${out}`, '-entry:main', '/Subsystem:Console,6.2', ...more, 'free_main.obj', 'free_unit.obj'];
    const rl = await exec('lld-link', args('flavor.lld.exe'), { cwd: work });
    expect(rl.status, `lld-link: ${rl.stderr}`).to.equal(0);
    const rt = await node(BIN, ['-flavor', 'link', ...args('flavor.tslink.exe')], work);
    expectLinked(rt, w('flavor.tslink.exe'), 'tslink -flavor link');
    expect(await headerFields(w('flavor.tslink.exe'))).to.deep.equal(await headerFields(w('flavor.lld.exe')));
    expectSameRun(await wine(w('flavor.tslink.exe')), await wine(w('flavor.lld.exe')), FREE_STATUS, /^freestanding main\n$/);
  });

  it('without /out: the image is named after the first input; /incremental keeps its state beside it', async () => {
    const sub = w('noout');
    fs.mkdirSync(sub, { recursive: true });
    const rt = await node(BIN_LINK, ['/entry:main', '/incremental', w('free_main.obj'), w('free_unit.obj'), KERNEL32], sub);
    expectLinked(rt, path.join(sub, 'free_main.exe'), 'tslink-link without /out:');
    expect(fs.existsSync(path.join(sub, 'free_main.exe.tslink-state')), 'the state file').to.equal(true);
    const r = await wine(path.join(sub, 'free_main.exe'));
    expect(r.status, describeExit(r)).to.equal(FREE_STATUS);
  });

  it('-l searches as lld\'s MinGW driver: libNAME.dll.a before libNAME.a before NAME.lib, -Bstatic skips .dll.a, -l:FILE', async () => {
    // Three libraries defining twice() differently: which one was linked shows in the exit status.
    const libs = w('libs');
    fs.mkdirSync(libs, { recursive: true });
    const variants: [string, number][] = [['libpick.dll.a', 2], ['libpick.a', 3], ['pick.lib', 4]];
    for (const [lib, factor] of variants) {
      const src = path.join(libs, `${factor}.c`);
      fs.writeFileSync(src, `int twice(int x) { return ${factor} * x; }\n`);
      await tool('clang', ['--target=x86_64-windows-msvc', '-O1', '-c', src, '-o', path.join(libs, `${factor}.obj`)]);
      await tool('llvm-ar', ['rcs', path.join(libs, lib), path.join(libs, `${factor}.obj`)]);
    }
    const cases: [string[], number][] = [[['-lpick'], 2], [['-Bstatic', '-lpick'], 3], [['-l:pick.lib'], 4]];
    for (const [flags, factor] of cases) {
      const args = ['-m', 'i386pep', '-e', 'main', 'free_main.obj', `-L${libs}`, ...flags, `-L${MINGW_LIB}`, '-lkernel32'];
      const rt = await node(BIN, [...args, '-o', 'pick.exe'], work);
      expectLinked(rt, w('pick.exe'), `tslink ${args.join(' ')}`);
      const rl = await exec('ld.lld', [...args, '-o', 'pick.lld.exe'], { cwd: work });
      expect(rl.status, `ld.lld: ${rl.stderr}`).to.equal(0);
      const status = 21 * factor + 18;
      expectSameRun(await wine(w('pick.exe')), await wine(w('pick.lld.exe')), status, /^freestanding main\n$/);
    }
  });

  it('COFF inputs without -m make a PE image (the GNU command line infers the format from the first object)', async () => {
    const rt = await node(BIN, ['-e', 'main', '-o', 'inferred.exe', 'free_main.obj', 'free_unit.obj', `-L${MINGW_LIB}`, '-lkernel32'], work);
    expectLinked(rt, w('inferred.exe'), 'tslink without -m');
    const r = await wine(w('inferred.exe'));
    expect(r.status, describeExit(r)).to.equal(FREE_STATUS);
    expect(r.stdout.replace(/\r\n/g, '\n')).to.equal('freestanding main\n');
  });
});

describe('PE command lines: errors and help', function () {
  this.timeout(300_000);
  let work = '';
  const w = (...p: string[]) => path.join(work, ...p);

  before(async function () {
    await requireToolsOrSkip(this, ['clang']);
    work = tmpDir('tslink-pe-cli-errors');
    fs.writeFileSync(w('f.c'), FREE_UNIT_C);
    await tool('clang', ['--target=x86_64-windows-msvc', '-O1', '-c', 'f.c', '-o', 'f.obj'], { cwd: work });
  });

  after(() => {
    if (work && process.env.TSLINK_KEEP_TMP !== '1') fs.rmSync(work, { recursive: true, force: true });
  });

  const cases: { name: string; bin: 'gnu' | 'link'; args: string[]; parts: string[] }[] = [
    { name: 'an unknown MinGW option', bin: 'gnu', args: ['-m', 'i386pep', '--no-such-option', '-o', 'x.exe', 'f.obj'], parts: ["unknown argument '--no-such-option'"] },
    { name: 'an unknown lld-link option', bin: 'link', args: ['/nosuchoption', '/out:x.exe', 'f.obj'], parts: ["unknown argument '/nosuchoption'"] },
    { name: 'an unknown lld-link option with -', bin: 'link', args: ['-nosuchoption:3', '/out:x.exe', 'f.obj'], parts: ["unknown argument '-nosuchoption:3'"] },
    { name: 'an export nothing defines', bin: 'link', args: ['/dll', '/export:nosuchsym', '/out:x.exe', 'f.obj'], parts: ['undefined symbol: nosuchsym (exported)'] },
    { name: 'a malformed /export', bin: 'link', args: ['/dll', '/export:twice,@0', '/out:x.exe', 'f.obj'], parts: ['/export:twice,@0', 'the ordinal must be 1 to 65535'] },
    { name: 'a missing .def file', bin: 'gnu', args: ['-m', 'i386pep', '--dll', '-o', 'x.exe', 'f.obj', 'nosuch.def'], parts: ['nosuch.def'] },
    { name: '-shared with COFF inputs, no -m', bin: 'gnu', args: ['-shared', '-o', 'x.exe', 'f.obj'], parts: ['-shared', '-m i386pep'] },
    { name: 'a missing MinGW library', bin: 'gnu', args: ['-m', 'i386pep', '-o', 'x.exe', 'f.obj', '-L.', '-lnosuchlib'], parts: ['unable to find library -lnosuchlib'] },
    { name: 'a missing /defaultlib', bin: 'link', args: ['/out:x.exe', 'f.obj', '/defaultlib:nosuchlib'], parts: ['/defaultlib:nosuchlib', 'nosuchlib.lib'] },
    { name: 'a missing lld-link input (NAME.obj)', bin: 'link', args: ['/out:x.exe', 'nosuchobject'], parts: ['nosuchobject.obj'] },
    { name: '-m i386pe', bin: 'gnu', args: ['-m', 'i386pe', '-o', 'x.exe', 'f.obj'], parts: ['i386pe', 'not supported'] },
    { name: '/machine:x86', bin: 'link', args: ['/machine:x86', '/out:x.exe', 'f.obj'], parts: ['only x64 and ARM64 PE images'] },
    { name: 'an x64 object in an ARM64 link', bin: 'link', args: ['/machine:arm64', '/out:x.exe', 'f.obj'], parts: ['f.obj', 'incompatible with aarch64'] },
    { name: 'an unknown /opt', bin: 'link', args: ['/opt:fast', '/out:x.exe', 'f.obj'], parts: ['/opt: unknown option: fast'] },
    { name: 'an unknown subsystem', bin: 'gnu', args: ['-m', 'i386pep', '--subsystem', 'xbox', '-o', 'x.exe', 'f.obj'], parts: ["unknown subsystem 'xbox'"] },
    { name: 'a PE option without -m', bin: 'gnu', args: ['--subsystem', 'windows', '-o', 'x.exe', 'f.obj'], parts: ["'--subsystem'", '-m i386pep'] },
    { name: 'an ELF option with COFF inputs', bin: 'gnu', args: ['-pie', '-o', 'x.exe', 'f.obj'], parts: ['-pie', 'ELF'] },
    { name: 'a COFF object in an ELF link', bin: 'gnu', args: ['-m', 'elf_x86_64', '-o', 'x.exe', 'f.obj'], parts: ['f.obj', 'COFF object', 'ELF output'] },
    { name: 'an undefined entry point', bin: 'link', args: ['/out:x.exe', '/entry:nosuchentry', 'f.obj'], parts: ['nosuchentry'] },
  ];
  for (const c of cases) {
    it(`${c.name}: one error line, exit status 1, no image`, async () => {
      const r = c.bin === 'gnu' ? await node(BIN, c.args, work) : await node(BIN_LINK, c.args, work);
      expectOneError(r, c.parts);
      expect(fs.existsSync(w('x.exe')), 'no image written').to.equal(false);
    });
  }

  it('tslink -flavor link and tslink-link give the same errors', async () => {
    const args = ['/machine:x86', '/out:x.exe', 'f.obj'];
    const a = await node(BIN, ['-flavor', 'link', ...args], work);
    const b = await node(BIN_LINK, args, work);
    expectOneError(a, ['only x64 and ARM64 PE images']);
    expect(a.stderr).to.equal(b.stderr);
  });

  it('tslink --help names the PE command lines; tslink-link /? prints lld-link\'s options', async () => {
    const gnu = await node(BIN, ['--help'], work);
    expect(gnu.status).to.equal(0);
    expect(gnu.stdout).to.contain('-m i386pep').and.to.contain('-flavor link').and.to.contain('--subsystem');
    for (const [bin, args] of [[BIN_LINK, ['/?']], [BIN_LINK, ['-HELP']], [BIN, ['-flavor', 'link', '/help']]] as const) {
      const r = await node(bin, args, work);
      expect(r.status, `${args.join(' ')}: ${r.stderr}`).to.equal(0);
      expect(r.stdout).to.match(/^Usage: tslink-link/).and.to.contain('/out:FILE').and.to.contain('/nodefaultlib').and.to.contain('/debug');
    }
    const v = await node(BIN_LINK, ['/version'], work);
    expect(v.status).to.equal(0);
    expect(v.stdout).to.match(/^tslink \S+ \(compatible with lld-link\)\n$/);
  });
});
