/**
 * glibc programs linked through the compiler driver, in four modes: static
 * (`-static`), the driver's default (a dynamically linked PIE), a
 * dynamically linked non-PIE (`-no-pie`, units compiled `-fno-pie`, so
 * that the link needs copy relocations and canonical PLT entries), and a
 * static PIE (`-static-pie`: glibc relocates itself at start-up).
 *
 * Each program in test/glibc is compiled as a user would (clang / clang++
 * with glibc and libstdc++ headers, `-c` per unit), then linked twice by the
 * driver:
 *
 *   clang --target=ARCH-linux-gnu MODE --ld-path=<repo>/bin/tslink.js OBJS -o prog.tslink
 *   clang --target=ARCH-linux-gnu MODE -fuse-ld=lld                   OBJS -o prog.lld
 *
 * and once more by tslink with `-Wl,--incremental` (the slack layout of a
 * first incremental link). The executables are run (AArch64 under
 * qemu-aarch64 -L /usr/aarch64-linux-gnu). The ld.lld output
 * must print what the spec below expects (a check on the program itself);
 * tslink's must exit with the same status and print the same stdout as
 * ld.lld's, and have the mode's shape (static: ET_EXEC without PT_INTERP;
 * PIE: ET_DYN with one; non-PIE: ET_EXEC with one). An incremental case
 * edits one unit of the basics program, recompiles it, relinks with
 * `-Wl,--incremental,--explain` and expects the output to be patched in
 * place and to run like a cold ld.lld link of the same objects.
 *
 * AArch64 needs the cross C and C++ libraries (libc6-dev-arm64-cross,
 * g++-aarch64-linux-gnu: see scripts/install-deps.sh).
 *
 * Set TSLINK_KEEP_TMP=1 to keep the build directory (its path is printed).
 */
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { checkRelaDynOrder, readElf64 } from '../support/elfcheck.js';
import {
  ARCHES,
  type Arch,
  type ExecResult,
  Pool,
  archive,
  defaultConcurrency,
  describeExit,
  exec,
  isCxx,
  repoRoot,
  requireTools,
  run,
  showCommand,
  tmpDir,
  tool,
} from '../support/toolchain.js';

const ROOT = repoRoot();
const SOURCES = path.join(ROOT, 'test', 'glibc');
const TSLINK = path.join(ROOT, 'bin', 'tslink.js');

type Linker = 'tslink' | 'tslink --incremental' | 'ld.lld';

interface UnitSpec {
  /** Source file, relative to the program's directory. */
  src: string;
  /** Compiler flags for this unit only (after the program's). */
  flags?: string[];
  /** Goes into the program's own archive (lib<name>.a, linked after the objects). */
  inArchive?: boolean;
}

interface ProgramSpec {
  /** Test name and build subdirectory. */
  name: string;
  /** Directory under test/glibc. */
  dir: string;
  /** Link with clang++ (C++ runtime) rather than clang. */
  cxx: boolean;
  /** Compiler flags for every unit (also passed to the link, like -pthread). */
  cflags: string[];
  units: UnitSpec[];
  /** Driver arguments after the objects and the archive, like -lm. */
  libs?: string[];
  /** Exit status and stdout lines the program must produce (checked on the ld.lld output). */
  status: number;
  stdout: string[];
  /** Only in the dynamic modes (it uses dlopen or dlsym). */
  dynamicOnly?: boolean;
}

const BASICS_STDOUT = (magic: number) => [
  'hello from a static glibc program',
  'ints: -17    42|7    | beef 10 -1234567890123 18446744073709551615',
  'floats: 3.142 1.234568e+04 0.0001',
  'strings: [abc] [     right] [left  ] [tru] Z%',
  'snprintf wanted 27 chars, kept "snprintf-123456" (15)',
  'heap: sum 26867640, calloc zeroed yes',
  'strlen 300 283, strcmp equal 1',
  'strcmp sign 1, memcmp sign 1, strncmp(250) 0',
  'memmove: aabcdefg',
  'memset: #####efghi',
  'strchr offset 16, strrchr offset 276',
  'strstr offset 23',
  'strcpy+strcat: concatenated (12), strdup: catenated',
  'qsort ints: -471 -455 -448 -264 -90 -73 -2 9 195 256 385 390',
  'qsort strings: apple banana cherry fig pear',
  `the magic number: ${magic}`,
  'atexit: registered second, runs first',
  'atexit: registered first, runs last',
];

