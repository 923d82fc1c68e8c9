/**
 * MinGW programs that use the C runtime (msvcrt.dll through MinGW-w64's
 * import libraries), linked through the compiler driver as a developer
 * would, by tslink (`--ld-path=<repo>/bin/tslink.js`, which the driver
 * hands `-m i386pep ...`) and by ld.lld (`-fuse-ld=lld`), run under Wine:
 * the same output and exit status, the same DLL imports.
 *
 * - C, several units (test/mingw): printf, snprintf, malloc/free, a
 *   constructor, a thread-local variable, data shared across units.
 * - C from gcc and clang together: common symbols (`-fcommon`), a
 *   `selectany` constant (gcc pads its COMDAT section and says SameSize,
 *   clang says Any), weak definitions, a `.CRT$XCU` initializer,
 *   resources compiled by windres (a string table, RCDATA).
 * - C++ with g++ for MinGW: exceptions thrown and caught through frames
 *   with destructors (SEH unwinding through .pdata/.xdata), a global
 *   object with a constructor and a destructor, std::string, std::vector,
 *   the static libstdc++.
 * - Incremental: an edit of one unit is patched, the image runs like a
 *   cold ld.lld link of the same objects.
 */
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { exec, repoRoot, requireTools, tmpDir, type ExecResult } from '../support/toolchain.js';

const ROOT = repoRoot();
const TSLINK = path.join(ROOT, 'bin', 'tslink.js');
const SRC = path.join(ROOT, 'test', 'mingw');
const TARGET = '--target=x86_64-w64-mingw32';
/** clang 14 does not find Debian's MinGW GCC runtime (libgcc, libstdc++) by itself. */
function gccLibDir(): string | null {
  const base = '/usr/lib/gcc/x86_64-w64-mingw32';
  if (!fs.existsSync(base)) return null;
  const v = fs.readdirSync(base).filter((d) => d.endsWith('-win32')).sort().pop();
  return v ? path.join(base, v) : null;
}

async function wine(prog: string, args: string[] = []): Promise<ExecResult> {
  return exec('wine', [prog, ...args], { cwd: path.dirname(prog), env: { ...process.env, WINEDEBUG: '-all' }, timeoutMs: 120_000 });
}

