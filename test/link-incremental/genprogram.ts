/**
 * A deterministic generator of freestanding multi-unit C programs, and of
 * edits to them, for the randomized incremental-linking tests.
 *
 * A program is a model (units of functions and data) from which C text is
 * printed. Units are `u0` .. `u{N-1}` plus `main`, which holds `_start` (a
 * raw exit system call, as in fixture/start.h) and `app_main`, which calls
 * every unit's `u{i}_entry` and folds the results and the units' global
 * scalars into a checksum; the exit status is that checksum & 0xff.
 *
 * Each unit has static functions, global functions (some weak, some never
 * called: "spare"), an entry function, global and static data (const and
 * mutable u32 arrays, a byte array, a scalar, a .bss array) and a const table
 * of function pointers. A global function reads and writes data of its own
 * unit and of higher-numbered units, calls global functions of higher units
 * and calls through their pointer tables. Calls only go from unit i to units
 * j > i, and a pointer table of unit j is never called from unit j, so the
 * call graph is acyclic; besides, cross-unit calls pass a depth that
 * decreases, which bounds the number of calls. All arithmetic is unsigned
 * (no undefined behaviour) and every function is `noinline`, so an edit of a
 * function's body changes that function's section and no other.
 *
 * Determinism: a unit's shape (its functions, data, archive membership)
 * depends only on (seed, unit index); its references depend on (seed, unit
 * index) and the shapes of the WINDOW units above it. So unit `u0` prints the
 * same C text in every program with the same seed and more than WINDOW units,
 * whatever its size: the work test relies on that.
 *
 * Edits are operations on the model that change exactly one unit's C text
 * (other units refer to arrays as `extern T name[]`, so a size change does not
 * reach them). Their kinds, after the brief of the randomized test:
 *   a body-constant  change a constant of one function's body        local
 *   b body-grow      add a long volatile computation (several KiB)   local
 *   c global-fn      add a global function (called from its unit's
 *                    entry) or remove a global one nobody calls       non-local
 *   d global-var     add a global variable, or remove one nobody uses non-local
 *   e data-values    change initialised data values, same size       local
 *   f weak-flip      flip a global function between weak and strong  non-local
 *   g data-grow      grow an initialised array 64-fold               non-local
 * The non-local kinds are those DESIGN.md section 5 sends to a full link: a
 * global symbol added or removed, a weak/strong flip, a data atom growing past
 * its slot.
 */