const CXX_STDOUT = [
  'circle(1) area 3.142',
  'rect(10x1) area 10.000',
  'rect(3x4) area 12.000',
  'circle(2) area 12.566',
  'square(5) area 25.000',
  'circle: 2',
  'rect: 2',
  'square: 1',
  'sorted descending: 9 8 7 5 3 2 1 ',
  "parsed 2 shapes from 'square:4,circle:3'",
  "  unwinding: guard 'parse_shapes' released",
  "ParseError at column 0: unknown shape kind 'hexagon'",
  "  unwinding: guard 'parse_number' released",
  "  unwinding: guard 'parse_shapes' released",
  "ParseError at column 1: trailing characters in '5x'",
  "  unwinding: guard 'parse_number' released",
  "  unwinding: guard 'parse_shapes' released",
  'AppError: out of range: 5000',
  "  unwinding: guard 'parse_number' released",
  "  unwinding: guard 'parse_shapes' released",
  "ParseError at column 0: not a number: 'abc'",
  'std::out_of_range from vector::at',
  'errors 15, guards unwound 7, shapes destroyed 8',
];

const CXX_UNITS: UnitSpec[] = [{ src: 'main.cc' }, { src: 'shapes.cc' }, { src: 'parse.cc' }];

const PROGRAMS: ProgramSpec[] = [
  {
    name: 'basics',
    dir: 'basics',
    cxx: false,
    cflags: ['-O2'],
    units: [{ src: 'main.c' }, { src: 'value.c' }],
    status: 42 % 32,
    stdout: BASICS_STDOUT(42),
  },
  {
    name: 'units',
    dir: 'units',
    cxx: false,
    cflags: ['-O2'],
    units: [
      { src: 'main.c' },
      { src: 'arith.c' },
      { src: 'table.c' },
      { src: 'lib_sub.c', inArchive: true },
      { src: 'lib_count.c', inArchive: true },
      { src: 'lib_mod.c', inArchive: true },
      { src: 'lib_unused.c', inArchive: true },
    ],
    status: 80,
    stdout: [
      'libmini: sub mod max',
      'add(17, 5) = 22',
      'mul(17, 5) = 85',
      'sub(17, 5) = 12',
      'mod(17, 5) = 2',
      'max(17, 5) = 17',
      'fold #0 = -4',
      'fold #1 = 54',
      'fold #2 = 30',
      'same pointer through the table and directly: yes',
      'archive calls counted: 7',
    ],
  },
  {
    // GD and LD units are compiled -fPIC: in the (default) PIE code model
    // the compiler would tighten them to initial-exec / local-exec. On
    // AArch64, LLVM emits both as TLS descriptors (TLSDESC), one per
    // variable: its DTPREL form of local-dynamic is not the default, and
    // ld.lld does not link it.
    name: 'tls',
    dir: 'tls',
    cxx: false,
    cflags: ['-O2', '-pthread'],
    units: [
      { src: 'main.c' },
      { src: 'tls_gd.c', flags: ['-fPIC', '-ftls-model=global-dynamic'] },
      { src: 'tls_ld.c', flags: ['-fPIC', '-ftls-model=local-dynamic'] },
      { src: 'tls_ie.c', flags: ['-ftls-model=initial-exec'] },
      { src: 'tls_le.c', flags: ['-ftls-model=local-exec'] },
    ],
    status: 17,
    stdout: [
      'main start: name=main gd_counter=100 le_value=7 ld_sum=15 gd_big[3]=0 main_tls=1000',
      'main bumps: gd 110 ld 704 le 8',
      'main before join: name=main-thread gd_counter=103 le_value=8 ld_sum=34 gd_big[3]=0 main_tls=2000',
      'thread start: name=worker gd_counter=100 le_value=7 ld_sum=15 gd_big[3]=0 main_tls=1000',
      'thread bumps: gd 110 ld 602 le 8',
      'thread end: name=worker gd_counter=103 le_value=8 ld_sum=24 gd_big[3]=3 main_tls=1005',
      'thread returned 111',
      'main after join: name=main-thread gd_counter=103 le_value=8 ld_sum=34 gd_big[3]=0 main_tls=2000',
      "the thread's gd_counter is a different object: yes",
    ],
  },
  {
    name: 'ifunc',
    dir: 'ifunc',
    cxx: false,
    cflags: ['-O2'],
    units: [{ src: 'main.c' }, { src: 'ifunc.c' }, { src: 'other.c', flags: ['-fno-pic'] }],
    status: 41,
    stdout: [
      'f() = 41, through a pointer = 41, from other.c = 42',
      'g(6, 7) = 42, through a pointer = 42',
      '&f equal in every unit: yes',
      'sum of calls through the five pointers = 205',
    ],
  },
  {
    name: 'ctors',
    dir: 'ctors',
    cxx: true,
    cflags: ['-O2'],
    units: [{ src: 'main.cc' }, { src: 'objects.cc' }, { src: 'ctors_c.c' }],
    status: 5,
    stdout: [
      'ctor: C constructor, priority 101',
      'ctor: C constructor, priority 200',
      'ctor: C++ global main.cc',
      'ctor: C++ global objects.cc #1',
      'ctor: C++ global objects.cc #2',
      'ctor: C constructor, default priority',
      'ctor: C++ global function-local static in main',
      'main: 2 objects in objects.cc',
      'dtor: C++ global function-local static in main',
      'atexit: handler registered in main',
      'dtor: C++ global objects.cc #2',
      'dtor: C++ global objects.cc #1',
      'dtor: C++ global main.cc',
      'dtor: C destructor, default priority',
      'dtor: C destructor, priority 200',
      'dtor: C destructor, priority 101',
    ],
  },
  { name: 'cxx-O0', dir: 'cxx', cxx: true, cflags: ['-O0', '-std=c++17'], units: CXX_UNITS, status: 22, stdout: CXX_STDOUT },
  { name: 'cxx-O2', dir: 'cxx', cxx: true, cflags: ['-O2', '-std=c++17'], units: CXX_UNITS, status: 22, stdout: CXX_STDOUT },
  {
    name: 'math',
    dir: 'math',
    cxx: false,
    cflags: ['-O2'],
    units: [{ src: 'math.c' }],
    libs: ['-lm'],
    status: 35,
    stdout: [
      'sqrt(2) = 1.414214',
      'sqrt(10) = 3.162278',
      'pow(2, 10) = 1024.000000',
      'pow(10, 0.5) = 3.162278',
      'sin(0.5) = 0.479426',
      'sin(pi/6) = 0.500000',
      'cos(pi/3) = 0.500000',
      'exp(2) = 7.389056, log(10) = 2.302585',
      'atan2(1, 2) = 0.463648, fmod(10, 3) = 1.000000',
      'cbrt(10) = 2.154435, hypot(0.5, 2) = 2.061553',
      'sum of sin^2 + cos^2 over 1000 angles = 1000.000000',
    ],
  },
  {
    name: 'imports',
    dir: 'imports',
    cxx: false,
    cflags: ['-O2'],
    units: [{ src: 'main.c' }, { src: 'other.c' }],
    dynamicOnly: true,
    status: 7,
    stdout: [
      'optind 1, opterr 1',
      'stdout is fd 1, stderr is fd 2',
      'errno 34',
      '&puts the same in both units: yes, and as dlsym sees it: yes',
      '&environ the same in both units: yes, and as dlsym sees it: yes',
      '&optind as dlsym sees it: yes',
      'setenv seen through environ: yes, getenv: forty-two',
      'sorted: -3 0 5 9 27',
      'sum of twice(i) for i < 10: 90',
    ],
  },
  {
    name: 'dlopen',
    dir: 'dlopen',
    cxx: false,
    cflags: ['-O2'],
    units: [{ src: 'main.c' }],
    dynamicOnly: true,
    status: 0,
    stdout: [
      'cos(0) = 1.000, pow(2, 10) = 1024.0',
      'no such symbol: NULL',
      'libc already loaded: yes, strlen("tslink") = 6',
      'dlopen of a missing library fails: yes',
    ],
  },
];

