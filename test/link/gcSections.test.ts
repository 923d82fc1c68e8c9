/**
 * --gc-sections, differentially against ld.lld 14 (src/link/gcSections.ts).
 *
 * Small freestanding C programs, compiled with -ffunction-sections
 * -fdata-sections for x86-64 and AArch64, are linked with `--gc-sections
 * --print-gc-sections` by ld.lld and by tslink. Both outputs must run the
 * same, define the same symbols (llvm-nm), and the two linkers must report
 * the same removed sections, line for line. The programs hold one case per
 * rule: unused functions, functions and data only dead code uses, a string
 * section only dead code uses, a dead common symbol, an undefined symbol only
 * dead code calls, `used` (not kept) against `retain` (kept), a constructor
 * in .init_array, linker sets through __start_/__stop_ under lld's default
 * -z start-stop-gc and under -z nostart-stop-gc, -u roots, and .eh_frame,
 * whose FDEs must not keep their functions. And a C++ program against static
 * glibc and libstdc++ (exceptions: personality routines and LSDAs), whose
 * thousand-odd removed sections must be ld.lld's.
 *
 * Then incremental links with --gc-sections (LinkSession, as a fresh
 * process each time, and the command line): a body edit of a live function
 * patches; an edit of a dead function patches and it stays out; an edit that
 * makes a live function call a dead one falls back, saying why; toggling the
 * option falls back. Each result runs as ld.lld's cold link of the same
 * objects does.
 */
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { checkStructure } from '../support/elfcheck.js';
import {
  ARCHES, type Arch, LINK_FLAGS, compile, exec, linkLld, repoRoot, requireTools, run, tmpDir, tool,
} from '../support/toolchain.js';
import { PersistedOutput, type InputFile } from '../link-incremental/support.js';

const ROOT = repoRoot();
const START_H_DIR = path.join(ROOT, 'test', 'programs');
const GC = [...LINK_FLAGS, '--gc-sections', '--print-gc-sections'];

const MAIN_C = `#include "start.h"

extern int live_fn(int);

static int ctor_ran;
/* A constructor: .init_array keeps it, and it keeps what it uses. */
__attribute__((constructor)) static void ctor(void) { ctor_ran = OPAQUE(40); }
extern void (*__init_array_start[])(void), (*__init_array_end[])(void);

struct entry { int v; };
/* A linker set whose entries are retained: __start_/__stop_ find them. */
__attribute__((used, retain, section("gc_set"))) static const struct entry kept_a = { 1 };
extern const struct entry __start_gc_set[], __stop_gc_set[];
/* One whose entries are not: under lld's default -z start-stop-gc they go, and the weak bounds are 0. */
__attribute__((used, section("gc_weak_set"))) static const struct entry dropped_b = { 100 };
extern const struct entry __start_gc_weak_set[] __attribute__((weak)), __stop_gc_weak_set[] __attribute__((weak));

/* 'used' alone does not set SHF_GNU_RETAIN (clang 14), so lld drops it; 'retain' keeps it. */
__attribute__((used)) static int used_only(void) { return 5; }
__attribute__((used, retain)) int retained_fn(void) { return 6; }

int test_main(void) {
  for (void (**p)(void) = __init_array_start; p < __init_array_end; p++) (*p)();
  int s = ctor_ran;
  for (const struct entry *e = __start_gc_set; e < __stop_gc_set; e++) s += e->v;
  for (const struct entry *e = __start_gc_weak_set; e < __stop_gc_weak_set; e++) s += e->v;
  return s + live_fn(1);
}
`;

const LIB_C = `extern int nowhere(void); /* defined nowhere: only dead code calls it */
int live_data = 2;
int dead_data[4] = { 1, 2, 3, 4 };
int common_dead __attribute__((common));
__attribute__((noinline)) static int only_from_dead(int x) { return x + nowhere(); }
__attribute__((noinline)) int only_from_dead_global(int x) { return x * dead_data[x & 3] + common_dead; }
const char *dead_message(void) { return "only dead code uses this string"; }
int unused_fn(int x) { return only_from_dead(x) + only_from_dead_global(x) + *dead_message(); }
__attribute__((noinline)) int live_fn(int x) { return x + live_data; }
`;

