/**
 * The `tslink` command as a user meets it: `node bin/tslink.js` spawned with
 * real command lines on objects compiled here with clang, its exit status,
 * its stderr, the file it writes, and the programs it links, run.
 *
 * Where tslink's behaviour can be compared, the same command line goes to
 * ld.lld too and the test checks they agree (exit status of the link, of the
 * program, file mode, entry point). A few tests assert ld.lld's behaviour
 * where tslink differed from it when they were written; their titles end in
 * "(as ld.lld)".
 *
 * Every link runs under umask 022. Set TSLINK_KEEP_TMP=1 to keep the work
 * directory (its path is printed).
 */
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  Pool,
  compile,
  archive,
  defaultConcurrency,
  describeExit,
  exec,
  repoRoot,
  requireTools,
  run,
  tmpDir,
  tool,
  type Arch,
  type ExecResult,
} from '../support/toolchain.js';

const ROOT = repoRoot();
const BIN = path.join(ROOT, 'bin', 'tslink.js');
const START_H_DIR = path.join(ROOT, 'test', 'programs');

/** Sources compiled for the tests: name -> C text. Each becomes NAME.o (x86-64). */
const SOURCES: Record<string, string> = {
  // main() returns foo(): 42 with foo.c.
  main: `#include "start.h"
extern int foo(void);
int test_main(void) { return foo(); }
`,
  foo: 'int foo(void) { return 42; }\n',
  foo_dup: 'int foo(void) { return 7; }\n',
  // An alternative entry point for -e.
  alt: `#define START_NO_ENTRY
#include "start.h"
void alt_entry(void) { sys_exit(7); }
`,
  undef: `#include "start.h"
extern int missing_fn(void);
int test_main(void) { return missing_fn(); }
`,
  undef2: `#include "start.h"
extern int missing_a(void);
extern int missing_b(void);
int test_main(void) { return missing_a() + missing_b(); }
`,
  // Library tests: main returns val(); each library's val() says which one it is.
  mainv: `#include "start.h"
extern int val(void);
int test_main(void) { return val(); }
`,
  val11: 'int val(void) { return 11; }\n',
  val22: 'int val(void) { return 22; }\n',
  val33: 'int val(void) { return 33; }\n',
  unref: 'int unref_fn(void) { return 5; }\n',
};

/** Compiled for AArch64 as NAME_a64.o. */
const A64_SOURCES = ['main', 'foo'];

let work = '';

/** Path of a file in the work directory. */
const w = (...parts: string[]): string => path.join(work, ...parts);

/** Runs a command under umask 022 in `cwd` (default: the work directory). */
function execUmask(cmd: string, args: readonly string[], cwd = work): Promise<ExecResult> {
  return exec('sh', ['-c', 'umask 022 && exec "$@"', 'sh', cmd, ...args], { cwd, timeoutMs: 120_000 });
}

function tslink(args: readonly string[], cwd = work): Promise<ExecResult> {
  return execUmask(process.execPath, [BIN, ...args], cwd);
}

function lld(args: readonly string[], cwd = work): Promise<ExecResult> {
  return execUmask('ld.lld', args, cwd);
}

function lines(s: string): string[] {
  return s.split('\n').filter((l) => l !== '');
}

/** Fails if the output looks like a crash rather than a diagnostic. */
function expectNoCrash(r: ExecResult, what: string): void {
  const all = r.stderr + r.stdout;
  expect(all, `${what}: a JavaScript stack trace`).to.not.match(/^\s{4}at /m);
  expect(all, `${what}: a JavaScript exception`).to.not.match(/TypeError|RangeError|ReferenceError|SyntaxError/);
  expect(all, `${what}: an internal error`).to.not.contain('internal error');
}

/**
 * The run failed as a user should see it: exit status 1, exactly `count`
 * lines on stderr, each `tslink: error: ...`, no stack trace; one of the lines
 * contains every string of `parts`. Returns the lines.
 */
