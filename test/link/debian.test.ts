/**
 * Real third-party static archives from Debian, linked through the compiler
 * driver the way a user would link them.
 *
 * Each workload is a small driver program of ours (test/debian/NAME/main.c)
 * built against a Debian -dev package's headers and static archive:
 *
 *   lua     liblua5.4.a   (liblua5.4-dev)   a Lua host running a script
 *   sqlite  libsqlite3.a  (libsqlite3-dev)  an in-memory database and queries
 *   zlib    libz.a        (zlib1g-dev)      deflate / inflate / checksums
 *
 * compiled once per architecture and linked, in every link mode of MODES, by
 * both linkers (-static: MODE is -static and LIB is -lNAME):
 *
 *   clang --target=ARCH-linux-gnu MODE --ld-path=<repo>/bin/tslink.js main.o LIB [-lm] -o prog.tslink
 *   clang --target=ARCH-linux-gnu MODE -fuse-ld=lld                   main.o LIB [-lm] -o prog.ld.lld
 *
 * The executables are run (AArch64 under qemu-aarch64). The ld.lld output
 * must exit with the status and print the lines below (a check on the
 * program itself: these literals were written for Debian 12's Lua 5.4.4,
 * SQLite 3.40.1 and zlib 1.2.13, whose versions each program prints first);
 * tslink's output must exit with the same status, print the same stdout,
 * be of the mode's kind (static: ET_EXEC without PT_INTERP), and define the
 * same global symbols as ld.lld's (so it pulled the same archive members).
 *
 * AArch64 needs the arm64 multiarch -dev packages (liblua5.4-dev:arm64...,
 * under /usr/lib/aarch64-linux-gnu) beside the cross toolchain
 * (libc6-dev-arm64-cross, gcc-aarch64-linux-gnu): see scripts/install-deps.sh.
 * clang searches the multiarch directories for --target=aarch64-linux-gnu by
 * itself, so no -L is needed.
 *
 * Set TSLINK_KEEP_TMP=1 to keep the build directory (its path is printed).
 */
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  ARCHES,
  type Arch,
  type ExecResult,
  Pool,
  defaultConcurrency,
  describeExit,
  exec,
  repoRoot,
  requireTools,
  run,
  showCommand,
  tmpDir,
  tool,
} from '../support/toolchain.js';

const ROOT = repoRoot();
const SOURCES = path.join(ROOT, 'test', 'debian');
const TSLINK = path.join(ROOT, 'bin', 'tslink.js');

const LINKERS = ['ld.lld', 'tslink'] as const;
type Linker = (typeof LINKERS)[number];

interface LinkMode {
  /** Test name and build subdirectory. */
  name: string;
  /** Driver flags that select the mode. */
  flags: string[];
  /** The output is a static executable (ET_EXEC, no PT_INTERP); otherwise a PIE with PT_INTERP. */
  static: boolean;
  /**
   * The workload's library comes from its static archive, so the program
   * defines its functions. Outside -static that takes `-l:libNAME.a`; when
   * false, `-lNAME` finds Debian's shared library instead.
   */
  fromArchive: boolean;
}

/**
 * How the workloads are linked. The objects are compiled once, in clang's
 * default (PIE) code model, which every mode can link; Debian's archives are
 * PIE code too. Static; a dynamic PIE with Debian's static archive and the
 * shared C library; and a dynamic PIE with Debian's shared library.
 * (qemu-aarch64 finds the arm64 dynamic loader and libraries of the multiarch
 * packages under /lib/aarch64-linux-gnu by itself.)
 */
const MODES: LinkMode[] = [
  { name: 'static', flags: ['-static'], static: true, fromArchive: true },
  { name: 'pie', flags: ['-pie'], static: false, fromArchive: true },
  { name: 'pie-shared', flags: ['-pie'], static: false, fromArchive: false },
];