async function ok(cmd: string, args: string[], cwd?: string): Promise<void> {
  const r = await exec(cmd, args, { cwd, timeoutMs: 120_000 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
}

async function imports(exe: string): Promise<string[]> {
  const r = await exec('llvm-readobj', ['--coff-imports', exe]);
  return r.stdout.split('\n').filter((l) => /^\s*(Name|Symbol):/.test(l)).map((l) => l.trim());
}

describe('MinGW C and C++ programs under Wine (tslink vs ld.lld)', function () {
  this.timeout(600_000);
  let dir = '';
  let libDir = '';

  before(async function () {
    try {
      await requireTools(['clang', 'ld.lld', 'wine', 'x86_64-w64-mingw32-g++', 'x86_64-w64-mingw32-gcc', 'x86_64-w64-mingw32-windres', 'llvm-readobj']);
    } catch {
      this.skip();
    }
    const lib = gccLibDir();
    if (!lib || !fs.existsSync('/usr/x86_64-w64-mingw32/lib/libmsvcrt.a')) this.skip();
    libDir = lib!;
    dir = tmpDir('tslink-mingw-');
    for (const f of fs.readdirSync(SRC)) fs.copyFileSync(path.join(SRC, f), path.join(dir, f));
    await Promise.all(['main', 'list', 'greet'].map((u) => ok('clang', [TARGET, '-O1', '-c', `${u}.c`, '-o', `${u}.o`], dir)));
    await ok('x86_64-w64-mingw32-g++', ['-O1', '-c', 'exc.cpp', '-o', 'exc.o'], dir);
    await Promise.all([
      ok('x86_64-w64-mingw32-gcc', ['-O2', '-fcommon', '-c', 'misc.c', '-o', 'misc.o'], dir),
      ok('clang', [TARGET, '-O2', '-fcommon', '-c', 'misc_clang.c', '-o', 'misc_clang.o'], dir),
      ok('x86_64-w64-mingw32-windres', ['misc.rc', '-O', 'coff', '-o', 'misc_res.o'], dir),
    ]);
  });

  after(() => {
    if (dir && process.env.TSLINK_KEEP_TMP !== '1') fs.rmSync(dir, { recursive: true, force: true });
  });

  const link = (driver: string, linker: 'tslink' | 'lld', out: string, inputs: string[], extra: string[] = []) =>
    ok(driver, [TARGET, `-L${libDir}`, linker === 'lld' ? '-fuse-ld=lld' : `--ld-path=${TSLINK}`, ...extra, ...inputs, '-o', out], dir);

  it('C, three units: the same output, status and imports as ld.lld', async () => {
    const objs = ['main.o', 'list.o', 'greet.o'];
    await link('clang', 'lld', 'c.lld.exe', objs);
    await link('clang', 'tslink', 'c.tslink.exe', objs);
    const a = await wine(path.join(dir, 'c.lld.exe'), ['x']);
    const b = await wine(path.join(dir, 'c.tslink.exe'), ['x']);
    expect(a.stdout).to.contain('hello, wine sum=55 ctor=40 tls=7 counter=17');
    expect({ status: b.status, stdout: b.stdout }).to.deep.equal({ status: a.status, stdout: a.stdout });
    expect(await imports(path.join(dir, 'c.tslink.exe'))).to.deep.equal(await imports(path.join(dir, 'c.lld.exe')));
  });

  it('C++ (g++ for MinGW): exceptions through destructors, a global object, the static libstdc++', async () => {
    await link('clang++', 'lld', 'x.lld.exe', ['exc.o'], ['-static']);
    await link('clang++', 'tslink', 'x.tslink.exe', ['exc.o'], ['-static']);
    const a = await wine(path.join(dir, 'x.lld.exe'));
    const b = await wine(path.join(dir, 'x.tslink.exe'));
    expect(a.stdout).to.contain('caught too big: 4').and.to.contain('dtor global');
    expect({ status: b.status, stdout: b.stdout }).to.deep.equal({ status: a.status, stdout: a.stdout });
  });

  it('gcc and clang units together: common symbols, a selectany constant, weak definitions, .CRT$XCU, resources', async () => {
    const objs = ['misc.o', 'misc_clang.o', 'misc_res.o'];
    await link('clang', 'lld', 'm.lld.exe', objs);
    await link('clang', 'tslink', 'm.tslink.exe', objs);
    const a = await wine(path.join(dir, 'm.lld.exe'));
    const b = await wine(path.join(dir, 'm.tslink.exe'));
    expect(a.stdout.replace(/\r\n/g, '\n')).to.equal('hits=6 bump=6 buckets[127]=3 hook=10 early=42\n'
      + 'banner=hello world! same=1\nstring(21)=from the string table rcdata=BLOB\n');
    expect({ status: b.status, stdout: b.stdout }).to.deep.equal({ status: a.status, stdout: a.stdout });
    const rsrc = async (exe: string) => (await exec('llvm-readobj', ['--sections', path.join(dir, exe)])).stdout
      .split(/Section \{/).find((t) => t.includes('Name: .rsrc'))?.match(/Characteristics \[ \((0x[0-9A-F]+)\)/)?.[1];
    expect(await rsrc('m.tslink.exe'), '.rsrc is read-only data, as lld makes it').to.equal(await rsrc('m.lld.exe'));
  });

  it('incremental: an edit of one unit is patched and runs like a cold ld.lld link', async () => {
    const objs = ['main.o', 'list.o', 'greet.o'];
    const first = await exec('clang', [TARGET, `-L${libDir}`, `--ld-path=${TSLINK}`, '-Wl,--incremental,--explain', ...objs, '-o', 'inc.exe'], { cwd: dir });
    expect(first.status, first.stderr).to.equal(0);
    await ok('clang', [TARGET, '-O1', '-c', 'list.edit.c', '-o', 'list.o'], dir);
    const second = await exec('clang', [TARGET, `-L${libDir}`, `--ld-path=${TSLINK}`, '-Wl,--incremental,--explain', ...objs, '-o', 'inc.exe'], { cwd: dir });
    expect(second.status, second.stderr).to.equal(0);
    expect(second.stdout + second.stderr).to.match(/patched/);
    await link('clang', 'lld', 'inc.lld.exe', objs);
    const a = await wine(path.join(dir, 'inc.lld.exe'), ['x']);
    const b = await wine(path.join(dir, 'inc.exe'), ['x']);
    expect(a.stdout).to.contain('sum=110');
    expect({ status: b.status, stdout: b.stdout }).to.deep.equal({ status: a.status, stdout: a.stdout });
  });
});