/** TLS relocation types the tls program's objects must contain: every access model is really exercised. */
const TLS_RELOCS: Record<Arch, string[]> = {
  x86_64: ['R_X86_64_TLSGD', 'R_X86_64_TLSLD', 'R_X86_64_DTPOFF32', 'R_X86_64_GOTTPOFF', 'R_X86_64_TPOFF32'],
  aarch64: [
    'R_AARCH64_TLSDESC_ADR_PAGE21',
    'R_AARCH64_TLSDESC_LD64_LO12',
    'R_AARCH64_TLSDESC_ADD_LO12',
    'R_AARCH64_TLSDESC_CALL',
    'R_AARCH64_TLSIE_ADR_GOTTPREL_PAGE21',
    'R_AARCH64_TLSIE_LD64_GOTTPREL_LO12_NC',
    'R_AARCH64_TLSLE_ADD_TPREL_HI12',
    'R_AARCH64_TLSLE_ADD_TPREL_LO12_NC',
  ],
};

/** The incremental case edits this constant in basics/value.c. */
const MAGIC_BEFORE = 'return 42;';
const MAGIC_AFTER = 'return 57;';

interface Build {
  dir: string;
  objs: string[];
  lib?: string;
}

interface Outcome {
  status: number | null;
  stdout: string;
}

