/**
 * Shared libraries (-shared) built by tslink, checked against ld.lld's:
 *
 *  - a library and a program, each linked by tslink and by ld.lld, in all
 *    four pairings: the program must print the same every time, including
 *    symbol interposition (the program's definition of a function the
 *    library also defines wins, with -fsemantic-interposition), hidden and
 *    protected visibility, data imported by the program (a copy relocation),
 *    function pointers in the library's data, callbacks, and a constructor
 *    (DT_INIT_ARRAY);
 *  - the same with -Bsymbolic and -Bsymbolic-functions, where the library
 *    binds (its functions) to its own definitions;
 *  - `llvm-readelf --dyn-syms`: the library exports the same symbols as
 *    ld.lld's, undefined ones the same too, and has the same DT_SONAME;
 *  - thread-local variables in the library (general- and local-dynamic,
 *    descriptors on AArch64, initial-exec), used from the program (initial-
 *    exec and general-dynamic) and from a thread;
 *  - errors: non-PIC code, local-exec TLS;
 *  - incremental: a body edit is patched; a first call to a preemptible
 *    function that had no PLT entry falls back.
 *
 * AArch64 runs under qemu-aarch64 (see aarch64Sysroot in toolchain.ts).
 */
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ARCHES, type Arch, aarch64Sysroot, describeExit, exec, repoRoot, requireTools, showCommand, tmpDir, tool } from '../support/toolchain.js';

const TSLINK = path.join(repoRoot(), 'bin', 'tslink.js');

const LIB = `
#include <stdio.h>
int counter = 5;
static int triple(int x) { return x * 3; }
__attribute__((visibility("hidden"))) int hidden_inc(int x) { return x + 1; }
__attribute__((visibility("protected"))) int protected_dec(int x) { return x - 1; }
int lib_add(int a, int b) { return a + b + counter; }
int overridable(void) { return 100; }
int call_overridable(void) { return overridable(); }
const char *names[] = { "one", "two", 0 };
int (*op)(int, int) = lib_add;
int lib_mix(int x) { counter++; return triple(x) + hidden_inc(x) + protected_dec(x) + op(1, 2); }
int lib_apply(int (*f)(int), int x) { return f(x) + 1; }
void lib_hello(const char *who) { printf("hello %s from the library (%d)\\n", who, counter); }
static int ready; /* set by a constructor: DT_INIT_ARRAY must run */
__attribute__((constructor)) static void init_ready(void) { ready = 1; }
long lib_value(void) { return counter > 0 && ready ? 42 : overridable(); }
`;

const MAIN = `
#include <stdio.h>
int lib_add(int, int); int lib_mix(int); void lib_hello(const char *); int call_overridable(void);
int lib_apply(int (*)(int), int); long lib_value(void);
extern int counter; extern const char *names[];
int overridable(void) { return 7; }
static int square(int x) { return x * x; }
int main(void) {
  lib_hello("main");
  printf("add %d mix %d counter %d names %s %s\\n", lib_add(2, 3), lib_mix(4), counter, names[0], names[1]);
  printf("overridable through the library: %d\\n", call_overridable());
  printf("callback: %d, value %ld\\n", lib_apply(square, 6), lib_value());
  return 0;
}
`;

type Linker = 'tslink' | 'ld.lld';

async function clang(arch: Arch, args: string[]): Promise<string> {
  const all = [`--target=${arch}-linux-gnu`, ...args];
  const r = await exec('clang', all, { timeoutMs: 120_000 });
  if (r.status !== 0) throw new Error(`${showCommand('clang', all)} failed (${describeExit(r)}):\n${r.stdout}${r.stderr}`);
  return r.stdout + r.stderr;
}

function ldFlag(linker: Linker): string {
  return linker === 'tslink' ? `--ld-path=${TSLINK}` : '-fuse-ld=lld';
}

/** Runs `prog` with its library directory on the loader's search path. */
async function runWith(arch: Arch, prog: string, libDir: string): Promise<{ status: number | null; stdout: string; stderr: string }> {
  if (arch === 'x86_64') return exec(prog, [], { env: { ...process.env, LD_LIBRARY_PATH: libDir }, timeoutMs: 30_000 });
  return exec('qemu-aarch64', [...aarch64Sysroot(), '-E', `LD_LIBRARY_PATH=${libDir}`, prog], { timeoutMs: 30_000 });
}