interface Workload {
  /** Test name, build subdirectory, and directory under test/debian. */
  name: string;
  /** The Debian package that provides the headers and the archive (for messages). */
  pkg: string;
  /** The library's name, as in -lNAME. */
  lib: string;
  /** Compiler flags. */
  cflags: string[];
  /** Driver arguments after the library, like -lm. */
  syslibs: string[];
  /** Functions of the library the linked program must define (so the archive really was linked in). */
  symbols: string[];
  /** Exit status and stdout lines the program must produce (checked on the ld.lld output). */
  status: number;
  stdout: string[];
}

const WORKLOADS: Workload[] = [
  {
    name: 'lua',
    pkg: 'liblua5.4-dev',
    lib: 'lua5.4',
    // What `pkg-config --cflags --libs lua5.4` says, for either architecture.
    cflags: ['-O2', '-I/usr/include/lua5.4'],
    syslibs: ['-lm'],
    symbols: ['luaL_newstate', 'luaL_openlibs', 'lua_pcallk', 'luaL_error', 'luaopen_string'],
    status: 9920 % 256,
    stdout: [
      'Lua 5.4.4',
      'words\t9\tthe,quick,brown,fox,jumps,over,the,lazy,dog',
      'upper/rep/sub\tQUICK\tab-ab-ab\t17\t19',
      'gsub\tquick The fox brown over jumps lazy the dog\t4',
      'byte/char\t84\tLua\t43\tgod yzal',
      'sorted\tbrown jumps quick lazy over dog fox the the',
      'letters\t26\to=4 e=3 h=2 r=2 t=2',
      'closures\t9\t14\t12',
      'ints\t3\t-4\t-2\t1024.0\t1099511627776\t9223372036854775807\t3',
      'floats\t3.5\tinf\t-0.0\t3.1415926535898\t0.3',
      'format 3.142 1.2346e+04 1e-05 9.0072e+15 100.0% beef "a\\',
      'b"',
      'series -2.587948 floor -3 fmod 1.50',
      'fib\t0 1 1 2 3 5 8 13 21 34 55 89',
      'coroutine\ttrue\t42\tfalse\ttable\t5\tdead',
      'pcall\tfalse\tplain message',
      "nil index\tfalse\tattempt to index a nil value (local 't')",
      'error object\tfalse\tcustom error object',
      'from C\tfalse\tc_fail called with 42',
      'xpcall\tfalse\thandled: deep',
      'c_sum\t10.75\t4',
      'userdata\t113\tCounter(113 after 3 adds)',
      'metatables\t(4, 3)\t5.0\ttrue',
      'goto\t1,3,5,7,9',
      'weak\t1',
      'pack\t15\t-2\t0.5\thi\t16',
      'utf8\t11\tH\u00e4\u20ac',
      'syntax error: status 3, [string "return 1 +"]:1: unexpected symbol near <eof>',
      'runtime error: status 2, no field missing',
      'checksum 9920, stack top 0',
    ],
  },
  {
    name: 'sqlite',
    pkg: 'libsqlite3-dev',
    lib: 'sqlite3',
    cflags: ['-O2'],
    syslibs: ['-lm'],
    symbols: ['sqlite3_open', 'sqlite3_prepare_v2', 'sqlite3_step', 'sqlite3_create_function', 'sqlite3_exec'],
    status: 200,
    stdout: [
      'sqlite 3.40.1, threadsafe 1',
      'inserted 200 orders, last rowid 200, changes 212',
      'totals: 200 | 1021 | 30316.31 | 5.1050 | 1 | 9',
      'by customer: Ken | 29 | 148 | 7262.80',
      'by customer: Dennis | 37 | 214 | 5627.54',
      'by customer: Barbara | 32 | 164 | 5169.54',
      'by customer: Linus | 41 | 203 | 5144.30',
      'by customer: Grace | 29 | 129 | 3639.17',
      'by customer: Ada | 32 | 163 | 3472.96',
      'by customer: Margaret | 0 | 0 | 0.00',
      'by city: Boston | 1 | 164',
      'by city: Helsinki | 1 | 203',
      'by city: London | 1 | 163',
      'by city: Murray Hill | 2 | 362',
      'best product: gizmo | 269',
      'best product: widget | 208',
      'above average: Dennis',
      'above average: Linus',
      'rank: Dennis | 214 | 1 | 214',
      'rank: Linus | 203 | 2 | 417',
      'rank: Barbara | 164 | 3 | 581',
      'fibonacci: 10 | 34',
      'fibonacci: 50 | 7778742049',
      'fibonacci: 90 | 1779979416004714189',
      'json: 20 | 10 | 190 | {"rows":20,"first":0}',
      'c functions: doohickey | 4 | 5.2500',
      'c functions: gadget | 2 | 10.0000',
      'c functions: gizmo | 2 | 99.9900',
      'c functions: sprocket | 2 | 0.7500',
      'c functions: widget | 2 | 2.5000',
      'geomean: 4.314734',
      'strings: GRACE | 9 | Arl | Arlington | 3 | 1 | 4772616365',
      'strings: DENNIS | 11 | Mur | Murray_Hill | 0 | 0 | 44656E6E6973',
      'floats: 0.3333 | 0.6666666667 | 1.234500e+03 | inf | -3.0000 | 1 | -3',
      'math: 1.381773291 | 0.546302490 | 3.141592653590 | -2.0000 | 2.000000000 | 3.0000 | 2.718281828 | 1',
      'plan: 3 | 0 | 0 | SEARCH orders USING INDEX orders_by_customer (customer=?)',
      'duplicate name: UNIQUE constraint failed: customer.name (19)',
      'zero price: CHECK constraint failed: price > 0 (19)',
      'inside transaction: 83',
      'after rollback: 200 | 1',
      'closed, 200 orders',
    ],
  },
  {
    name: 'zlib',
    pkg: 'zlib1g-dev',
    lib: 'z',
    cflags: ['-O2'],
    syslibs: [],
    symbols: ['deflate', 'inflate', 'crc32', 'adler32', 'compress2', 'uncompress'],
    status: 0,
    stdout: [
      'zlib 1.2.13, input 262144 bytes, compressBound 262237',
      'crc32 113baeac adler32 f7206716',
      'crc32_combine of two parts: ok',
      'adler32_combine of two parts: ok',
      'level 0: 262175 bytes, crc32 f69ae62b, adler32 8d9a731a',
      'level 0 round trip: ok',
      'level 1: 57713 bytes, crc32 21a040b2, adler32 95d89481',
      'level 1 round trip: ok',
      'level 6: 39927 bytes, crc32 48a02123, adler32 786131ba',
      'level 6 round trip: ok',
      'level 9: 38110 bytes, crc32 8203af79, adler32 ae084d8c',
      'level 9 round trip: ok',
      'gzip stream: 39953 bytes in 40 deflate calls, magic 1f 8b, crc32 4ca2c97a',
      'gzip trailer holds the crc32 and the length: ok',
      "inflated 262144 bytes, file name 'generated.txt'",
      'gzip round trip: ok',
      'corrupted stream rejected: ok',
      '0 checks failed',
    ],
  },
];