/** mulberry32: a small, fast, seedable 32-bit PRNG. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** Mix several numbers into one 32-bit seed (murmur3's finaliser per step). */
export function mixSeed(...parts: number[]): number {
  let h = 0x9e3779b9;
  for (const p of parts) {
    h = Math.imul(h ^ (p >>> 0), 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
  }
  return h >>> 0;
}

export class Rng {
  private readonly next32: () => number;

  constructor(seed: number) {
    this.next32 = mulberry32(seed);
  }

  u32(): number {
    return this.next32();
  }

  /** An integer in [0, n). */
  int(n: number): number {
    if (n <= 0) throw new Error(`Rng.int(${n})`);
    return this.next32() % n;
  }

  /** An integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  chance(p: number): boolean {
    return this.next32() / 0x1_0000_0000 < p;
  }

  pick<T>(xs: readonly T[]): T {
    if (xs.length === 0) throw new Error('Rng.pick from an empty list');
    return xs[this.int(xs.length)];
  }

  shuffle<T>(xs: readonly T[]): T[] {
    const out = [...xs];
    for (let i = out.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [out[i], out[j]] = [out[j], out[i]];
    }
    return out;
  }

  /**
   * A 32-bit constant below 2^31 whose two 16-bit halves are non-zero (and the
   * low half is not 0xffff), so that replacing one such constant by another
   * keeps the instruction encoding size: an imm32 on x86-64, a movz+movk pair
   * on AArch64.
   */
  constant(): number {
    const hi = this.range(0x100, 0x7fff);
    const lo = this.range(0x100, 0xfffe);
    return ((hi << 16) | lo) >>> 0;
  }
}

export type EditKind = 'body-constant' | 'body-grow' | 'global-fn' | 'global-var' | 'data-values' | 'weak-flip' | 'data-grow';

/** The letters of the brief, for reports. */
export const EDIT_LETTER: Record<EditKind, string> = {
  'body-constant': 'a',
  'body-grow': 'b',
  'global-fn': 'c',
  'global-var': 'd',
  'data-values': 'e',
  'weak-flip': 'f',
  'data-grow': 'g',
};

export const EDIT_KINDS = Object.keys(EDIT_LETTER) as EditKind[];

/**
 * Local edits may be patched; non-local ones must fall back to a full link
 * (DESIGN.md section 5: global symbol added/removed, weak/strong flip, data
 * growing past its slot).
 */
export function isLocalEdit(kind: EditKind): boolean {
  return kind === 'body-constant' || kind === 'body-grow' || kind === 'data-values';
}

export interface Edit {
  kind: EditKind;
  local: boolean;
  /** The one unit whose C text the edit regenerates, e.g. `u7`. */
  unit: string;
  /** What changed, in words. */
  description: string;
  /**
   * Symbols a correct patch may give a new address: the edited function
   * (it may outgrow its slot and move). Every other symbol must stay put.
   */
  mayMove: string[];
}

type FnKind = 'static' | 'global' | 'spare' | 'added' | 'entry';

interface DataRef {
  name: string;
  /** Shift applied to r before indexing (variety). */
  shift: number;
}

interface GenFunction {
  name: string;
  kind: FnKind;
  weak: boolean;
  mul: number;
  add: number;
  /** Own static functions called. */
  statics: string[];
  reads: DataRef[];
  writes: DataRef[];
  /** Cross-unit global functions called under `if (d)`. */
  calls: string[];
  /** Cross-unit pointer tables called through under `if (d)`. */
  opsCalls: string[];
  /** Volatile read-modify-write steps: [multiplier, addend]. */
  grow: [number, number][];
}

type DataKind =
  | 'const-u32' // global const array: .rodata
  | 'u32' // global array: .data, read and written
  | 'scalar' // global scalar: .data, read and written; main folds it into the checksum
  | 'static-u32' // static array: .data, read and written by its own unit
  | 'const-u8' // global const byte array: .rodata, 1-aligned
  | 'bss-u32' // global array without initialiser: .bss
  | 'spare'; // global scalar nobody references

interface GenData {
  name: string;
  kind: DataKind;
  /** Declared length (arrays); 1 for scalars. */
  len: number;
  /** Length when created: the bound every index uses, so growing the array changes no code. */
  readLen: number;
  /** Initialiser (empty for .bss); the rest of the array is zero. */
  values: number[];
}

interface FnTable {
  name: string;
  entries: string[];
}

interface GenUnit {
  index: number;
  name: string;
  inArchive: boolean;
  functions: GenFunction[];
  data: GenData[];
  ops: FnTable;
  /** Counters for names of added functions / variables. */
  added: number;
}

export interface GenOptions {
  seed: number;
  /** Number of units besides main. Default 30. */
  units?: number;
  /** Fraction of units archived into libgen.a. Default 0.4. */
  archiveFraction?: number;
}

/** How many higher units a unit may refer to. */
export const WINDOW = 8;
/** Call depth main passes to each entry. */
const DEPTH = 3;
/** Array lengths: never 1, 2, 4 or 8 elements, which clang might put in mergeable constant sections. */
const LENGTHS = [3, 5, 6, 7, 9, 10, 11, 12, 13];
/** Volatile steps a body-grow edit adds (several KiB of code on both arches). */
const GROW_STEPS = 300;

const hex = (v: number): string => `0x${(v >>> 0).toString(16).toUpperCase()}u`;

export class GenProgram {
  readonly seed: number;
  readonly units: GenUnit[] = [];

  constructor(opts: GenOptions) {
    this.seed = opts.seed >>> 0;
    const n = opts.units ?? 30;
    const archiveFraction = opts.archiveFraction ?? 0.4;
    for (let i = 0; i < n; i++) this.units.push(this.shapeUnit(i, archiveFraction));
    for (let i = 0; i < n; i++) this.referenceUnit(i);
  }

  /** `main`, then `u0` .. `u{N-1}`. */
  get unitNames(): string[] {
    return ['main', ...this.units.map((u) => u.name)];
  }

  isArchiveMember(unit: string): boolean {
    return unit !== 'main' && this.unit(unit).inArchive;
  }

  /** The units linked as plain objects, in command-line order (main first). */
  get objectUnits(): string[] {
    return this.unitNames.filter((u) => !this.isArchiveMember(u));
  }

  /** The units archived into libgen.a, in member order. */
  get archiveUnits(): string[] {
    return this.unitNames.filter((u) => this.isArchiveMember(u));
  }

  /**
   * The number of atoms (sections under -ffunction-sections -fdata-sections)
   * the unit's definitions become: functions, data, the pointer table.
   */
  atomCount(unit: string): number {
    if (unit === 'main') return 2;
    const u = this.unit(unit);
    return u.functions.length + u.data.length + 1;
  }

  private unit(name: string): GenUnit {
    const u = this.units.find((x) => x.name === name);
    if (!u) throw new Error(`no unit ${name}`);
    return u;
  }

  private window(i: number): GenUnit[] {
    return this.units.slice(i + 1, Math.min(this.units.length, i + 1 + WINDOW));
  }

  // ---- generation -------------------------------------------------------

  private newFunction(rng: Rng, name: string, kind: FnKind): GenFunction {
    return {
      name,
      kind,
      weak: false,
      mul: rng.constant() | 1,
      add: rng.constant(),
      statics: [],
      reads: [],
      writes: [],
      calls: [],
      opsCalls: [],
      grow: [],
    };
  }

  private newData(rng: Rng, name: string, kind: DataKind): GenData {
    const scalar = kind === 'scalar' || kind === 'spare';
    const len = scalar ? 1 : rng.pick(LENGTHS);
    const values: number[] = [];
    if (kind !== 'bss-u32') {
      for (let k = 0; k < len; k++) values.push(kind === 'const-u8' ? rng.range(1, 255) : rng.constant());
    }
    return { name, kind, len, readLen: len, values };
  }

  /** A unit's own definitions, from (seed, index) alone. */
  private shapeUnit(i: number, archiveFraction: number): GenUnit {
    const rng = new Rng(mixSeed(this.seed, i, 1));
    const name = `u${i}`;
    const inArchive = rng.chance(archiveFraction);
    const functions: GenFunction[] = [];
    const nStatic = rng.range(1, 3);
    for (let k = 0; k < nStatic; k++) functions.push(this.newFunction(rng, `${name}_s${k}`, 'static'));
    const nGlobal = rng.range(2, 4);
    for (let k = 0; k < nGlobal; k++) {
      const f = this.newFunction(rng, `${name}_g${k}`, 'global');
      f.weak = rng.chance(0.15);
      functions.push(f);
    }
    if (rng.chance(0.35)) functions.push(this.newFunction(rng, `${name}_spare`, 'spare'));
    functions.push(this.newFunction(rng, `${name}_entry`, 'entry'));

    const data: GenData[] = [
      this.newData(rng, `${name}_ro`, 'const-u32'),
      this.newData(rng, `${name}_arr`, 'u32'),
      this.newData(rng, `${name}_v`, 'scalar'),
    ];
    if (rng.chance(0.6)) data.push(this.newData(rng, `${name}_st`, 'static-u32'));
    if (rng.chance(0.5)) data.push(this.newData(rng, `${name}_str`, 'const-u8'));
    if (rng.chance(0.5)) data.push(this.newData(rng, `${name}_bss`, 'bss-u32'));
    if (rng.chance(0.35)) data.push(this.newData(rng, `${name}_sparev`, 'spare'));

    const ops: FnTable = { name: `${name}_ops`, entries: new Array<string>(rng.range(2, 4)).fill('') };
    return { index: i, name, inArchive, functions, data, ops, added: 0 };
  }

  /** A unit's references to its own and higher units' definitions. */
  private referenceUnit(i: number): void {
    const u = this.units[i];
    const rng = new Rng(mixSeed(this.seed, i, 2));
    const win = this.window(i);
    const statics = u.functions.filter((f) => f.kind === 'static');
    const callable = (v: GenUnit) => v.functions.filter((f) => f.kind === 'global');
    const readable = (v: GenUnit, own: boolean) =>
      v.data.filter((d) => d.kind !== 'spare' && (own || d.kind !== 'static-u32'));
    const writable = (v: GenUnit, own: boolean) =>
      v.data.filter((d) => (own ? ['u32', 'scalar', 'static-u32', 'bss-u32'] : ['u32', 'scalar', 'bss-u32']).includes(d.kind));
    const ref = (d: GenData): DataRef => ({ name: d.name, shift: rng.range(0, 9) });

    for (const f of u.functions) {
      const ownReads = readable(u, true);
      f.reads.push(ref(rng.pick(ownReads)));
      if (f.kind === 'static') {
        if (rng.chance(0.5)) f.writes.push(ref(rng.pick(writable(u, true))));
        continue;
      }
      if (f.kind === 'spare') continue; // spare functions refer to their own unit only
      const nStatics = rng.range(1, 2);
      for (let k = 0; k < nStatics; k++) {
        const s = rng.pick(statics).name;
        if (!f.statics.includes(s)) f.statics.push(s);
      }
      if (rng.chance(0.5)) f.reads.push(ref(rng.pick(ownReads)));
      f.writes.push(ref(rng.pick(writable(u, true))));
      if (f.kind === 'entry' || win.length === 0) continue;
      const nCrossReads = rng.range(0, 2);
      for (let k = 0; k < nCrossReads; k++) f.reads.push(ref(rng.pick(readable(rng.pick(win), false))));
      if (rng.chance(0.5)) f.writes.push(ref(rng.pick(writable(rng.pick(win), false))));
      const nCalls = rng.range(0, 2);
      for (let k = 0; k < nCalls; k++) {
        const g = rng.pick(callable(rng.pick(win))).name;
        if (!f.calls.includes(g)) f.calls.push(g);
      }
      if (rng.chance(0.4)) f.opsCalls.push(rng.pick(win).ops.name);
    }

    const ownTargets = u.functions.filter((f) => f.kind === 'static' || f.kind === 'global').map((f) => f.name);
    u.ops.entries = u.ops.entries.map(() =>
      win.length > 0 && rng.chance(0.25) ? rng.pick(callable(rng.pick(win))).name : rng.pick(ownTargets),
    );

    // Every static function and static array is used, so clang keeps it.
    const entry = this.entryOf(u);
    for (const s of statics) {
      const used = u.functions.some((f) => f.statics.includes(s.name)) || u.ops.entries.includes(s.name);
      if (!used) entry.statics.push(s.name);
    }
    for (const d of u.data.filter((x) => x.kind === 'static-u32')) {
      if (!u.functions.some((f) => f.reads.some((r) => r.name === d.name))) entry.reads.push(ref(d));
      if (!u.functions.some((f) => f.writes.some((r) => r.name === d.name))) entry.writes.push(ref(d));
    }
  }

  private entryOf(u: GenUnit): GenFunction {
    const e = u.functions.find((f) => f.kind === 'entry');
    if (!e) throw new Error(`${u.name} has no entry`);
    return e;
  }

  // ---- printing ---------------------------------------------------------

  /** The C text of one unit. */
  source(unit: string): string {
    return unit === 'main' ? this.mainSource() : this.unitSource(this.unit(unit));
  }

  private findData(name: string): GenData {
    for (const u of this.units) {
      const d = u.data.find((x) => x.name === name);
      if (d) return d;
    }
    throw new Error(`no data ${name}`);
  }

  private ownerOf(name: string): GenUnit {
    const u = this.units.find((x) => x.functions.some((f) => f.name === name) || x.data.some((d) => d.name === name) || x.ops.name === name);
    if (!u) throw new Error(`no definition of ${name}`);
    return u;
  }

  private static dataType(d: GenData): string {
    return d.kind === 'const-u8' ? 'const unsigned char' : d.kind === 'const-u32' ? 'const u32' : 'u32';
  }

  private static externDecl(name: string, owner: GenUnit): string {
    if (owner.ops.name === name) return `extern const gen_fn ${name}[];`;
    if (owner.functions.some((f) => f.name === name)) return `extern u32 ${name}(u32 x, u32 d);`;
    const d = owner.data.find((x) => x.name === name)!;
    const scalar = d.kind === 'scalar' || d.kind === 'spare';
    return `extern ${GenProgram.dataType(d)} ${name}${scalar ? '' : '[]'};`;
  }

  private dataDefinition(d: GenData): string {
    const storage = d.kind === 'static-u32' ? 'static ' : '';
    const type = GenProgram.dataType(d);
    if (d.kind === 'scalar' || d.kind === 'spare') return `${type} ${d.name} = ${hex(d.values[0])};`;
    if (d.kind === 'bss-u32') return `${type} ${d.name}[${d.len}];`;
    const vals = d.values.map((v) => (d.kind === 'const-u8' ? String(v) : hex(v))).join(', ');
    return `${storage}${type} ${d.name}[${d.len}] = { ${vals} };`;
  }

  private readExpr(r: DataRef): string {
    const d = this.findData(r.name);
    if (d.kind === 'scalar') return r.name;
    return `${r.name}[(r >> ${r.shift}) % ${d.readLen}u]`;
  }

  private writeStmt(r: DataRef): string {
    const d = this.findData(r.name);
    if (d.kind === 'scalar') return `${r.name} += r & 0xFFu;`;
    return `${r.name}[(r >> ${r.shift}) % ${d.readLen}u] += x;`;
  }

  private functionText(u: GenUnit, f: GenFunction): string {
    const attrs = ['noinline', ...(f.weak ? ['weak'] : [])].join(', ');
    const storage = f.kind === 'static' ? 'static ' : '';
    const body: string[] = [`  u32 r = x * ${hex(f.mul)} + ${hex(f.add)};`];
    for (const s of f.statics) body.push(`  r ^= ${s}(r, d);`);
    if (f.kind === 'entry') {
      for (const g of u.functions.filter((x) => x.kind === 'global' || x.kind === 'added')) body.push(`  r += ${g.name}(r, d);`);
    }
    for (const rd of f.reads) body.push(`  r += ${this.readExpr(rd)};`);
    for (const w of f.writes) body.push(`  ${this.writeStmt(w)}`);
    if (f.calls.length || f.opsCalls.length) {
      body.push('  if (d) {');
      for (const c of f.calls) body.push(`    r += ${c}(r, d - 1u);`);
      for (const t of f.opsCalls) {
        const n = this.ownerOf(t).ops.entries.length;
        body.push(`    r ^= ${t}[r % ${n}u](x, d - 1u);`);
      }
      body.push('  }');
    }
    const usesD = f.statics.length > 0 || f.kind === 'entry' || f.calls.length > 0 || f.opsCalls.length > 0;
    if (!usesD) body.push('  (void)d;');
    if (f.grow.length) {
      body.push('  {', '    volatile u32 v = r;');
      for (const [m, a] of f.grow) body.push(`    v = v * ${hex(m)} + ${hex(a)};`);
      body.push('    r ^= v;', '  }');
    }
    body.push('  return r ^ (r >> 13);');
    return `${storage}__attribute__((${attrs})) u32 ${f.name}(u32 x, u32 d) {\n${body.join('\n')}\n}`;
  }

  private unitSource(u: GenUnit): string {
    const own = new Set<string>([...u.functions.map((f) => f.name), ...u.data.map((d) => d.name), u.ops.name]);
    const used = new Set<string>();
    for (const f of u.functions) {
      for (const n of [...f.calls, ...f.opsCalls, ...f.reads.map((r) => r.name), ...f.writes.map((w) => w.name)]) used.add(n);
    }
    for (const e of u.ops.entries) used.add(e);
    const externs = [...used].filter((n) => !own.has(n)).sort(byUnitThenName).map((n) => GenProgram.externDecl(n, this.ownerOf(n)));

    const order: FnKind[] = ['static', 'global', 'spare', 'added', 'entry'];
    const fns = order.flatMap((k) => u.functions.filter((f) => f.kind === k));
    return [
      `/* ${u.name}.c: generated by test/link-incremental/genprogram.ts (seed ${this.seed}). */`,
      'typedef unsigned int u32;',
      'typedef u32 (*gen_fn)(u32, u32);',
      '',
      ...externs,
      '',
      ...u.data.map((d) => this.dataDefinition(d)),
      '',
      ...fns.map((f) => this.functionText(u, f) + '\n'),
      `const gen_fn ${u.ops.name}[${u.ops.entries.length}] = { ${u.ops.entries.join(', ')} };`,
      '',
    ].join('\n');
  }

  private mainSource(): string {
    const scalars = this.units.flatMap((u) => u.data.filter((d) => d.kind === 'scalar').map((d) => d.name));
    const lines = [
      `/* main.c: generated by test/link-incremental/genprogram.ts (seed ${this.seed}). */`,
      'typedef unsigned int u32;',
      '',
      ...this.units.map((u) => `extern u32 ${u.name}_entry(u32 x, u32 d);`),
      ...scalars.map((s) => `extern u32 ${s};`),
      '',
      'int app_main(void);',
      '',
      '/* _start as in fixture/start.h: call app_main, exit with its result. */',
      '#if defined(__x86_64__)',
      '__asm__(',
      '    "  .pushsection .text._start, \\"ax\\"\\n"',
      '    "  .globl _start\\n"',
      '    "  .type _start, @function\\n"',
      '    "_start:\\n"',
      '    "  xor %ebp, %ebp\\n"',
      '    "  call app_main\\n"',
      '    "  mov %eax, %edi\\n"',
      '    "  mov $60, %eax\\n"',
      '    "  syscall\\n"',
      '    "  hlt\\n"',
      '    "  .size _start, . - _start\\n"',
      '    "  .popsection\\n");',
      '#elif defined(__aarch64__)',
      '__asm__(',
      '    "  .pushsection .text._start, \\"ax\\"\\n"',
      '    "  .globl _start\\n"',
      '    "  .type _start, %function\\n"',
      '    "  .p2align 2\\n"',
      '    "_start:\\n"',
      '    "  mov x29, #0\\n"',
      '    "  mov x30, #0\\n"',
      '    "  bl app_main\\n"',
      '    "  mov x8, #93\\n"',
      '    "  svc #0\\n"',
      '    "  brk #0\\n"',
      '    "  .size _start, . - _start\\n"',
      '    "  .popsection\\n");',
      '#else',
      '#error "only x86-64 and AArch64"',
      '#endif',
      '',
      'int app_main(void) {',
      `  u32 s = ${hex(mixSeed(this.seed, 0x3a1b))};`,
      ...this.units.map((u) => `  s = s * 33u + ${u.name}_entry(s, ${DEPTH}u);`),
      ...scalars.map((v) => `  s ^= ${v};`),
      '  s ^= s >> 16;',
      '  s ^= s >> 8;',
      '  return (int)(s & 0xFFu);',
      '}',
      '',
    ];
    return lines.join('\n');
  }

  // ---- edits ------------------------------------------------------------

  /**
   * Apply one edit of the given kind to a unit (random unless given) and
   * return what it did. Only that unit's C text changes.
   */
  applyEdit(kind: EditKind, rng: Rng, target: { unit?: string; fn?: string } = {}): Edit {
    const u = target.unit ? this.unit(target.unit) : rng.pick(this.units);
    const edit = (description: string, mayMove: string[] = []): Edit => ({
      kind,
      local: isLocalEdit(kind),
      unit: u.name,
      description,
      mayMove,
    });
    const pickFn = (pred: (f: GenFunction) => boolean): GenFunction => {
      if (target.fn) {
        const f = u.functions.find((x) => x.name === target.fn);
        if (!f) throw new Error(`${u.name} has no function ${target.fn}`);
        return f;
      }
      return rng.pick(u.functions.filter(pred));
    };

    switch (kind) {
      case 'body-constant': {
        const f = pickFn(() => true);
        const old = f.add;
        do f.add = rng.constant();
        while (f.add === old);
        return edit(`${f.name}: body constant ${hex(old)} -> ${hex(f.add)}`, [f.name]);
      }
      case 'body-grow': {
        const f = pickFn((x) => x.kind !== 'spare');
        for (let k = 0; k < GROW_STEPS; k++) f.grow.push([rng.constant() | 1, rng.constant()]);
        return edit(`${f.name}: +${GROW_STEPS} volatile steps (now ${f.grow.length})`, [f.name]);
      }
      case 'global-fn': {
        const spare = u.functions.find((f) => f.kind === 'spare');
        if (spare && rng.chance(0.5)) {
          u.functions.splice(u.functions.indexOf(spare), 1);
          return edit(`removed global function ${spare.name}, which nobody calls`);
        }
        const f = this.newFunction(rng, `${u.name}_x${u.added++}`, 'added');
        f.statics.push(rng.pick(u.functions.filter((x) => x.kind === 'static')).name);
        f.reads.push({ name: rng.pick(u.data.filter((d) => d.kind === 'const-u32' || d.kind === 'u32')).name, shift: rng.range(0, 9) });
        // Before the entry, which now calls it.
        u.functions.splice(u.functions.indexOf(this.entryOf(u)), 0, f);
        return edit(`added global function ${f.name}, called from ${u.name}_entry`);
      }
      case 'global-var': {
        const spares = u.data.filter((d) => d.kind === 'spare');
        if (spares.length && rng.chance(0.5)) {
          const d = rng.pick(spares);
          u.data.splice(u.data.indexOf(d), 1);
          return edit(`removed global variable ${d.name}, which nobody uses`);
        }
        const d = this.newData(rng, `${u.name}_w${u.added++}`, 'spare');
        u.data.push(d);
        return edit(`added global variable ${d.name} = ${hex(d.values[0])}`);
      }
      case 'data-values': {
        const d = rng.pick(u.data.filter((x) => x.kind !== 'bss-u32'));
        const changes = Math.min(d.values.length, rng.range(1, 3));
        for (let k = 0; k < changes; k++) {
          const at = rng.int(d.values.length);
          d.values[at] = d.kind === 'const-u8' ? 1 + ((d.values[at] + rng.range(1, 253)) % 255) : rng.constant();
        }
        return edit(`${d.name}: ${changes} initial value(s) changed, same size`);
      }
      case 'weak-flip': {
        const f = pickFn((x) => x.kind !== 'static');
        f.weak = !f.weak;
        return edit(`${f.name}: now ${f.weak ? 'weak' : 'strong'}`);
      }
      case 'data-grow': {
        const d = rng.pick(u.data.filter((x) => ['const-u32', 'u32', 'static-u32', 'const-u8'].includes(x.kind)));
        const old = d.len;
        d.len *= 64;
        return edit(`${d.name}: ${old} -> ${d.len} elements`);
      }
    }
  }
}

function byUnitThenName(a: string, b: string): number {
  const ua = Number(/^u(\d+)_/.exec(a)?.[1] ?? -1);
  const ub = Number(/^u(\d+)_/.exec(b)?.[1] ?? -1);
  return ua - ub || (a < b ? -1 : a > b ? 1 : 0);
}

/**
 * A sequence of `count` edit kinds: every kind at least once, at least two
 * body-constant edits, the rest drawn with body and data edits more likely.
 */
export function planEdits(rng: Rng, count: number): EditKind[] {
  const kinds: EditKind[] = [...EDIT_KINDS, 'body-constant'];
  const weighted: EditKind[] = [...EDIT_KINDS, 'body-constant', 'body-constant', 'data-values', 'body-grow'];
  while (kinds.length < count) kinds.push(rng.pick(weighted));
  return rng.shuffle(kinds);
}