async function dynSyms(file: string): Promise<{ defined: string[]; undefined: string[]; soname: string }> {
  const out = await tool('llvm-readelf', ['--dyn-syms', '-d', '--wide', file]);
  const defined: string[] = [];
  const undef: string[] = [];
  for (const line of out.split('\n')) {
    const m = /^\s*\d+:\s+[0-9a-f]+\s+\d+\s+\w+\s+(\w+)\s+\w+\s+(\S+)\s+(\S+)/.exec(line);
    if (!m || m[3] === '') continue;
    (m[2] === 'UND' ? undef : defined).push(`${m[3]} ${m[1]}`);
  }
  const soname = /\(SONAME\)\s+Library soname: \[([^\]]+)\]/.exec(out)?.[1] ?? '';
  return { defined: defined.sort(), undefined: undef.sort(), soname };
}

for (const arch of ARCHES) {
  describe(`shared libraries (${arch})`, function () {
    this.timeout(300_000);
    let work = '';
    const libs: Record<string, string> = {};
    const progs: Record<string, string> = {};

    before(async function () {
      await requireTools(['clang', 'ld.lld', 'llvm-readelf', ...(arch === 'aarch64' ? ['qemu-aarch64'] : [])]);
      work = tmpDir(`tslink-shared-${arch}`);
      fs.writeFileSync(path.join(work, 'lib.c'), LIB);
      fs.writeFileSync(path.join(work, 'main.c'), MAIN);
      await clang(arch, ['-O1', '-fPIC', '-fsemantic-interposition', '-c', path.join(work, 'lib.c'), '-o', path.join(work, 'lib.o')]);
      await clang(arch, ['-O1', '-c', path.join(work, 'main.c'), '-o', path.join(work, 'main.o')]);
      for (const linker of ['tslink', 'ld.lld'] as const) {
        for (const symbolic of ['', '-symbolic', '-symbolic-functions']) {
          const dir = path.join(work, `${linker}${symbolic}`);
          fs.mkdirSync(dir, { recursive: true });
          const lib = path.join(dir, 'libdemo.so');
          await clang(arch, ['-shared', ldFlag(linker), '-Wl,-soname,libdemo.so', ...(symbolic ? [`-Wl,-B${symbolic.slice(1)}`] : []), path.join(work, 'lib.o'), '-o', lib]);
          libs[`${linker}${symbolic}`] = dir;
        }
        const prog = path.join(work, `prog.${linker}`);
        // Linked against ld.lld's library: the program links to whichever libdemo.so is found at run time.
        await clang(arch, [ldFlag(linker), path.join(work, 'main.o'), `-L${libs['ld.lld'] ?? libs[linker]}`, '-ldemo', '-o', prog]);
        progs[linker] = prog;
      }
    });

    after(function () {
      if (work && !process.env.TSLINK_KEEP_TMP) fs.rmSync(work, { recursive: true, force: true });
    });

    it('the ld.lld pair prints what the program says (interposition, visibility, copies, callbacks)', async function () {
      const r = await runWith(arch, progs['ld.lld'], libs['ld.lld']);
      expect({ status: r.status, stdout: r.stdout }, r.stderr).to.deep.equal({
        status: 0,
        stdout: 'hello main from the library (5)\nadd 10 mix 29 counter 6 names one two\noverridable through the library: 7\ncallback: 37, value 42\n',
      });
    });

    for (const [p, l] of [['tslink', 'tslink'], ['ld.lld', 'tslink'], ['tslink', 'ld.lld']] as const) {
      it(`a program linked by ${p} with the library linked by ${l} runs like the ld.lld pair`, async function () {
        const want = await runWith(arch, progs['ld.lld'], libs['ld.lld']);
        const got = await runWith(arch, progs[p], libs[l]);
        expect({ status: got.status, stdout: got.stdout }, got.stderr).to.deep.equal({ status: want.status, stdout: want.stdout });
      });
    }

    it('-Bsymbolic: the library binds to its own definitions, as with ld.lld', async function () {
      const want = await runWith(arch, progs['ld.lld'], libs['ld.lld-symbolic']);
      expect(want.stdout).to.include('overridable through the library: 100');
      const got = await runWith(arch, progs['ld.lld'], libs['tslink-symbolic']);
      expect({ status: got.status, stdout: got.stdout }, got.stderr).to.deep.equal({ status: want.status, stdout: want.stdout });
    });

    it('-Bsymbolic-functions: the library binds its functions to its own definitions, as with ld.lld', async function () {
      const want = await runWith(arch, progs['ld.lld'], libs['ld.lld-symbolic-functions']);
      expect(want.stdout).to.include('overridable through the library: 100');
      const got = await runWith(arch, progs['ld.lld'], libs['tslink-symbolic-functions']);
      expect({ status: got.status, stdout: got.stdout }, got.stderr).to.deep.equal({ status: want.status, stdout: want.stdout });
    });

    it('exports and imports the same dynamic symbols as ld.lld, with the same soname', async function () {
      const ours = await dynSyms(path.join(libs.tslink, 'libdemo.so'));
      const theirs = await dynSyms(path.join(libs['ld.lld'], 'libdemo.so'));
      expect(ours.defined).to.deep.equal(theirs.defined);
      expect(ours.undefined).to.deep.equal(theirs.undefined);
      expect(ours.soname).to.equal('libdemo.so');
      expect(ours.defined).to.include('protected_dec GLOBAL');
      expect(ours.defined.join(' ')).to.not.include('hidden_inc');
    });

    it('--version-script: the same hidden symbols and versions as ld.lld; programs bind to them either way', async function () {
      const script = path.join(work, 'demo.map');
      fs.writeFileSync(script, [
        '/* the first version */',
        'LIBDEMO_1.0 { global: lib_add; lib_hello; counter; local: *; };',
        'LIBDEMO_2.0 { global: lib_mix; lib_apply; lib_value; names; call_overridable; overridable; } LIBDEMO_1.0;',
        '',
      ].join('\n'));
      const out: Record<string, string> = {};
      for (const linker of ['tslink', 'ld.lld'] as const) {
        const dir = path.join(work, `${linker}-versioned`);
        fs.mkdirSync(dir, { recursive: true });
        await clang(arch, ['-shared', ldFlag(linker), '-Wl,-soname,libdemo.so', `-Wl,--version-script=${script}`, path.join(work, 'lib.o'), '-o', path.join(dir, 'libdemo.so')]);
        out[linker] = dir;
      }
      const ours = await dynSyms(path.join(out.tslink, 'libdemo.so'));
      const theirs = await dynSyms(path.join(out['ld.lld'], 'libdemo.so'));
      expect(ours.defined).to.deep.equal(theirs.defined);
      expect(ours.defined).to.include('lib_add@@LIBDEMO_1.0 GLOBAL');
      expect(ours.defined).to.include('lib_mix@@LIBDEMO_2.0 GLOBAL');
      expect(ours.defined.join(' ')).to.not.include('protected_dec');
      const verdefs = async (f: string) => (await tool('llvm-readelf', ['-V', f])).split('\n').filter((l) => /Name: |Parent/.test(l)).map((l) => l.trim());
      expect(await verdefs(path.join(out.tslink, 'libdemo.so'))).to.deep.equal(await verdefs(path.join(out['ld.lld'], 'libdemo.so')));
      // A program linked against tslink's versioned library records the versions; it runs with either library.
      const prog = path.join(work, 'prog.versioned');
      await clang(arch, [ldFlag('tslink'), path.join(work, 'main.o'), `-L${out.tslink}`, '-ldemo', '-o', prog]);
      const want = await runWith(arch, progs['ld.lld'], libs['ld.lld']);
      for (const dir of [out.tslink, out['ld.lld']]) {
        const got = await runWith(arch, prog, dir);
        expect({ status: got.status, stdout: got.stdout }, got.stderr).to.deep.equal({ status: want.status, stdout: want.stdout });
      }
      expect(await tool('llvm-readelf', ['-V', prog])).to.match(/LIBDEMO_2\.0/);
    });

    it('non-PIC code in a shared library is an error naming the place, as in lld', async function () {
      const obj = path.join(work, 'nopic.o');
      await clang(arch, ['-O1', '-fno-pic', '-c', path.join(work, 'lib.c'), '-o', obj]);
      const r = await exec('node', [TSLINK, '-shared', obj, '-o', path.join(work, 'nopic.so')]);
      expect(r.status).to.equal(1);
      expect(r.stderr).to.match(/^tslink: error: .*nopic\.o:\(\.text.*recompile with -fPIC/m);
      expect(fs.existsSync(path.join(work, 'nopic.so'))).to.equal(false);
    });

    it('thread-local variables in a shared library, in every model, from the program and from threads, as with ld.lld', async function () {
      const dir = path.join(work, 'tls');
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(path.join(dir, 'lib.c'), [
        '__thread int gd_var = 10;',
        'static __thread int ld_a = 1, ld_b = 2;',
        '__thread int ie_var __attribute__((tls_model("initial-exec"))) = 30;',
        'int tls_bump(void) { gd_var++; ld_a += 10; ld_b += 20; ie_var++; return gd_var + ld_a + ld_b + ie_var; }',
        'int *gd_addr(void) { return &gd_var; }',
      ].join('\n'));
      fs.writeFileSync(path.join(dir, 'main.c'), [
        '#include <stdio.h>',
        '#include <pthread.h>',
        'int tls_bump(void); int *gd_addr(void);',
        'extern __thread int gd_var;',
        'static void *thr(void *a) { printf("thread: %d %d\\n", tls_bump(), gd_var); return a; }',
        'int main(void) {',
        '  printf("main: %d %d same=%d\\n", tls_bump(), gd_var, gd_addr() == &gd_var);',
        '  pthread_t t; pthread_create(&t, 0, thr, 0); pthread_join(t, 0);',
        '  printf("main again: %d\\n", tls_bump());',
        '  return 0;',
        '}',
      ].join('\n'));
      await clang(arch, ['-O1', '-fPIC', '-c', path.join(dir, 'lib.c'), '-o', path.join(dir, 'lib.o')]);
      // The program reaches the library's variable initial-exec (PIE code) and general-dynamic (-fPIC).
      await clang(arch, ['-O1', '-c', path.join(dir, 'main.c'), '-o', path.join(dir, 'main-ie.o')]);
      await clang(arch, ['-O1', '-fPIC', '-ftls-model=global-dynamic', '-c', path.join(dir, 'main.c'), '-o', path.join(dir, 'main-gd.o')]);
      const libDir: Record<string, string> = {};
      for (const linker of ['tslink', 'ld.lld'] as const) {
        libDir[linker] = path.join(dir, linker);
        fs.mkdirSync(libDir[linker], { recursive: true });
        await clang(arch, ['-shared', ldFlag(linker), path.join(dir, 'lib.o'), '-o', path.join(libDir[linker], 'libt.so')]);
      }
      const want = 'main: 75 11 same=1\nthread: 75 11\nmain again: 107\n';
      for (const model of ['ie', 'gd']) {
        for (const linker of ['tslink', 'ld.lld'] as const) {
          const prog = path.join(dir, `prog-${model}.${linker}`);
          await clang(arch, ['-pthread', ldFlag(linker), path.join(dir, `main-${model}.o`), `-L${libDir['ld.lld']}`, '-lt', '-o', prog]);
          for (const lib of ['tslink', 'ld.lld'] as const) {
            const r = await runWith(arch, prog, libDir[lib]);
            expect({ status: r.status, stdout: r.stdout }, `${model} program by ${linker}, library by ${lib}: ${r.stderr}`).to.deep.equal({ status: 0, stdout: want });
          }
        }
      }
    });

    it('local-exec TLS in a shared library is an error naming the place, as in lld', async function () {
      const src = path.join(work, 'tls-le.c');
      fs.writeFileSync(src, '__thread int t __attribute__((tls_model("local-exec"))); int get(void) { return t; }\n');
      await clang(arch, ['-O1', '-fPIC', '-c', src, '-o', path.join(work, 'tls-le.o')]);
      const r = await exec('node', [TSLINK, '-shared', path.join(work, 'tls-le.o'), '-o', path.join(work, 'tls-le.so')]);
      expect(r.status).to.equal(1);
      expect(r.stderr).to.match(/tls-le\.o:\(\.text.*cannot be used with -shared; recompile with -fPIC/);
    });

    it('incremental: a body edit is patched; a first call to a preemptible function without a PLT entry falls back', async function () {
      const dir = path.join(work, 'incremental');
      fs.mkdirSync(dir, { recursive: true });
      const src = path.join(dir, 'lib.c');
      const obj = path.join(dir, 'lib.o');
      const lib = path.join(dir, 'libdemo.so');
      const build = async (text: string) => {
        fs.writeFileSync(src, text);
        // Without unwind tables: a function that starts making calls changes its .eh_frame size, which
        // falls back for a reason of its own (doc/incremental.md); this case is about the PLT.
        await clang(arch, ['-O1', '-fPIC', '-fsemantic-interposition', '-ffunction-sections', '-fdata-sections', '-fno-asynchronous-unwind-tables', '-fno-unwind-tables', '-c', src, '-o', obj]);
        return clang(arch, ['-shared', ldFlag('tslink'), '-Wl,--incremental,--explain,-soname,libdemo.so', obj, '-o', lib]);
      };
      expect(await build(LIB)).to.match(/^tslink: full: /m);
      const inode = fs.statSync(lib).ino;

      const edited = LIB.replace('? 42 :', '? 57 :');
      expect(await build(edited)).to.match(/^tslink: patched: /m);
      expect(fs.statSync(lib).ino, 'a relink writes a new file and renames it over the old one').to.not.equal(inode);
      let r = await runWith(arch, progs['ld.lld'], dir);
      expect(r.stdout, r.stderr).to.include('value 57');

      // lib_value now calls lib_add, which has no PLT entry (nothing in the library called it; op holds its address).
      const calls = edited.replace('? 57 :', '? lib_add(50, 2) :');
      const explain = await build(calls);
      expect(explain).to.match(/^tslink: fell-back-full: .*now calls lib_add, which has no PLT entry/m);
      r = await runWith(arch, progs['ld.lld'], dir);
      expect(r.stdout, r.stderr).to.include('value 58');
    });
  });
}