/**
 * Linker-defined symbols the two linkers may define differently: ld.lld
 * keeps glibc's __start_SECTION / __stop_SECTION (for __libc_atexit and
 * __libc_IO_vtables) global in .symtab. Left out of the symbol comparison.
 */
const LINKER_DEFINED = /^__(start|stop)_/;

interface Outcome {
  status: number | null;
  stdout: string;
}

function explainRun(r: ExecResult, prog: string): string {
  return `${prog}: ${describeExit(r)}${r.stderr ? `\nstderr: ${r.stderr.trim()}` : ''}\nstdout:\n${r.stdout}`;
}

function expected(w: Workload): Outcome {
  return { status: w.status, stdout: w.stdout.map((l) => `${l}\n`).join('') };
}

function archiveOf(w: Workload): string {
  return `lib${w.lib}.a`;
}

/** Where clang finds the workload's static archive for the target, or throws naming the package to install. */
async function findArchive(arch: Arch, w: Workload): Promise<string> {
  const found = (await tool('clang', [`--target=${arch}-linux-gnu`, `-print-file-name=${archiveOf(w)}`])).trim();
  if (!path.isAbsolute(found) || !fs.existsSync(found)) {
    const pkg = arch === 'x86_64' ? w.pkg : `${w.pkg}:arm64`;
    throw new Error(`clang --target=${arch}-linux-gnu finds no ${archiveOf(w)}: install ${pkg} (scripts/install-deps.sh)`);
  }
  return found;
}