function driverOf(spec: ProgramSpec): string {
  return spec.cxx ? 'clang++' : 'clang';
}

function compilerOf(src: string): string {
  return isCxx(src) ? 'clang++' : 'clang';
}

interface Mode {
  name: string;
  /** Driver flags for the link. */
  link: string[];
  /** Compiler flags for every unit (before the program's own). */
  compile: string[];
  /** ELF type and whether the program has a PT_INTERP. */
  type: 'EXEC' | 'DYN';
  interp: boolean;
}

const MODES: Mode[] = [
  { name: 'static', link: ['-static'], compile: [], type: 'EXEC', interp: false },
  { name: 'dynamic PIE', link: [], compile: [], type: 'DYN', interp: true },
  { name: 'dynamic non-PIE', link: ['-no-pie'], compile: ['-fno-pie'], type: 'EXEC', interp: true },
  { name: 'static PIE', link: ['-static-pie'], compile: [], type: 'DYN', interp: false },
];

/** Compile one unit: `clang[++] --target=ARCH-linux-gnu MODEFLAGS CFLAGS UNITFLAGS [extra] -c SRC -o OBJ`. */
async function compileUnit(arch: Arch, mode: Mode, spec: ProgramSpec, unit: UnitSpec, src: string, obj: string, extra: string[] = []): Promise<void> {
  fs.mkdirSync(path.dirname(obj), { recursive: true });
  // A PIE cannot hold position-dependent code: there the ifunc program's non-PIC unit is built like the rest.
  const unitFlags = (unit.flags ?? []).filter((f) => !(mode.type === 'DYN' && f === '-fno-pic'));
  const args = [`--target=${arch}-linux-gnu`, ...mode.compile, ...spec.cflags, ...unitFlags, ...extra, '-c', src, '-o', obj];
  await tool(compilerOf(src), args, { timeoutMs: 120_000 });
}