function expectError(r: ExecResult, parts: string[], count = 1): string[] {
  const what = `tslink stderr:\n${r.stderr}`;
  expectNoCrash(r, what);
  expect(r.status, `exit status (${describeExit(r)}); ${what}`).to.equal(1);
  const ls = lines(r.stderr);
  expect(ls, `number of stderr lines; ${what}`).to.have.length(count);
  for (const l of ls) expect(l, what).to.match(/^tslink: error: \S/);
  const hit = ls.find((l) => parts.every((p) => l.includes(p)));
  expect(hit, `a line containing ${JSON.stringify(parts)}; ${what}`).to.be.a('string');
  return ls;
}

/** The link succeeded quietly and wrote `out`. */
function expectLinked(r: ExecResult, out: string, what = 'tslink'): void {
  expectNoCrash(r, what);
  expect(r.status, `${what} (${describeExit(r)}): ${r.stderr}`).to.equal(0);
  expect(r.stderr, `${what}: stderr`).to.equal('');
  expect(fs.existsSync(out), `${what}: output ${out} exists`).to.equal(true);
}

async function expectRuns(prog: string, status: number, arch: Arch = 'x86_64'): Promise<void> {
  const r = await run(prog, arch);
  expect(r.status, `${prog}: ${describeExit(r)} ${r.stderr}`).to.equal(status);
}

/** Links with tslink and ld.lld (same arguments) and checks both programs exit with `status`. */
async function linkBothAndRun(name: string, args: readonly string[], status: number): Promise<{ ts: string; ld: string }> {
  const ts = w('out', `${name}.tslink`);
  const ld = w('out', `${name}.lld`);
  const rl = await lld([...args, '-o', ld]);
  expect(rl.status, `ld.lld ${args.join(' ')}: ${rl.stderr}`).to.equal(0);
  expectLinked(await tslink([...args, '-o', ts]), ts);
  await expectRuns(ld, status);
  await expectRuns(ts, status);
  return { ts, ld };
}

async function definedSymbols(prog: string): Promise<string[]> {
  const out = await tool('llvm-nm', ['--defined-only', prog]);
  return lines(out).map((l) => l.trim().split(/\s+/)[2]).filter(Boolean);
}

function symbolAddress(nm: string, name: string): number {
  for (const l of lines(nm)) {
    const [addr, , n] = l.trim().split(/\s+/);
    if (n === name) return parseInt(addr, 16);
  }
  throw new Error(`${name} not in llvm-nm output:\n${nm}`);
}

function entryOf(prog: string): number {
  return Number(fs.readFileSync(prog).readBigUInt64LE(0x18));
}

function modeOf(p: string): number {
  return fs.statSync(p).mode & 0o777;
}

/** The build id note as llvm-readelf -n shows it: descriptor size and the id's hex digits. */
async function buildIdNote(prog: string): Promise<{ size: number; hex: string } | null> {
  const out = await tool('llvm-readelf', ['-n', prog]);
  const size = /GNU\s+0x([0-9a-f]+)\s+NT_GNU_BUILD_ID/.exec(out);
  const id = /Build ID:\s*([0-9a-f]+)/.exec(out);
  if (!size && !id) return null;
  expect(size, `NT_GNU_BUILD_ID line in\n${out}`).to.not.equal(null);
  expect(id, `Build ID line in\n${out}`).to.not.equal(null);
  return { size: parseInt(size![1], 16), hex: id![1] };
}

/** Program header types (PHDR, LOAD, NOTE, ...) as llvm-readelf -l names them. */
async function segmentTypes(prog: string): Promise<string[]> {
  const out = await tool('llvm-readelf', ['-l', '--wide', prog]);
  return [...out.matchAll(/^\s+([A-Z_]+)\s+0x[0-9a-f]+\s+0x[0-9a-f]+/gm)].map((m) => m[1]);
}

function listDir(dir: string): string[] {
  return fs.readdirSync(dir).sort();
}