/** The driver's link command line (without the driver itself). */
function linkArgs(arch: Arch, w: Workload, mode: LinkMode, linker: Linker, obj: string, out: string): string[] {
  const ld = linker === 'ld.lld' ? ['-fuse-ld=lld'] : [`--ld-path=${TSLINK}`];
  const lib = mode.fromArchive && !mode.static ? `-l:${archiveOf(w)}` : `-l${w.lib}`;
  return [`--target=${arch}-linux-gnu`, ...mode.flags, ...ld, obj, lib, ...w.syslibs, '-o', out];
}

/** Link through the driver; throw with the command and its output on failure. */
async function driverLink(args: string[], out: string, linker: Linker): Promise<void> {
  fs.mkdirSync(path.dirname(out), { recursive: true });
  const r = await exec('clang', args, { timeoutMs: 180_000 });
  if (r.status !== 0) {
    throw new Error(`${linker} link failed (${describeExit(r)}): ${showCommand('clang', args)}\n${`${r.stdout}${r.stderr}`.trim()}`);
  }
  if (!fs.existsSync(out)) throw new Error(`${showCommand('clang', args)} exited 0 but wrote no ${out}`);
}

/** Names of the global and weak symbols a program defines. */
async function definedGlobals(prog: string): Promise<string[]> {
  const out = await tool('llvm-nm', ['--defined-only', '--extern-only', '--format=just-symbols', prog]);
  return [...new Set(out.split('\n').filter((s) => s && !LINKER_DEFINED.test(s)))].sort();
}

/**
 * The executable is of the mode's kind: static is ET_EXEC (no -pie) without
 * PT_INTERP (no dynamic loader); otherwise ET_DYN (a PIE) with PT_INTERP.
 */
async function checkExeKind(prog: string, mode: LinkMode): Promise<void> {
  const out = await tool('llvm-readelf', ['-h', '-l', '--wide', prog]);
  const type = /^\s*Type:\s+(\w+)/m.exec(out)?.[1];
  const interp = /^\s*INTERP\b/m.test(out);
  expect({ type, interp }, `${prog}:\n${out}`).to.deep.equal(mode.static ? { type: 'EXEC', interp: false } : { type: 'DYN', interp: true });
}