/** A strong reference to the bounds of a set nothing retains: an error under -z start-stop-gc. */
const LOST_C = `struct entry { int v; };
__attribute__((used, section("gc_lost"))) static const struct entry lost = { 1 };
extern const struct entry __start_gc_lost[], __stop_gc_lost[];
int use_lost(void) { return (int)(__stop_gc_lost - __start_gc_lost); }
`;

/** The incremental program: main calls live_fn; lib's versions edit it and dead_fn. */
const INC_MAIN_C = `#include "start.h"
extern int live_fn(int);
int test_main(void) { return live_fn(3); }
`;
const INC_LIB = {
  v1: '__attribute__((noinline)) int dead_fn(int x) { return x * 7; }\n__attribute__((noinline)) int live_fn(int x) { return x + 10; }\n',
  /** The live function's body changes, not what it refers to: a patch. */
  v2: '__attribute__((noinline)) int dead_fn(int x) { return x * 7; }\n__attribute__((noinline)) int live_fn(int x) { return x + 20; }\n',
  /** The dead function changes (and now calls the live one): it stays dead, a patch. */
  v3: '__attribute__((noinline)) int dead_fn(int x) { return x * 9 + live_fn(x); }\n__attribute__((noinline)) int live_fn(int x) { return x + 20; }\n',
  /** The live function now calls the dead one: what is kept changes, a full link. */
  v4: '__attribute__((noinline)) int dead_fn(int x) { return x * 9 + 1; }\n__attribute__((noinline)) int live_fn(int x) { return x + dead_fn(x); }\n',
  /** v1 with the dead function retained (SHF_GNU_RETAIN): what is kept changes, a full link. */
  v1r: '__attribute__((noinline, used, retain)) int dead_fn(int x) { return x * 7; }\n__attribute__((noinline)) int live_fn(int x) { return x + 10; }\n',
} as const;
type IncVersion = keyof typeof INC_LIB;

async function definedNames(file: string): Promise<string[]> {
  const out = await tool('llvm-nm', ['--defined-only', file]);
  return out.split('\n').map((l) => l.trim().split(/\s+/).pop()!).filter(Boolean).sort();
}

/** Runs tslink's command line; returns its result (stdout holds --print-gc-sections / --explain). */
function tslink(args: readonly string[], cwd: string) {
  return exec(process.execPath, [path.join(ROOT, 'bin', 'tslink.js'), ...args], { cwd, timeoutMs: 120_000 });
}