/** Byte offsets at which `needle` occurs in `hay`. */
function occurrences(hay: Uint8Array, needle: Uint8Array): number[] {
  const at: number[] = [];
  const buf = Buffer.from(hay.buffer, hay.byteOffset, hay.byteLength);
  for (let i = buf.indexOf(needle); i >= 0; i = buf.indexOf(needle, i + 1)) at.push(i);
  return at;
}

describe('tslink command line', function () {
  before(async function () {
    this.timeout(300_000);
    await requireTools(['clang', 'ld.lld', 'llvm-ar', 'llvm-nm', 'llvm-readelf', 'qemu-aarch64']);
    work = tmpDir('tslink-cli');
    if (process.env.TSLINK_KEEP_TMP) console.log(`    work directory: ${work}`);
    for (const d of ['src', 'out', 'd1', 'd2', 'd3', 'empty']) fs.mkdirSync(w(d));
    const pool = new Pool(defaultConcurrency());
    const inc = ['-I', START_H_DIR, '-fno-pic'];
    await Promise.all([
      ...Object.entries(SOURCES).map(([name, text]) => {
        const src = w('src', `${name}.c`);
        fs.writeFileSync(src, text);
        return pool.run(() => compile(src, w(`${name}.o`), 'x86_64', inc));
      }),
      ...A64_SOURCES.map((name) => {
        const src = w('src', `${name}.a64.c`);
        fs.writeFileSync(src, SOURCES[name]);
        return pool.run(() => compile(src, w(`${name}_a64.o`), 'aarch64', inc));
      }),
    ]);
    // -L/-l: libv.a in d1 (val 11) and d2 (val 22); vals.a in d3 (val 33) for -l:.
    await archive(w('d1', 'libv.a'), [w('val11.o')]);
    await archive(w('d2', 'libv.a'), [w('val22.o')]);
    await archive(w('d3', 'vals.a'), [w('val33.o')]);
    // --whole-archive, -u: val and a member nothing references.
    await archive(w('libw.a'), [w('val22.o'), w('unref.o')]);

    // Malformed inputs.
    const foo = fs.readFileSync(w('foo.o'));
    fs.writeFileSync(w('trunc.o'), foo.subarray(0, 100));
    fs.writeFileSync(w('notes.txt'), 'These are my notes, not an object file.\n');
    // lib.a(member.o): a well-formed archive (with its index) whose member's
    // section header table offset points far past the member's end.
    fs.copyFileSync(w('foo.o'), w('member.o'));
    await archive(w('lib.a'), [w('member.o')]);
    const lib = fs.readFileSync(w('lib.a'));
    const elfAt = occurrences(lib, Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
    expect(elfAt, 'one ELF member in lib.a').to.have.length(1);
    lib.writeBigUInt64LE(0x100000n, elfAt[0] + 0x28); // e_shoff
    fs.writeFileSync(w('lib.a'), lib);
  });

  after(function () {
    if (work && !process.env.TSLINK_KEEP_TMP) fs.rmSync(work, { recursive: true, force: true });
  });

  describe('--help and --version', function () {
    it('--help exits 0 and prints usage naming -o, -e, -L, -l', async function () {
      const r = await tslink(['--help']);
      expectNoCrash(r, '--help');
      expect(r.status, r.stderr).to.equal(0);
      expect(r.stdout).to.match(/usage/i);
      for (const opt of ['-o', '-e', '-L', '-l']) expect(r.stdout).to.match(new RegExp(`(^|\\s)${opt}\\b`, 'm'));
      expect(r.stderr).to.equal('');
    });

    it('--version exits 0 and prints tslink', async function () {
      const r = await tslink(['--version']);
      expect(r.status, r.stderr).to.equal(0);
      expect(r.stdout).to.contain('tslink');
      expect(r.stderr).to.equal('');
    });

    it('-v prints the version and still links the inputs (as ld.lld)', async function () {
      const out = w('out', 'v.tslink');
      const r = await tslink(['-v', '-o', out, 'main.o', 'foo.o']);
      expect(r.status, r.stderr).to.equal(0);
      expect(r.stdout).to.contain('tslink');
      expect(fs.existsSync(out), `-v with inputs must still write ${out}, as ld.lld -v does`).to.equal(true);
      await expectRuns(out, 42);
    });
  });

  describe('errors: exit 1, one `tslink: error:` line each, no stack trace', function () {
    /** Each case: arguments, what one line must contain, whether ld.lld also rejects the command line. */
    const cases: Array<{ title: string; args: string[]; parts: string[]; lines?: number; lldFails: boolean }> = [
      { title: 'unknown option', args: ['--frobnicate', 'main.o', 'foo.o'], parts: ['--frobnicate'], lldFails: true },
      { title: 'missing input file', args: ['main.o', 'nothere.o'], parts: ['nothere.o'], lldFails: true },
      { title: 'no input files', args: [], parts: ['no input files'], lldFails: true },
      { title: '-lfoo not found', args: ['-L', 'd1', 'main.o', '-lfoo'], parts: ['-lfoo'], lldFails: true },
      { title: '-m unknown emulation', args: ['-m', 'elf_bogus', 'main.o', 'foo.o'], parts: ['emulation', 'elf_bogus'], lldFails: true },
      {
        title: 'undefined symbol (names the symbol and the object referencing it)',
        args: ['undef.o'], parts: ['undefined symbol: missing_fn', 'undef.o'], lldFails: true,
      },
      {
        title: 'two undefined symbols: one line each',
        args: ['undef2.o'], parts: ['undefined symbol: missing_b', 'undef2.o'], lines: 2, lldFails: true,
      },
      {
        title: 'duplicate strong definitions (names the symbol and both objects)',
        args: ['main.o', 'foo.o', 'foo_dup.o'], parts: ['foo', 'foo.o', 'foo_dup.o'], lldFails: true,
      },
      { title: 'truncated object (names the file and the offset)', args: ['main.o', 'trunc.o'], parts: ['trunc.o', 'offset'], lldFails: true },
      { title: 'a text file that is not an object', args: ['main.o', 'foo.o', 'notes.txt'], parts: ['notes.txt'], lldFails: true },
      { title: 'malformed archive member (names lib.a(member.o))', args: ['main.o', 'lib.a'], parts: ['lib.a(member.o)'], lldFails: true },
      { title: 'an unknown -z keyword', args: ['-z', 'nosuchkeyword', 'main.o', 'foo.o'], parts: ['-z nosuchkeyword'], lldFails: false },
      { title: 'a version script that does not exist', args: ['--version-script=nope.map', 'main.o', 'foo.o'], parts: ['nope.map'], lldFails: true },
      {
        title: 'x86-64 object then AArch64 object: incompatible',
        args: ['main.o', 'foo_a64.o'], parts: ['foo_a64.o', 'incompatible'], lldFails: true,
      },
      {
        title: 'AArch64 object then x86-64 object: incompatible',
        args: ['main_a64.o', 'foo.o'], parts: ['foo.o', 'incompatible'], lldFails: true,
      },
      {
        title: '-m elf_x86_64 with AArch64 objects: incompatible',
        args: ['-m', 'elf_x86_64', 'main_a64.o', 'foo_a64.o'], parts: ['main_a64.o', 'incompatible'], lldFails: true,
      },
    ];

    for (const c of cases) {
      it(c.title, async function () {
        const out = w('out', 'err.out');
        fs.rmSync(out, { force: true });
        const r = await tslink([...c.args, '-o', out]);
        const ls = expectError(r, c.parts, c.lines ?? 1);
        if (c.lines === 2) expect(ls.join('\n')).to.contain('undefined symbol: missing_a');
        expect(fs.existsSync(out), 'a failed link writes no output').to.equal(false);
        if (c.lldFails) {
          const rl = await lld([...c.args, '-o', w('out', 'err.lld')]);
          expect(rl.status, `ld.lld rejects it too: ${rl.stderr}`).to.not.equal(0);
        }
      });
    }
  });

  describe('-e (entry point)', function () {
    it('-e SYM starts the program at SYM', async function () {
      await linkBothAndRun('entry-alt', ['-e', 'alt_entry', 'main.o', 'foo.o', 'alt.o'], 7);
      await linkBothAndRun('entry-alt-long', ['--entry=alt_entry', 'main.o', 'foo.o', 'alt.o'], 7);
    });

    it('-e with a missing symbol: warns `cannot find entry symbol` and still links with entry 0, like ld.lld', async function () {
      const out = w('out', 'noentry.tslink');
      const r = await tslink(['-e', 'no_such_entry', '-o', out, 'main.o', 'foo.o']);
      expectNoCrash(r, r.stderr);
      expect(r.status, r.stderr).to.equal(0);
      const ls = lines(r.stderr);
      expect(ls, r.stderr).to.have.length(1);
      expect(ls[0]).to.match(/^tslink: warning: .*cannot find entry symbol no_such_entry/);
      expect(fs.existsSync(out)).to.equal(true);

      const ld = w('out', 'noentry.lld');
      const rl = await lld(['-e', 'no_such_entry', '-o', ld, 'main.o', 'foo.o']);
      expect(rl.status).to.equal(0);
      expect(rl.stderr).to.contain('cannot find entry symbol no_such_entry');
      expect(entryOf(out), 'e_entry').to.equal(entryOf(ld));
    });

    it('--fatal-warnings makes the missing entry symbol an error, and nothing is written (as ld.lld)', async function () {
      const ld = w('out', 'fatal.lld');
      const rl = await lld(['--fatal-warnings', '-e', 'no_such_entry', '-o', ld, 'main.o', 'foo.o']);
      expect(rl.status, 'ld.lld fails').to.not.equal(0);
      expect(fs.existsSync(ld)).to.equal(false);

      const out = w('out', 'fatal.tslink');
      fs.rmSync(out, { force: true });
      expectError(await tslink(['--fatal-warnings', '-e', 'no_such_entry', '-o', out, 'main.o', 'foo.o']), [
        'cannot find entry symbol no_such_entry',
      ]);
      expect(fs.existsSync(out), 'no output after a fatal warning').to.equal(false);
    });

    it('-e ADDRESS: a number that is not a symbol is the entry address (as ld.lld and GNU ld)', async function () {
      const first = w('out', 'entry-num-ref.tslink');
      expectLinked(await tslink(['-e', 'alt_entry', '-o', first, 'main.o', 'foo.o', 'alt.o']), first);
      const addr = symbolAddress(await tool('llvm-nm', [first]), 'alt_entry');
      const hexAddr = `0x${addr.toString(16)}`;

      const out = w('out', 'entry-num.tslink');
      const r = await tslink(['-e', hexAddr, '-o', out, 'main.o', 'foo.o', 'alt.o']);
      expectLinked(r, out, `tslink -e ${hexAddr}`);
      expect(entryOf(out), 'e_entry').to.equal(addr);
      await expectRuns(out, 7);
    });
  });

  describe('-L and -l', function () {
    it('-lNAME takes libNAME.a from the first -L directory that has it', async function () {
      await linkBothAndRun('lib-d1-first', ['mainv.o', '-L', 'd1', '-L', 'd2', '-lv'], 11);
      await linkBothAndRun('lib-d2-first', ['mainv.o', '-L', 'd2', '-L', 'd1', '-lv'], 22);
      await linkBothAndRun('lib-skip-empty', ['mainv.o', '-Lempty', '-Ld2', '-Ld1', '-lv'], 22);
    });

    it('-L after -l still applies (search directories are collected first)', async function () {
      await linkBothAndRun('lib-L-after', ['mainv.o', '-lv', '-L', 'd2', '-L', 'd1'], 22);
    });

    it('-l:FILE searches for FILE itself', async function () {
      await linkBothAndRun('lib-colon', ['mainv.o', '-L', 'd1', '-L', 'd3', '-l:vals.a'], 33);
      expectError(await tslink(['mainv.o', '-L', 'd3', '-lvals', '-o', w('out', 'x')]), ['-lvals']);
    });

    it('--library-path= and --library= spell the same thing', async function () {
      await linkBothAndRun('lib-long', ['mainv.o', '--library-path=d2', '--library=v'], 22);
    });

    it('an archive member nothing references is not linked', async function () {
      const { ts, ld } = await linkBothAndRun('lib-lazy', ['mainv.o', 'libw.a'], 22);
      expect(await definedSymbols(ld)).to.not.include('unref_fn');
      expect(await definedSymbols(ts)).to.not.include('unref_fn');
    });

    it('--whole-archive pulls in every member', async function () {
      const { ts, ld } = await linkBothAndRun('lib-whole', ['mainv.o', '--whole-archive', 'libw.a', '--no-whole-archive'], 22);
      expect(await definedSymbols(ld), 'ld.lld').to.include('unref_fn');
      expect(await definedSymbols(ts), 'tslink').to.include('unref_fn');
    });

    it('--no-whole-archive ends it for the archives that follow', async function () {
      const { ts } = await linkBothAndRun(
        'lib-whole-reset', ['mainv.o', '--whole-archive', '-Ld1', '-lv', '--no-whole-archive', 'libw.a'], 11,
      );
      expect(await definedSymbols(ts)).to.not.include('unref_fn');
    });

    it('-u SYM pulls in a member that nothing references', async function () {
      const { ts, ld } = await linkBothAndRun('lib-u', ['-u', 'unref_fn', 'mainv.o', 'libw.a'], 22);
      expect(await definedSymbols(ld), 'ld.lld').to.include('unref_fn');
      expect(await definedSymbols(ts), 'tslink').to.include('unref_fn');
      const { ts: ts2 } = await linkBothAndRun('lib-u-long', ['--undefined=unref_fn', 'mainv.o', 'libw.a'], 22);
      expect(await definedSymbols(ts2)).to.include('unref_fn');
    });

    it('-u SYM that nothing defines is not an error', async function () {
      await linkBothAndRun('lib-u-none', ['-u', 'nobody_defines_this', 'main.o', 'foo.o'], 42);
    });
  });

  describe('AArch64', function () {
    it('-m aarch64linux links AArch64 objects; the program runs under qemu-aarch64', async function () {
      const out = w('out', 'a64-m.tslink');
      expectLinked(await tslink(['-m', 'aarch64linux', '-o', out, 'main_a64.o', 'foo_a64.o']), out);
      await expectRuns(out, 42, 'aarch64');
    });

    it('without -m, the first input decides the architecture', async function () {
      const out = w('out', 'a64.tslink');
      expectLinked(await tslink(['-o', out, 'main_a64.o', 'foo_a64.o']), out);
      await expectRuns(out, 42, 'aarch64');
    });
  });

  describe('determinism', function () {
    // Objects, and an archive member pulled in by -u.
    const inputs = ['main.o', 'foo.o', 'alt.o', '-Ld1', '-lv', '-u', 'val'];

    it('the same inputs linked twice into two paths are byte-identical', async function () {
      const a = w('out', 'det-a');
      const b = w('out', 'det-b');
      expectLinked(await tslink([...inputs, '-o', a]), a);
      expectLinked(await tslink([...inputs, '-o', b]), b);
      expect(fs.statSync(a).size).to.be.greaterThan(0);
      expect(fs.readFileSync(a).equals(fs.readFileSync(b)), `${a} and ${b} differ`).to.equal(true);
      expect(await definedSymbols(a), 'the archive member -u pulled in').to.include('val');
      await expectRuns(a, 42);
    });

    it('absolute input paths from another directory give the same bytes', async function () {
      const a = w('out', 'det-rel');
      const b = w('out', 'det-abs');
      expectLinked(await tslink([...inputs, '-o', a]), a);
      const abs = [w('main.o'), w('foo.o'), w('alt.o'), `-L${w('d1')}`, '-lv', '-u', 'val'];
      expectLinked(await tslink([...abs, '-o', b], w('d2')), b);
      expect(fs.readFileSync(a).equals(fs.readFileSync(b)), `${a} and ${b} differ`).to.equal(true);
    });

    it('with --build-id, twice into two paths: byte-identical, same id', async function () {
      const a = w('out', 'det-id-a');
      const b = w('out', 'det-id-b');
      expectLinked(await tslink(['--build-id', ...inputs, '-o', a]), a);
      expectLinked(await tslink(['--build-id', ...inputs, '-o', b]), b);
      expect(fs.readFileSync(a).equals(fs.readFileSync(b)), `${a} and ${b} differ`).to.equal(true);
      const note = await buildIdNote(a);
      expect(note, 'a build id note').to.not.equal(null);
      await expectRuns(a, 42);
    });

    it('the build id is a hash of the output: different inputs, different id', async function () {
      const a = w('out', 'id-foo');
      const b = w('out', 'id-foo-dup');
      expectLinked(await tslink(['--build-id=sha1', 'main.o', 'foo.o', '-o', a]), a);
      expectLinked(await tslink(['--build-id=sha1', 'main.o', 'foo_dup.o', '-o', b]), b);
      const ia = await buildIdNote(a);
      const ib = await buildIdNote(b);
      expect(ia!.hex).to.not.equal(ib!.hex);
      expect(ia!.hex).to.not.match(/^0+$/);
    });

    for (const [opt, size] of [['--build-id', 8], ['--build-id=fast', 8], ['--build-id=md5', 16], ['--build-id=uuid', 16], ['--build-id=sha1', 20]] as const) {
      it(`${opt}: a ${size}-byte NT_GNU_BUILD_ID note, the size ld.lld writes`, async function () {
        const name = opt.replace(/^--/, '').replace('=', '-');
        const { ts, ld } = await linkBothAndRun(name, [opt, 'main.o', 'foo.o'], 42);
        const mine = await buildIdNote(ts);
        const theirs = await buildIdNote(ld);
        expect(theirs, 'ld.lld note').to.deep.include({ size });
        expect(mine, 'tslink note').to.not.equal(null);
        expect(mine!.size, 'descriptor size').to.equal(size);
        expect(mine!.hex).to.have.length(2 * size);
      });
    }

    it('--build-id=0xdeadbeef writes exactly those bytes', async function () {
      const { ts } = await linkBothAndRun('build-id-hex', ['--build-id=0xdeadbeef', 'main.o', 'foo.o'], 42);
      expect(await buildIdNote(ts)).to.deep.equal({ size: 4, hex: 'deadbeef' });
      // namesz 4, descsz 4, type 3 (NT_GNU_BUILD_ID), "GNU\0", the id.
      const note = Buffer.from([4, 0, 0, 0, 4, 0, 0, 0, 3, 0, 0, 0, 0x47, 0x4e, 0x55, 0, 0xde, 0xad, 0xbe, 0xef]);
      expect(occurrences(fs.readFileSync(ts), note), 'the note in the file').to.have.length(1);
    });

    it('--build-id=none and --no-build-id write no note', async function () {
      for (const opt of ['--build-id=none', '--no-build-id']) {
        const out = w('out', `no-id${opt}`);
        expectLinked(await tslink(['--build-id', opt, 'main.o', 'foo.o', '-o', out]), out);
        expect(await buildIdNote(out), opt).to.equal(null);
      }
    });

    it('the build id note is covered by a PT_NOTE segment (as ld.lld)', async function () {
      const { ts, ld } = await linkBothAndRun('build-id-ptnote', ['--build-id=sha1', 'main.o', 'foo.o'], 42);
      expect(await segmentTypes(ld), 'ld.lld program headers').to.include('NOTE');
      expect(await segmentTypes(ts), 'tslink program headers').to.include('NOTE');
    });
  });

  describe('the output file', function () {
    it('is created executable, with the mode ld.lld gives it (umask 022)', async function () {
      const { ts, ld } = await linkBothAndRun('mode', ['main.o', 'foo.o'], 42);
      expect(modeOf(ts) & 0o111, `mode ${modeOf(ts).toString(8)}`).to.not.equal(0);
      expect(modeOf(ts).toString(8)).to.equal(modeOf(ld).toString(8));
    });

    it('replaces an existing non-executable file and leaves it executable, like ld.lld', async function () {
      const dir = w('out', 'replace');
      fs.mkdirSync(dir);
      for (const name of ['prog.tslink', 'prog.lld']) {
        fs.writeFileSync(path.join(dir, name), 'old contents\n');
        fs.chmodSync(path.join(dir, name), 0o644);
      }
      expect((await lld(['main.o', 'foo.o', '-o', path.join(dir, 'prog.lld')])).status).to.equal(0);
      expectLinked(await tslink(['main.o', 'foo.o', '-o', path.join(dir, 'prog.tslink')]), path.join(dir, 'prog.tslink'));
      expect(modeOf(path.join(dir, 'prog.tslink')).toString(8)).to.equal(modeOf(path.join(dir, 'prog.lld')).toString(8));
      await expectRuns(path.join(dir, 'prog.tslink'), 42);
      expect(listDir(dir), 'no temporary files left').to.deep.equal(['prog.lld', 'prog.tslink']);
    });

    it('a successful link leaves no temporary files beside the output', async function () {
      const dir = w('out', 'clean');
      fs.mkdirSync(dir);
      expectLinked(await tslink(['main.o', 'foo.o', '-o', path.join(dir, 'prog')]), path.join(dir, 'prog'));
      expect(listDir(dir)).to.deep.equal(['prog']);
    });

    it('-o defaults to a.out in the current directory', async function () {
      const dir = w('out', 'aout');
      fs.mkdirSync(dir);
      expectLinked(await tslink([w('main.o'), w('foo.o')], dir), path.join(dir, 'a.out'));
      expect(listDir(dir)).to.deep.equal(['a.out']);
      await expectRuns(path.join(dir, 'a.out'), 42);
    });

    it('a failed link leaves no output behind when none existed, and no temporary files', async function () {
      const dir = w('out', 'fail-new');
      fs.mkdirSync(dir);
      const out = path.join(dir, 'prog');
      expectError(await tslink(['undef.o', '-o', out]), ['undefined symbol: missing_fn']);
      expect(listDir(dir)).to.deep.equal([]);
    });

    it('a failed link leaves an existing output untouched (same bytes, same mode), and no temporary files', async function () {
      const dir = w('out', 'fail-existing');
      fs.mkdirSync(dir);
      const out = path.join(dir, 'prog');
      expectLinked(await tslink(['main.o', 'foo.o', '-o', out]), out);
      const before = fs.readFileSync(out);
      const mode = modeOf(out);
      expectError(await tslink(['undef.o', '-o', out]), ['undefined symbol: missing_fn']);
      expect(fs.readFileSync(out).equals(before), 'the old output is byte-identical').to.equal(true);
      expect(modeOf(out)).to.equal(mode);
      expect(listDir(dir)).to.deep.equal(['prog']);
      await expectRuns(out, 42);

      // ld.lld does the same.
      const ld = path.join(dir, 'prog.lld');
      fs.copyFileSync(out, ld);
      expect((await lld(['undef.o', '-o', ld])).status).to.not.equal(0);
      expect(fs.readFileSync(ld).equals(before), 'ld.lld leaves it too').to.equal(true);
    });

    it('an unwritable output path is an error naming it', async function () {
      const out = w('out', 'no-such-dir', 'prog');
      expectError(await tslink(['main.o', 'foo.o', '-o', out]), [out]);
      expect(fs.existsSync(path.dirname(out))).to.equal(false);
    });
  });
});
