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
 * - Auto-import: msvcrt's data used without dllimport (clang and gcc
 *   objects), and C++ against the shared libstdc++; incremental relinks
 *   that touch an auto-imported reference fall back.
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
import { exec, repoRoot, requireToolsOrSkip, tmpDir } from '../support/toolchain.js';
import { mingwGccLibDir, wine } from '../support/wine.js';
import { buildIdFromChunks, chunkDigests } from '../../src/link/buildId.js';

const ROOT = repoRoot();
const TSLINK = path.join(ROOT, 'bin', 'tslink.js');
const SRC = path.join(ROOT, 'test', 'mingw');
const TARGET = '--target=x86_64-w64-mingw32';

async function ok(cmd: string, args: string[], cwd?: string): Promise<void> {
  const r = await exec(cmd, args, { cwd, timeoutMs: 120_000 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
}

async function imports(exe: string): Promise<string[]> {
  const r = await exec('llvm-readobj', ['--coff-imports', exe]);
  return r.stdout.split('\n').filter((l) => /^\s*(Name|Symbol):/.test(l)).map((l) => l.trim());
}

/** Whether a PE image's CodeView GUID is the hash of the image with the GUID zeroed (src/link/buildId.ts). */
async function buildIdConsistent(exe: string): Promise<boolean> {
  const text = (await exec('llvm-readobj', ['--coff-debug-directory', exe])).stdout;
  const m = /PointerToRawData: (0x[0-9A-F]+)/.exec(text);
  if (!m || !/Type: CodeView/.test(text)) return false;
  const at = Number(m[1]) + 4;
  const image = new Uint8Array(fs.readFileSync(exe));
  const guid = image.slice(at, at + 16);
  image.fill(0, at, at + 16);
  return Buffer.from(buildIdFromChunks(chunkDigests(image), 16)).equals(Buffer.from(guid));
}

describe('MinGW C and C++ programs under Wine (tslink vs ld.lld)', function () {
  this.timeout(600_000);
  let dir = '';
  let libDir = '';

  before(async function () {
    await requireToolsOrSkip(this, ['clang', 'ld.lld', 'wine', 'x86_64-w64-mingw32-g++', 'x86_64-w64-mingw32-gcc', 'x86_64-w64-mingw32-windres', 'llvm-readobj']);
    const lib = mingwGccLibDir();
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
      ok('x86_64-w64-mingw32-windres', ['misc.rc', '-O', 'res', '-o', 'misc.res'], dir),
      ok('clang', [TARGET, '-O0', '-c', 'autoimp.c', '-o', 'autoimp.o'], dir),
      ok('x86_64-w64-mingw32-gcc', ['-O2', '-c', 'autoimp.c', '-o', 'autoimp.gcc.o'], dir),
      ok('clang', [TARGET, '-O1', '-c', 'autoimp_scale.c', '-o', 'autoimp_scale.o'], dir),
      ok('clang', [TARGET, '-O1', '-ffunction-sections', '-fdata-sections', '-c', 'gc.c', '-o', 'gc.o'], dir),
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
    // Debug info kept: a build id, where lld puts it.
    const debugDir = async (exe: string) => (await exec('llvm-readobj', ['--coff-debug-directory', path.join(dir, exe)])).stdout
      .split('\n').filter((l) => /Type:|SizeOfData|PDBAge/.test(l)).map((l) => l.trim());
    expect(await debugDir('c.tslink.exe')).to.deep.equal(await debugDir('c.lld.exe'));
    expect(await buildIdConsistent(path.join(dir, 'c.tslink.exe'))).to.equal(true);
  });

  it('C++ (g++ for MinGW): exceptions through destructors, a global object, the static libstdc++', async () => {
    await link('clang++', 'lld', 'x.lld.exe', ['exc.o'], ['-static']);
    await link('clang++', 'tslink', 'x.tslink.exe', ['exc.o'], ['-static']);
    const a = await wine(path.join(dir, 'x.lld.exe'));
    const b = await wine(path.join(dir, 'x.tslink.exe'));
    expect(a.stdout).to.contain('caught too big: 4').and.to.contain('dtor global');
    expect({ status: b.status, stdout: b.stdout }).to.deep.equal({ status: a.status, stdout: a.stdout });
  });

  it('gcc and clang units together: common symbols, a selectany constant, weak definitions, .CRT$XCU, resources (an object, a .res)', async () => {
    const objs = ['misc.o', 'misc_clang.o', 'misc_res.o'];
    await link('clang', 'lld', 'm.lld.exe', objs);
    await link('clang', 'tslink', 'm.tslink.exe', objs);
    const a = await wine(path.join(dir, 'm.lld.exe'));
    const b = await wine(path.join(dir, 'm.tslink.exe'));
    expect(a.stdout.replace(/\r\n/g, '\n')).to.equal('hits=6 bump=6 buckets[127]=3 hook=10 early=42 paged=1\n'
      + 'banner=hello world! same=1\nstring(21)=from the string table rcdata=BLOB\n');
    expect({ status: b.status, stdout: b.stdout }).to.deep.equal({ status: a.status, stdout: a.stdout });
    const rsrc = async (exe: string) => (await exec('llvm-readobj', ['--sections', path.join(dir, exe)])).stdout
      .split(/Section \{/).find((t) => t.includes('Name: .rsrc'))?.match(/Characteristics \[ \((0x[0-9A-F]+)\)/)?.[1];
    expect(await rsrc('m.tslink.exe'), '.rsrc is read-only data, as lld makes it').to.equal(await rsrc('m.lld.exe'));

    // The resources as a compiled resource file (.res), which the linker converts itself.
    const withRes = ['misc.o', 'misc_clang.o', 'misc.res'];
    await link('clang', 'tslink', 'mres.tslink.exe', withRes);
    const c = await wine(path.join(dir, 'mres.tslink.exe'));
    expect({ status: c.status, stdout: c.stdout }).to.deep.equal({ status: a.status, stdout: a.stdout });
    const both = await exec('clang', [TARGET, `-L${libDir}`, `--ld-path=${TSLINK}`, ...objs, 'misc.res', '-o', 'both.exe'], { cwd: dir });
    expect(both.status).to.equal(1);
    expect(both.stderr).to.match(/tslink: error: duplicate resource: type 6, name 7, language 0x0409, in misc\.res and in misc_res\.o/);
    fs.copyFileSync(path.join(dir, 'misc.res'), path.join(dir, 'again.res'));
    const twice = await exec('clang', [TARGET, `-L${libDir}`, `--ld-path=${TSLINK}`, ...withRes, 'again.res', '-o', 'twice.exe'], { cwd: dir });
    expect(twice.status).to.equal(1);
    expect(twice.stderr).to.match(/tslink: error: duplicate resource: type 6, name 7, language 0x0409, in misc\.res and in again\.res/);
  });

  it('auto-import: DLL data used without dllimport (clang -O0 and gcc -O2 objects), runs as with ld.lld', async () => {
    for (const main of ['autoimp.o', 'autoimp.gcc.o']) {
      const objs = [main, 'autoimp_scale.o'];
      await link('clang', 'lld', 'ai.lld.exe', objs);
      await link('clang', 'tslink', 'ai.tslink.exe', objs);
      const a = await wine(path.join(dir, 'ai.lld.exe'), ['one', 'two']);
      const b = await wine(path.join(dir, 'ai.tslink.exe'), ['one', 'two']);
      expect(a.stdout.replace(/\r\n/g, '\n'), main).to.equal('argc=3 argv1=one same=1 fmode=0 scaled=30\n');
      expect({ status: b.status, stdout: b.stdout }, main).to.deep.equal({ status: a.status, stdout: a.stdout });
    }
    // Off, auto-import's references are errors that say what to do.
    const off = await exec('clang', [TARGET, `-L${libDir}`, `--ld-path=${TSLINK}`, '-Wl,--disable-runtime-pseudo-reloc', 'autoimp.o', 'autoimp_scale.o', '-o', 'off.exe'], { cwd: dir });
    expect(off.status).to.equal(1);
    expect(off.stderr).to.match(/^tslink: error: automatic import of __argc in autoimp\.o\(\.\S+\+0x[0-9a-f]+\) needs runtime pseudo relocations/m);
    const noAuto = await exec('clang', [TARGET, `-L${libDir}`, `--ld-path=${TSLINK}`, '-Wl,--disable-auto-import', 'autoimp.o', 'autoimp_scale.o', '-o', 'off.exe'], { cwd: dir });
    expect(noAuto.status).to.equal(1);
    expect(noAuto.stderr).to.match(/undefined symbol: __arg[cv] \(referenced by autoimp\.o\) \(a DLL exports it: declare it __declspec\(dllimport\)/);
  });

  it('auto-import: C++ against the shared libstdc++ (vtables, typeinfo, std::cout from the DLL)', async () => {
    await link('clang++', 'lld', 'xd.lld.exe', ['exc.o']);
    await link('clang++', 'tslink', 'xd.tslink.exe', ['exc.o']);
    // The DLLs (libstdc++-6.dll, libgcc_s_seh-1.dll) are found through WINEPATH, in MinGW's GCC directory.
    const env = { WINEPATH: `Z:${libDir.replace(/\//g, '\\')}` };
    const a = await wine(path.join(dir, 'xd.lld.exe'), [], { env });
    const b = await wine(path.join(dir, 'xd.tslink.exe'), [], { env });
    expect(a.stdout).to.contain('caught too big: 4').and.to.contain('dtor global');
    expect({ status: b.status, stdout: b.stdout }).to.deep.equal({ status: a.status, stdout: a.stdout });
    expect(await imports(path.join(dir, 'xd.tslink.exe'))).to.deep.equal(await imports(path.join(dir, 'xd.lld.exe')));
  });

  it('--gc-sections: unreached COMDATs are left out, as by ld.lld; the image runs', async () => {
    const has = (exe: string, marker: string) => fs.readFileSync(path.join(dir, exe)).includes(Buffer.from(marker));
    for (const linker of ['lld', 'tslink'] as const) {
      await link('clang', linker, `gc.${linker}.exe`, ['gc.o'], ['-Wl,--gc-sections']);
      await link('clang', linker, `nogc.${linker}.exe`, ['gc.o']);
      expect(has(`gc.${linker}.exe`, 'UNUSED-DATA-MARKER'), `${linker} --gc-sections`).to.equal(false);
      expect(has(`gc.${linker}.exe`, 'USED-DATA-MARKER'), `${linker} --gc-sections`).to.equal(true);
      expect(has(`nogc.${linker}.exe`, 'UNUSED-DATA-MARKER'), linker).to.equal(true);
      const r = await wine(path.join(dir, `gc.${linker}.exe`));
      expect({ status: r.status, stdout: r.stdout.replace(/\r\n/g, '\n') }, linker).to.deep.equal({ status: 0, stdout: '42 USED-DATA-MARKER\n' });
    }
  });

  it('incremental with auto-import: an edit of a unit that refers to imported data falls back, another is patched', async () => {
    const objs = ['autoimp.o', 'autoimp_scale.o'];
    const relink = () => exec('clang', [TARGET, `-L${libDir}`, `--ld-path=${TSLINK}`, '-Wl,--incremental,--explain', ...objs, '-o', 'aiinc.exe'], { cwd: dir });
    const first = await relink();
    expect(first.status, first.stderr).to.equal(0);
    await ok('clang', [TARGET, '-O0', '-DLABEL="count"', '-c', 'autoimp.c', '-o', 'autoimp.o'], dir);
    const second = await relink();
    expect(second.status, second.stderr).to.equal(0);
    expect(second.stdout + second.stderr).to.match(/fell-back-full/).and.to.match(/auto-import/);
    await ok('clang', [TARGET, '-O1', '-c', 'autoimp_scale.edit.c', '-o', 'autoimp_scale.o'], dir);
    const third = await relink();
    expect(third.status, third.stderr).to.equal(0);
    expect(third.stdout + third.stderr).to.match(/\bpatched\b/);
    const r = await wine(path.join(dir, 'aiinc.exe'), ['x']);
    expect(r.stdout.replace(/\r\n/g, '\n')).to.equal('count=2 argv1=x same=1 fmode=0 scaled=200\n');
    expect(r.status).to.equal(2);
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
    // The build id (a CodeView record's GUID, as lld writes with debug info kept) is the patched image's hash.
    expect(await buildIdConsistent(path.join(dir, 'inc.exe')), 'the patched image\'s build id').to.equal(true);
  });
});