for (const arch of ARCHES) {
  describe(`--gc-sections (${arch})`, function () {
    this.timeout(120_000);
    let dir = '';
    const lines = (s: string) => s.split('\n').filter(Boolean);

    before(async function () {
      await requireTools(['clang', 'clang++', 'ld.lld', 'llvm-nm', 'llvm-readelf', ...(arch === 'aarch64' ? ['qemu-aarch64'] : [])]);
      dir = tmpDir(`tslink-gc-${arch}`);
      const sources: Record<string, string> = { 'main.c': MAIN_C, 'lib.c': LIB_C, 'lost.c': LOST_C, 'inc_main.c': INC_MAIN_C };
      // Each version of the incremental lib.c in a directory of its own: the name, in the object's STT_FILE symbol, stays the same.
      for (const [v, text] of Object.entries(INC_LIB)) sources[`inc_${v}/lib.c`] = text;
      for (const [name, text] of Object.entries(sources)) {
        fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
        fs.writeFileSync(path.join(dir, name), text);
      }
      const jobs = Object.keys(sources).map((name) => compile(path.join(dir, name), path.join(dir, name.replace(/\.c$/, '.o')), arch, ['-I', START_H_DIR]));
      // With unwind tables: .eh_frame, whose FDEs refer to every function, live or not.
      for (const name of ['main', 'lib']) {
        jobs.push(compile(path.join(dir, `${name}.c`), path.join(dir, `${name}_eh.o`), arch, ['-I', START_H_DIR, '-funwind-tables']));
      }
      await Promise.all(jobs);
    });

    after(function () {
      if (dir && !process.env.TSLINK_KEEP_TMP) fs.rmSync(dir, { recursive: true, force: true });
    });

    /** Links main.o lib.o (relative names, so both linkers print the same) with both linkers and compares. */
    async function differential(extra: string[], expectStatus: number): Promise<{ names: string[]; removed: string[] }> {
      const lld = await exec('ld.lld', [...GC, ...extra, '-o', 'out.lld', 'main.o', 'lib.o'], { cwd: dir });
      expect(lld.status, lld.stderr).to.equal(0);
      const ts = await tslink([...GC, ...extra, '-o', 'out.tslink', 'main.o', 'lib.o'], dir);
      expect(ts.status, ts.stderr).to.equal(0);
      expect(lines(ts.stdout), '--print-gc-sections: the same sections removed, in the same order').to.deep.equal(lines(lld.stdout));
      for (const out of ['out.lld', 'out.tslink']) {
        const r = await run(path.join(dir, out), arch);
        expect(r.status, `${out}: ${r.stderr}`).to.equal(expectStatus);
      }
      const names = await definedNames(path.join(dir, 'out.tslink'));
      expect(names, 'the same defined symbols as ld.lld').to.deep.equal(await definedNames(path.join(dir, 'out.lld')));
      expect(await checkStructure(path.join(dir, 'out.tslink'))).to.deep.equal([]);
      return { names, removed: lines(ts.stdout) };
    }

    it('keeps what the roots reach and removes the rest, as ld.lld does', async function () {
      const { names, removed } = await differential([], 44);
      expect(names).to.include.members(['_start', 'test_main', 'live_fn', 'live_data', 'retained_fn', 'ctor', 'ctor_ran', 'kept_a']);
      for (const gone of ['unused_fn', 'only_from_dead', 'only_from_dead_global', 'dead_data', 'dead_message', 'common_dead', 'used_only', 'dropped_b']) {
        expect(names, `${gone} is removed`).to.not.include(gone);
      }
      expect(removed).to.include.members([
        'removing unused section lib.o:(COMMON)', 'removing unused section lib.o:(.rodata.str1.1)',
        'removing unused section lib.o:(.text.unused_fn)', 'removing unused section main.o:(gc_weak_set)',
      ]);
    });

    it('-u keeps a function and what it uses', async function () {
      const { names } = await differential(['-u', 'only_from_dead_global'], 44);
      expect(names).to.include.members(['only_from_dead_global', 'dead_data', 'common_dead']);
      expect(names).to.not.include('unused_fn');
    });

    it('-z nostart-stop-gc: a reference to __start_SEC keeps the sections SEC', async function () {
      const { names } = await differential(['-z', 'nostart-stop-gc'], 144);
      expect(names).to.include('dropped_b');
    });

    it('without --gc-sections (or with --no-gc-sections after it) everything is kept', async function () {
      const r = await tslink([...GC, '--no-gc-sections', '-o', 'out.all', 'main.o', 'lib.o'], dir);
      // Keeping the dead code keeps its call to an undefined function: that is an error now, as in lld.
      expect(r.status).to.equal(1);
      expect(r.stderr).to.match(/undefined symbol: nowhere \(referenced by lib\.o\)/);
      const lld = await exec('ld.lld', [...LINK_FLAGS, '-o', 'out.all.lld', 'main.o', 'lib.o'], { cwd: dir });
      expect(lld.status).to.equal(1);
      expect(lld.stderr).to.match(/undefined symbol: nowhere/);
    });

    it('a live strong reference to __start_SEC whose sections are all removed is an error, as in lld', async function () {
      const args = [...GC, '-u', 'use_lost', '-o', 'out.lost', 'main.o', 'lib.o', 'lost.o'];
      const lld = await exec('ld.lld', args, { cwd: dir });
      expect(lld.status).to.equal(1);
      expect(lld.stderr).to.match(/undefined symbol: __start_gc_lost/);
      const ts = await tslink(args, dir);
      expect(ts.status).to.equal(1);
      expect(ts.stderr).to.match(/^tslink: error: undefined symbol: __start_gc_lost \(referenced by lost\.o:\(\.text\.use_lost\)\): .*-z nostart-stop-gc$/m);
      // The same link keeping the set, as lld's message suggests.
      expect((await tslink([...args, '-z', 'nostart-stop-gc'], dir)).status).to.equal(0);
      expect((await exec('ld.lld', [...args, '-z', 'nostart-stop-gc'], { cwd: dir })).status).to.equal(0);
    });

    it('FDEs in .eh_frame do not keep their functions; .eh_frame_hdr indexes the same FDEs as ld.lld', async function () {
      const args = [...GC, '--eh-frame-hdr', 'main_eh.o', 'lib_eh.o'];
      const ts = await tslink([...args, '-o', 'out.eh'], dir);
      expect(ts.status, ts.stderr).to.equal(0);
      const lld = await exec('ld.lld', [...args, '-o', 'out.eh.lld'], { cwd: dir });
      expect(lld.status, lld.stderr).to.equal(0);
      expect(lines(ts.stdout)).to.deep.equal(lines(lld.stdout));
      const names = await definedNames(path.join(dir, 'out.eh'));
      expect(names).to.deep.equal(await definedNames(path.join(dir, 'out.eh.lld')));
      const fdes = async (f: string) => /fde_count: (\d+)/.exec(await tool('llvm-readelf', ['--unwind', path.join(dir, f)]))?.[1];
      const count = await fdes('out.eh');
      expect(Number(count), 'the live functions have FDEs').to.be.greaterThan(0);
      expect(count).to.equal(await fdes('out.eh.lld'));
      expect((await run(path.join(dir, 'out.eh'), arch)).status).to.equal(44);
    });

    it('links a C++ program against static glibc and libstdc++ as ld.lld does (personality routines, LSDAs)', async function () {
      // test/glibc/cxx throws and catches: its FDEs' LSDAs and CIEs' personality routines must be kept, not its dead code.
      const src = path.join(ROOT, 'test', 'glibc', 'cxx');
      const units = fs.readdirSync(src).filter((f) => f.endsWith('.cc'));
      const objs = units.map((u) => path.join(dir, `cxx_${u.replace(/\.cc$/, '.o')}`));
      await Promise.all(units.map((u, i) => tool('clang++', [
        `--target=${arch}-linux-gnu`, '-O1', '-ffunction-sections', '-fdata-sections', '-c', path.join(src, u), '-o', objs[i],
      ])));
      const driver = (linker: string[], out: string) => exec('clang++', [
        `--target=${arch}-linux-gnu`, '-static', '-Wl,--gc-sections,--print-gc-sections', ...linker, ...objs, '-o', path.join(dir, out),
      ], { cwd: dir, timeoutMs: 120_000 });
      const lld = await driver(['-fuse-ld=lld'], 'cxx.lld');
      expect(lld.status, lld.stderr).to.equal(0);
      const ts = await driver([`--ld-path=${path.join(ROOT, 'bin', 'tslink.js')}`], 'cxx.tslink');
      expect(ts.status, ts.stderr).to.equal(0);
      // The same sections removed (lld names libraries by the -L path as given, tslink by the normalized one;
      // archive members load in another order, so the lists are compared as sets).
      const removed = (out: string) => lines(out)
        .map((l) => l.replace(/^(removing unused section )(.*?)(:\()/, (_m, a: string, f: string, c: string) => a + path.normalize(f) + c))
        .sort();
      const gone = removed(ts.stdout);
      expect(gone.length).to.be.greaterThan(1000);
      expect(gone).to.deep.equal(removed(lld.stdout));
      expect(await definedNames(path.join(dir, 'cxx.tslink'))).to.deep.equal(await definedNames(path.join(dir, 'cxx.lld')));
      const runIt = (f: string) => (arch === 'aarch64'
        ? exec('qemu-aarch64', ['-L', `/usr/${arch}-linux-gnu`, path.join(dir, f)], { timeoutMs: 20_000 })
        : exec(path.join(dir, f), [], { timeoutMs: 20_000 }));
      const [a, b] = [await runIt('cxx.lld'), await runIt('cxx.tslink')];
      expect(b.status).to.equal(a.status);
      expect(b.stdout).to.equal(a.stdout);
      expect(a.stdout).to.match(/\S/);
    });

    describe('incremental', function () {
      const lib = (v: IncVersion): InputFile => ({ kind: 'object', name: 'lib.o', file: path.join(dir, `inc_${v}`, 'lib.o') });
      const main = (): InputFile => ({ kind: 'object', name: 'main.o', file: path.join(dir, 'inc_main.o') });

      /** ld.lld's cold link of the same objects: the reference for the status and the symbols. */
      async function reference(v: IncVersion): Promise<{ status: number | null; names: string[] }> {
        const out = path.join(dir, `inc.${v}.lld`);
        await linkLld(out, [main().file, lib(v).file], [...LINK_FLAGS, '--gc-sections']);
        return { status: (await run(out, arch)).status, names: await definedNames(out) };
      }

      async function check(out: PersistedOutput, v: IncVersion): Promise<void> {
        const ref = await reference(v);
        expect((await run(out.file, arch)).status, `${v}: runs as ld.lld's link`).to.equal(ref.status);
        expect(await definedNames(out.file), `${v}: the symbols of ld.lld's link`).to.deep.equal(ref.names);
      }

      it('patches body edits of live and dead functions, falls back when what is kept may change', async function () {
        const out = new PersistedOutput(arch, path.join(dir, 'inc.out'), { gcSections: true, printGcSections: true });
        const first = out.link([main(), lib('v1')]);
        expect(first.report.outcome).to.equal('full');
        expect(first.report.removedSections).to.include('removing unused section lib.o:(.text.dead_fn)');
        await check(out, 'v1');

        const body = out.link([main(), lib('v2')]);
        expect(body.report.outcome, `a body edit of live_fn: ${body.report.reason}`).to.equal('patched');
        await check(out, 'v2');

        const dead = out.link([main(), lib('v3')]);
        expect(dead.report.outcome, `an edit of the dead dead_fn: ${dead.report.reason}`).to.equal('patched');
        await check(out, 'v3');
        expect(await definedNames(out.file)).to.not.include('dead_fn');

        const calls = out.link([main(), lib('v4')]);
        expect(calls.report.outcome).to.equal('fell-back-full');
        expect(calls.report.reason).to.equal('with --gc-sections, the references of .text.live_fn of lib.o changed, which can change what is kept');
        await check(out, 'v4');
        expect(await definedNames(out.file)).to.include('dead_fn');

        // The option is part of the options key: turning it off is a full link.
        const off = new PersistedOutput(arch, out.file, { gcSections: false }).link([main(), lib('v4')]);
        expect(off.report.outcome).to.equal('fell-back-full');
        expect(off.report.reason).to.match(/^the link options changed \(.*gcSections.*\)$/);
        expect((await run(out.file, arch)).status).to.equal((await reference('v4')).status);
      });

      it('falls back when a dead section becomes retained', async function () {
        const out = new PersistedOutput(arch, path.join(dir, 'inc.retain.out'), { gcSections: true });
        expect(out.link([main(), lib('v1')]).report.outcome).to.equal('full');
        const r = out.link([main(), lib('v1r')]);
        expect(r.report.outcome).to.equal('fell-back-full');
        expect(r.report.reason).to.match(/^with --gc-sections, the sections of lib\.o changed in what keeps them regardless of references/);
        await check(out, 'v1r');
        expect(await definedNames(out.file)).to.include('dead_fn');
      });

      it('through the command line: --incremental --gc-sections --explain', async function () {
        const copy = (v: IncVersion) => fs.copyFileSync(lib(v).file, path.join(dir, 'inc_lib_cur.o'));
        const link = () => tslink([...LINK_FLAGS, '--gc-sections', '--incremental', '--explain', '-o', 'cli.out', 'inc_main.o', 'inc_lib_cur.o'], dir);
        copy('v1');
        expect((await link()).stdout).to.match(/^tslink: full:/);
        copy('v2');
        expect((await link()).stdout).to.match(/^tslink: patched:/);
        expect((await run(path.join(dir, 'cli.out'), arch)).status).to.equal(23);
        copy('v4');
        const r = await link();
        expect(r.stdout).to.match(/^tslink: fell-back-full: with --gc-sections, the references of \.text\.live_fn of inc_lib_cur\.o changed, which can change what is kept/);
        expect((await run(path.join(dir, 'cli.out'), arch)).status).to.equal((await reference('v4')).status);
      });
    });
  });
}