/** The driver's link command line (without the driver itself). */
function linkArgs(arch: Arch, mode: Mode, spec: ProgramSpec, linker: Linker, inputs: readonly string[], out: string, extra: string[] = []): string[] {
  const ld = linker === 'ld.lld' ? ['-fuse-ld=lld'] : [`--ld-path=${TSLINK}`];
  if (linker === 'tslink --incremental') ld.push('-Wl,--incremental');
  // Of the compiler flags, -pthread matters to the link too.
  const driverFlags = spec.cflags.filter((f) => f === '-pthread');
  return [`--target=${arch}-linux-gnu`, ...mode.link, ...ld, ...driverFlags, ...extra, ...inputs, ...(spec.libs ?? []), '-o', out];
}

/** Link through the driver; throw with the command and its output on failure. Returns the driver's stdout + stderr. */
async function driverLink(arch: Arch, mode: Mode, spec: ProgramSpec, linker: Linker, inputs: readonly string[], out: string, extra: string[] = []): Promise<string> {
  fs.mkdirSync(path.dirname(out), { recursive: true });
  const args = linkArgs(arch, mode, spec, linker, inputs, out, extra);
  const r = await exec(driverOf(spec), args, { timeoutMs: 180_000 });
  const output = `${r.stdout}${r.stderr}`;
  if (r.status !== 0) throw new Error(`${linker} link failed (${describeExit(r)}): ${showCommand(driverOf(spec), args)}\n${output.trim()}`);
  if (!fs.existsSync(out)) throw new Error(`${showCommand(driverOf(spec), args)} exited 0 but wrote no ${out}`);
  return output;
}

function explainRun(r: ExecResult, prog: string): string {
  return `${prog}: ${describeExit(r)}${r.stderr ? `\nstderr: ${r.stderr.trim()}` : ''}\nstdout:\n${r.stdout}`;
}

function expected(spec: ProgramSpec, stdout = spec.stdout, status = spec.status): Outcome {
  return { status, stdout: stdout.map((l) => `${l}\n`).join('') };
}

/** The DT_NEEDED entries of a dynamic executable, in order. */
async function neededOf(prog: string): Promise<string[]> {
  const out = await tool('llvm-readelf', ['-d', prog]);
  return [...out.matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1]);
}

/** The mode's shape: ELF type (EXEC, or DYN for a PIE) and whether there is a PT_INTERP (a dynamic loader). */
async function checkShape(prog: string, mode: Mode): Promise<void> {
  const out = await tool('llvm-readelf', ['-h', '-l', '--wide', prog]);
  expect(new RegExp(`^\\s*Type:\\s+${mode.type}\\b`, 'm').test(out), `${prog} is ET_${mode.type}:\n${out}`).to.equal(true);
  expect(/^\s*INTERP\b/m.test(out), `${prog} ${mode.interp ? 'has' : 'has no'} PT_INTERP`).to.equal(mode.interp);
}