for (const arch of ARCHES) {
  describe(`Debian archive workloads through the compiler driver (${arch})`, function () {
    this.timeout(300_000);
    const pool = new Pool(defaultConcurrency());
    const objects = new Map<string, Promise<string>>();
    const links = new Map<string, Promise<string>>();
    let work = '';

    function objectOf(w: Workload): Promise<string> {
      const o = objects.get(w.name);
      if (!o) throw new Error(`no build for ${w.name}`);
      return o;
    }

    function linked(w: Workload, mode: LinkMode, linker: Linker): Promise<string> {
      const id = `${w.name}:${mode.name}:${linker}`;
      let pr = links.get(id);
      if (!pr) {
        pr = (async () => {
          const obj = await objectOf(w);
          const out = path.join(work, w.name, mode.name, `prog.${linker}`);
          await pool.run(() => driverLink(linkArgs(arch, w, mode, linker, obj, out), out, linker));
          return out;
        })();
        pr.catch(() => {}); // reported by the test that awaits it
        links.set(id, pr);
      }
      return pr;
    }

    async function outcome(w: Workload, mode: LinkMode, linker: Linker): Promise<{ prog: string; r: ExecResult }> {
      const prog = await linked(w, mode, linker);
      return { prog, r: await run(prog, arch) };
    }

    before(async function () {
      await requireTools(['clang', 'ld.lld', 'llvm-nm', 'llvm-readelf', ...(arch === 'aarch64' ? ['qemu-aarch64'] : [])]);
      if (arch === 'aarch64') {
        // clang finds the AArch64 libgcc (and crtbegin/crtend) through the cross GCC installation.
        await requireTools(['aarch64-linux-gnu-gcc']).catch((e: Error) => {
          throw new Error(`${e.message} Install libc6-dev-arm64-cross and gcc-aarch64-linux-gnu (scripts/install-deps.sh).`);
        });
      }
      work = tmpDir(`tslink-debian-${arch}`);
      if (process.env.TSLINK_KEEP_TMP) console.log(`    build directory: ${work}`);
      for (const w of WORKLOADS) {
        const o = (async () => {
          await findArchive(arch, w);
          const obj = path.join(work, w.name, 'main.o');
          fs.mkdirSync(path.dirname(obj), { recursive: true });
          const args = [`--target=${arch}-linux-gnu`, ...w.cflags, '-c', path.join(SOURCES, w.name, 'main.c'), '-o', obj];
          await pool.run(() => tool('clang', args, { timeoutMs: 120_000 }));
          return obj;
        })();
        o.catch(() => {});
        objects.set(w.name, o);
      }
      // Start every link in the background; each test awaits its own.
      for (const w of WORKLOADS) for (const mode of MODES) for (const linker of LINKERS) void linked(w, mode, linker);
    });

    after(async function () {
      await Promise.allSettled([...objects.values(), ...links.values()]);
      if (work && !process.env.TSLINK_KEEP_TMP) fs.rmSync(work, { recursive: true, force: true });
    });

    for (const w of WORKLOADS) {
      for (const mode of MODES) {
        it(`${w.name} (${mode.name}): the ld.lld build exits ${w.status} and prints the expected output`, async function () {
          const { prog, r } = await outcome(w, mode, 'ld.lld');
          expect({ status: r.status, stdout: r.stdout }, explainRun(r, prog)).to.deep.equal(expected(w));
        });

        it(`${w.name} (${mode.name}): the tslink build runs like the ld.lld build (status, stdout)`, async function () {
          const ref = await outcome(w, mode, 'ld.lld');
          const { prog, r } = await outcome(w, mode, 'tslink');
          expect({ status: r.status, stdout: r.stdout }, explainRun(r, prog)).to.deep.equal({ status: ref.r.status, stdout: ref.r.stdout });
          await checkExeKind(prog, mode);
        });

        const title = mode.fromArchive
          ? `pulls the same members of ${archiveOf(w)} as ld.lld (same global symbols)`
          : 'defines the same global symbols as ld.lld';
        it(`${w.name} (${mode.name}): tslink ${title}`, async function () {
          const [ref, mine] = await Promise.all([linked(w, mode, 'ld.lld'), linked(w, mode, 'tslink')]);
          const want = await definedGlobals(ref);
          if (mode.fromArchive) {
            expect(w.symbols.filter((s) => !want.includes(s)), `${ref} defines the library's functions`).to.deep.equal([]);
          }
          const got = await definedGlobals(mine);
          const missing = want.filter((s) => !got.includes(s));
          const extra = got.filter((s) => !want.includes(s));
          expect({ missing, extra }, `global symbols of ${mine} against ${ref}`).to.deep.equal({ missing: [], extra: [] });
        });
      }
    }
  });
}