for (const arch of ARCHES) for (const mode of MODES) {
  describe(`${mode.name} glibc programs through the compiler driver (${arch})`, function () {
    this.timeout(300_000);
    const programs = PROGRAMS.filter((p) => !(p.dynamicOnly && !mode.interp));
    const pool = new Pool(defaultConcurrency());
    const builds = new Map<string, Promise<Build>>();
    const links = new Map<string, Promise<string>>();
    let work = '';

    function buildOf(spec: ProgramSpec): Promise<Build> {
      const b = builds.get(spec.name);
      if (!b) throw new Error(`no build for ${spec.name}`);
      return b;
    }

    function linked(spec: ProgramSpec, linker: Linker): Promise<string> {
      const id = `${spec.name}:${linker}`;
      let pr = links.get(id);
      if (!pr) {
        pr = (async () => {
          const b = await buildOf(spec);
          const out = path.join(b.dir, { tslink: 'prog.tslink', 'tslink --incremental': 'prog.tslink-inc', 'ld.lld': 'prog.lld' }[linker]);
          await pool.run(() => driverLink(arch, mode, spec, linker, b.lib ? [...b.objs, b.lib] : b.objs, out));
          return out;
        })();
        pr.catch(() => {}); // reported by the test that awaits it
        links.set(id, pr);
      }
      return pr;
    }

    async function outcome(spec: ProgramSpec, linker: Linker): Promise<{ prog: string; r: ExecResult }> {
      const prog = await linked(spec, linker);
      return { prog, r: await run(prog, arch) };
    }

    before(async function () {
      await requireTools(['clang', 'clang++', 'ld.lld', 'llvm-ar', 'llvm-readelf', ...(arch === 'aarch64' ? ['qemu-aarch64'] : [])]);
      if (arch === 'aarch64') {
        // clang finds the AArch64 libc and libstdc++ through the cross GCC installation.
        await requireTools(['aarch64-linux-gnu-gcc', 'aarch64-linux-gnu-g++']).catch((e: Error) => {
          throw new Error(`${e.message} Install libc6-dev-arm64-cross and g++-aarch64-linux-gnu (scripts/install-deps.sh).`);
        });
      }
      work = tmpDir(`tslink-glibc-${arch}-${mode.name.replace(/\W+/g, '-')}`);
      if (process.env.TSLINK_KEEP_TMP) console.log(`    build directory: ${work}`);
      for (const spec of programs) {
        const dir = path.join(work, spec.name);
        const b = (async (): Promise<Build> => {
          await Promise.all(
            spec.units.map((u) =>
              pool.run(() => compileUnit(arch, mode, spec, u, path.join(SOURCES, spec.dir, u.src), path.join(dir, objName(u)))),
            ),
          );
          const objs = spec.units.filter((u) => !u.inArchive).map((u) => path.join(dir, objName(u)));
          const members = spec.units.filter((u) => u.inArchive).map((u) => path.join(dir, objName(u)));
          let lib: string | undefined;
          if (members.length) {
            lib = path.join(dir, `lib${spec.name}.a`);
            await archive(lib, members);
          }
          return { dir, objs, lib };
        })();
        b.catch(() => {});
        builds.set(spec.name, b);
      }
      // Start every link in the background; each test awaits its own.
      for (const spec of programs) {
        void linked(spec, 'ld.lld');
        void linked(spec, 'tslink');
        void linked(spec, 'tslink --incremental');
      }
    });

    after(async function () {
      await Promise.allSettled([...builds.values(), ...links.values()]);
      if (work && !process.env.TSLINK_KEEP_TMP) fs.rmSync(work, { recursive: true, force: true });
    });

    it(`clang ${mode.link.join(' ') || '(no flag)'} passes ${mode.interp ? '-dynamic-linker' : '-static'} and ${mode.type === 'DYN' ? '-pie' : 'no -pie'} to the linker`, async function () {
      const b = await buildOf(PROGRAMS[0]);
      const args = ['-###', ...linkArgs(arch, mode, PROGRAMS[0], 'tslink', b.objs, path.join(b.dir, 'unused'))];
      const r = await exec('clang', args);
      expect(r.status, r.stderr).to.equal(0);
      const ldLine = r.stderr.split('\n').find((l) => l.includes(TSLINK));
      expect(ldLine, `linker command in:\n${r.stderr}`).to.be.a('string');
      const argv = [...ldLine!.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]);
      if (!mode.interp) expect(argv, ldLine).to.include('-static');
      else expect(argv, ldLine).to.include('-dynamic-linker');
      if (mode.type === 'DYN') expect(argv, ldLine).to.include('-pie');
      else expect(argv, ldLine).to.not.include('-pie');
    });

    for (const spec of programs) {
      it(`${spec.name}: the ld.lld build exits ${spec.status} and prints the expected output`, async function () {
        const { prog, r } = await outcome(spec, 'ld.lld');
        expect({ status: r.status, stdout: r.stdout }, explainRun(r, prog)).to.deep.equal(expected(spec));
      });

      // The incremental layout (slack after each function and object) must run the same as the packed one.
      for (const linker of ['tslink', 'tslink --incremental'] as const) {
        it(`${spec.name}: the ${linker} build runs like the ld.lld build (status, stdout)`, async function () {
          const ref = await outcome(spec, 'ld.lld');
          const { prog, r } = await outcome(spec, linker);
          expect({ status: r.status, stdout: r.stdout }, explainRun(r, prog)).to.deep.equal({ status: ref.r.status, stdout: ref.r.stdout });
          await checkShape(prog, mode);
          const bytes = fs.readFileSync(prog);
          expect(checkRelaDynOrder(bytes, readElf64(bytes)), '.rela.dyn order').to.deep.equal([]);
          if (mode.interp) expect(await neededOf(prog), 'DT_NEEDED').to.deep.equal(await neededOf(ref.prog));
        });
      }
    }

    it('tls: the objects use every TLS access model (so the link relaxes all of them)', async function () {
      const spec = PROGRAMS.find((p) => p.name === 'tls')!;
      const b = await buildOf(spec);
      const out = await tool('llvm-readelf', ['-r', '--wide', ...b.objs]);
      const found = new Set([...out.matchAll(/\b(R_(?:X86_64|AARCH64)_[A-Z0-9_]+)\b/g)].map((m) => m[1]));
      expect(TLS_RELOCS[arch].filter((t) => !found.has(t)), 'missing TLS relocation types').to.deep.equal([]);
    });

    it('basics: an edit to value.c relinked with --incremental is patched in place and runs like a cold ld.lld link', async function () {
      const spec = PROGRAMS.find((p) => p.name === 'basics')!;
      const b = await buildOf(spec);
      const dir = path.join(work, 'incremental');
      fs.mkdirSync(dir, { recursive: true });
      const objs = b.objs.map((o) => {
        const copy = path.join(dir, path.basename(o));
        fs.copyFileSync(o, copy);
        return copy;
      });
      const prog = path.join(dir, 'prog');
      const incFlags = ['-Wl,--incremental,--explain'];

      const first = await pool.run(() => driverLink(arch, mode, spec, 'tslink', objs, prog, incFlags));
      expect(first, 'the first link is a full one').to.match(/^tslink: full: /m);
      let r = await run(prog, arch);
      expect({ status: r.status, stdout: r.stdout }, explainRun(r, prog)).to.deep.equal(expected(spec));

      // Edit magic_number's constant and rebuild that unit only.
      const unit = spec.units.find((u) => u.src === 'value.c')!;
      const text = fs.readFileSync(path.join(SOURCES, spec.dir, unit.src), 'utf8');
      expect(text.split(MAGIC_BEFORE).length - 1, `"${MAGIC_BEFORE}" occurs once in value.c`).to.equal(1);
      const edited = path.join(dir, 'value.c');
      fs.writeFileSync(edited, text.replace(MAGIC_BEFORE, MAGIC_AFTER));
      const valueObj = path.join(dir, objName(unit));
      expect(objs).to.include(valueObj);
      await pool.run(() => compileUnit(arch, mode, spec, unit, edited, valueObj, ['-I', path.join(SOURCES, spec.dir)]));

      const second = await pool.run(() => driverLink(arch, mode, spec, 'tslink', objs, prog, incFlags));
      expect(second, 'the relink reports a patch').to.match(/^tslink: patched: [1-9]\d* bytes written/m);
      r = await run(prog, arch);
      const want = expected(spec, BASICS_STDOUT(57), 57 % 32);
      expect({ status: r.status, stdout: r.stdout }, explainRun(r, prog)).to.deep.equal(want);

      const cold = path.join(dir, 'prog.lld');
      await pool.run(() => driverLink(arch, mode, spec, 'ld.lld', objs, cold));
      const rc = await run(cold, arch);
      expect({ status: rc.status, stdout: rc.stdout }, explainRun(rc, cold)).to.deep.equal(want);
    });
  });
}

function objName(u: UnitSpec): string {
  return `${path.basename(u.src).replace(/\.[^.]+$/, '')}.o`;
}
