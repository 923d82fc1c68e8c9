/**
 * A mutation fuzzer for tslink's readers and its incremental state
 * (doc/robustness.md). It builds the fixture (`buildFixture`) for each
 * architecture, derives seed inputs from it (the objects, `libcore.a` as
 * llvm-ar writes it and re-packed as a GNU archive with long names, a BSD
 * archive and a thin archive, and the state and image of an incremental
 * link), and links mutated copies through `LinkSession`, in worker threads
 * with a watchdog. Every case is deterministic in (seed, kind, arch, index).
 *
 * A case passes when the link succeeds or fails with a LinkError that names
 * an input; it fails (a "problem") on any other exception, a case slower
 * than `slowMs`, a hang (the worker is terminated after `hangMs`), a worker
 * out of memory, and on the per-kind oracles:
 *
 *  - object, archive: an incremental patch of a mutated input is only
 *    accepted if a full link of the same inputs succeeds too; an incremental
 *    link's state must decode again;
 *  - state: a corrupted state file, or an image changed behind the linker's
 *    back, must give a full link whose reason says so, byte-identical to a
 *    cold full link; a state altered and re-signed (checksum recomputed)
 *    must never crash the linker;
 *  - script, shared: readers only, in-process, no link. A GNU ld input script
 *    (`parseInputScript`, and `isLinkerScript`) or a shared library
 *    (`readSharedObject`) mutated from its seeds must be read or refused with
 *    a LinkError naming it, within the time and memory bounds. Script cases
 *    also run through the command line (`materializeCase`, `--cli-batch`),
 *    the script naming the fixture's objects and archive.
 *
 * Library: `buildCorpus`, `makeCase`, `runCase`, `materializeCase`, `fuzz`.
 * Command line: `node dist/src/tools/fuzz.js --seed S --cases N
 * [--kind object|archive|state|script|shared] [--arch x86_64|aarch64] [--only J]
 * [--workers W] [--save]` (`npm run fuzz -- ...`).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { FIXTURE_UNITS, buildFixture, type FixtureBuild } from '../cli/fixture.js';
import { LinkError } from '../obj/LinkError.js';
import { readElfObject } from '../obj/readElf.js';
import { isArchive, readArchive } from '../obj/archive.js';
import { isLinkerScript, parseInputScript } from '../obj/linkerScript.js';
import { readSharedObject } from '../obj/readSharedObject.js';
import { SymPlace, type ArchName } from '../obj/model.js';
import { LinkSession, type SessionOptions } from '../session/LinkSession.js';
import { GlobalTable, decodeState, encodeState, type LinkState } from '../session/state.js';

export type FuzzKind = 'object' | 'archive' | 'state' | 'script' | 'shared';
/** The kinds that link (through LinkSession). */
export const LINK_KINDS: readonly FuzzKind[] = ['object', 'archive', 'state'];
/** The kinds that only read one input in-process: GNU ld input scripts and shared libraries. */
export const READER_KINDS: readonly FuzzKind[] = ['script', 'shared'];
export const FUZZ_KINDS: readonly FuzzKind[] = [...LINK_KINDS, ...READER_KINDS];
export const FUZZ_ARCHES: readonly ArchName[] = ['x86_64', 'aarch64'];

// ---------------------------------------------------------------------------
// Deterministic randomness.

/** mulberry32: small, fast, and the same everywhere. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  u32(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  /** 0 <= n < max. */
  int(max: number): number {
    return max <= 0 ? 0 : Math.floor((this.u32() / 0x100000000) * max);
  }
  chance(p: number): boolean {
    return this.u32() / 0x100000000 < p;
  }
  pick<T>(a: readonly T[]): T {
    return a[this.int(a.length)];
  }
  /** Picks an index by weight. */
  weighted(weights: readonly number[]): number {
    let total = 0;
    for (const w of weights) total += w;
    let x = this.int(total);
    for (let i = 0; i < weights.length; i++) {
      if (x < weights[i]) return i;
      x -= weights[i];
    }
    return weights.length - 1;
  }
}

/** The seed of one case: a hash of everything that identifies it. */
export function caseSeed(seed: number, kind: FuzzKind, arch: ArchName, index: number): number {
  let h = 0x811c9dc5 ^ (seed >>> 0);
  for (const ch of `${kind}/${arch}/${index}/${Math.floor(seed / 0x100000000)}`) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

// ---------------------------------------------------------------------------
// The corpus: seed inputs derived from the fixture.

export interface NamedBytes {
  name: string;
  bytes: Uint8Array;
}

export interface ArchiveSeed {
  /** `gnu` (llvm-ar), `gnu-long` (long member names), `bsd`, `thin`. */
  flavor: 'gnu' | 'gnu-long' | 'bsd' | 'thin';
  name: string;
  bytes: Uint8Array;
  /** Thin archives: the members' files, by the path the reader asks for. */
  thinMembers: NamedBytes[];
}

export interface BuildSeeds {
  /** `base` (-fno-pic) or `debug-pic` (-g -fpie). */
  label: string;
  apps: Record<'app_a' | 'app_b', NamedBytes>;
  units: NamedBytes[];
  archives: ArchiveSeed[];
}

export interface PriorLink {
  state: Uint8Array;
  image: Uint8Array;
}

export interface ArchCorpus {
  arch: ArchName;
  builds: BuildSeeds[];
  /** Incremental links of the base build (app_X.o libcore.a), the prior of patch cases. */
  priors: Record<'app_a' | 'app_b', PriorLink>;
  /** The state kind: app_a with table.c edited in its slot; patched from priors.app_a when the state is good. */
  edit: { inputs: NamedBytes[]; fullImage: Uint8Array; patchedImage: Uint8Array };
  /** GNU ld input scripts (the script kind); some name the base build's app_a.o, app_b.o, libcore.a. */
  scripts: NamedBytes[];
  /** Shared libraries (the shared kind): a small versioned one built here, and the machine's libc.so.6 if it is this arch. */
  shared: NamedBytes[];
}

/** The options of every incremental link the fuzzer does (and of the prior links). */
export function incrementalOptions(arch: ArchName): SessionOptions {
  return { format: 'elf', arch, output: 'exe', entry: '_start', incremental: true, buildId: 'fast' };
}

function plainOptions(arch: ArchName): SessionOptions {
  return { format: 'elf', arch, output: 'exe', entry: '_start' };
}

async function readAll(path: string): Promise<Uint8Array> {
  const { readFile } = await import('node:fs/promises');
  const b = await readFile(path);
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/** Builds the fixture for one architecture under `dir` and derives the seeds. Needs clang and llvm-ar. */
export async function buildCorpus(arch: ArchName, dir: string): Promise<ArchCorpus> {
  const [base, debugPic, edit] = await Promise.all([
    buildFixture({ arch, outDir: join(dir, 'base') }),
    buildFixture({ arch, outDir: join(dir, 'debug-pic'), debug: true, pic: true }),
    buildFixture({ arch, outDir: join(dir, 'edit'), variants: { table: 'edit-inslack' } }),
  ]);
  const builds = [await buildSeeds('base', base), await buildSeeds('debug-pic', debugPic)];
  const b = builds[0];
  const lib = b.archives[0];
  const priors = {} as Record<'app_a' | 'app_b', PriorLink>;
  for (const app of ['app_a', 'app_b'] as const) {
    const s = new LinkSession(incrementalOptions(arch));
    s.addInput(b.apps[app].name, b.apps[app].bytes);
    s.addInput(lib.name, lib.bytes);
    s.link();
    priors[app] = { state: s.serializeState(), image: s.image().slice() };
  }
  const editInputs: NamedBytes[] = [b.apps.app_a, { name: 'libcore.a', bytes: await readAll(edit.libcore) }];
  const cold = new LinkSession(incrementalOptions(arch));
  for (const i of editInputs) cold.addInput(i.name, i.bytes);
  cold.link();
  const fullImage = cold.image().slice();
  const warm = new LinkSession(incrementalOptions(arch));
  warm.setPriorState(priors.app_a.state, priors.app_a.image.slice());
  for (const i of editInputs) warm.addInput(i.name, i.bytes);
  const r = warm.link();
  if (r.outcome !== 'patched') throw new Error(`fuzz corpus (${arch}): the good state was not patched: ${r.outcome} (${r.reason})`);
  return {
    arch, builds, priors, edit: { inputs: editInputs, fullImage, patchedImage: warm.image().slice() },
    scripts: scriptSeeds(arch), shared: await sharedSeeds(arch, dir),
  };
}

/** GNU ld input scripts as Debian writes them, and ones naming the fixture's files (relative to the script). */
export function scriptSeeds(arch: ArchName): NamedBytes[] {
  const fmt = arch === 'x86_64' ? 'elf64-x86-64' : 'elf64-littleaarch64';
  const march = arch === 'x86_64' ? 'i386:x86-64' : 'aarch64';
  const texts = [
    `/* GNU ld script\n   Use the shared library, but some functions are only in\n   the static library, so try that secondarily.  */\nOUTPUT_FORMAT(${fmt})\nGROUP ( /abs/lib/libfoo.a libbar.a AS_NEEDED ( -lbaz ) )\n`,
    `/* GNU ld script */\nOUTPUT_FORMAT(${fmt})\nGROUP ( app_a.o libcore.a )\n`,
    `INPUT ( app_b.o )\nSEARCH_DIR ( lib )\nGROUP ( AS_NEEDED ( -lcore ) )\n`,
    `SEARCH_DIR("lib") ; INPUT("app_a.o", "lib/libcore.a") /* the archive, by its path */\n`,
    `OUTPUT_FORMAT("${fmt}", "${fmt}", "${fmt}")\nOUTPUT_ARCH(${march})\nINPUT(app_b.o)\nGROUP(libcore.a AS_NEEDED(libcore.a -lcore))\n`,
  ];
  return texts.map((t, i) => ({ name: `script${i}`, bytes: ascii.encode(t) }));
}

const FUZZ_LIB_C = 'int foo(void) { return 1; }\nint bar = 2;\nint baz(void) { return 3; }\nextern int ext(void);\nint call(void) { return ext(); }\n';
const FUZZ_LIB_MAP = 'FUZZ_1.0 { global: foo; bar; local: *; };\nFUZZ_2.0 { global: baz; } FUZZ_1.0;\n';

/** A small versioned library built with clang and lld, and the machine's libc.so.6 when it is an `arch` one. */
async function sharedSeeds(arch: ArchName, dir: string): Promise<NamedBytes[]> {
  const d = join(dir, 'shared');
  mkdirSync(d, { recursive: true });
  writeFileSync(join(d, 'lib.c'), FUZZ_LIB_C);
  writeFileSync(join(d, 'lib.map'), FUZZ_LIB_MAP);
  execFileSync('clang', [
    `--target=${arch}-linux-gnu`, '-shared', '-fPIC', '-fuse-ld=lld', '-nostdlib', '-O1',
    '-Wl,--version-script=lib.map', '-Wl,-soname,libfuzz.so.1', '-o', 'libfuzz.so', 'lib.c',
  ], { cwd: d, stdio: ['ignore', 'ignore', 'pipe'] });
  const out: NamedBytes[] = [{ name: 'libfuzz.so', bytes: await readAll(join(d, 'libfuzz.so')) }];
  const libc = machineLibc();
  if (libc && libc.length > 0x14 && libc[0x12] === (arch === 'x86_64' ? 62 : 183)) out.push({ name: 'libc.so.6', bytes: libc });
  return out;
}

let libcCopy: Uint8Array | null | undefined;
/** The machine's libc.so.6 (`gcc -print-file-name=libc.so.6`), read once; null without gcc or libc. */
function machineLibc(): Uint8Array | null {
  if (libcCopy !== undefined) return libcCopy;
  libcCopy = null;
  try {
    const path = execFileSync('gcc', ['-print-file-name=libc.so.6'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    if (path.startsWith('/') && existsSync(path)) {
      const b = readFileSync(path);
      libcCopy = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
    }
  } catch {
    // no gcc: the small library only
  }
  return libcCopy;
}

async function buildSeeds(label: string, build: FixtureBuild): Promise<BuildSeeds> {
  const units: NamedBytes[] = [];
  for (const u of FIXTURE_UNITS) units.push({ name: `${u}.o`, bytes: await readAll(build.objects[u]) });
  const apps = {
    app_a: { name: 'app_a.o', bytes: await readAll(build.apps.app_a) },
    app_b: { name: 'app_b.o', bytes: await readAll(build.apps.app_b) },
  };
  const members = units.map((u) => ({ ...u, symbols: definedGlobals(u) }));
  const longName = (n: string) => `${n.replace(/\.o$/, '')}_unit_with_a_long_member_name.o`;
  const thin = members.map((m) => ({ ...m, name: `thin/${m.name}` }));
  return {
    label,
    apps,
    units,
    archives: [
      { flavor: 'gnu', name: 'libcore.a', bytes: await readAll(build.libcore), thinMembers: [] },
      { flavor: 'gnu-long', name: 'liblong.a', bytes: gnuArchive(members.map((m) => ({ ...m, name: longName(m.name) })), false), thinMembers: [] },
      { flavor: 'bsd', name: 'libbsd.a', bytes: bsdArchive(members), thinMembers: [] },
      { flavor: 'thin', name: 'libthin.a', bytes: gnuArchive(thin, true), thinMembers: thin.map((m) => ({ name: m.name, bytes: m.bytes })) },
    ],
  };
}

function definedGlobals(o: NamedBytes): string[] {
  const f = readElfObject(o.name, o.bytes);
  const out: string[] = [];
  for (let i = f.firstGlobal; i < f.symbols.length; i++) if (f.symbols[i].atom !== SymPlace.Undefined) out.push(f.symbols[i].name);
  return out;
}

// ---------------------------------------------------------------------------
// Archive writers (the seeds llvm-ar does not write for us).

const ascii = new TextEncoder();

function arHeader(name: string, size: number): Uint8Array {
  const field = (s: string, n: number) => s.padEnd(n, ' ').slice(0, n);
  return ascii.encode(field(name, 16) + field('0', 12) + field('0', 6) + field('0', 6) + field('644', 8) + field(String(size), 10) + '`\n');
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

const pad2 = (n: number) => n + (n & 1);

interface Member extends NamedBytes {
  symbols: string[];
}

/** A GNU archive (symbol index `/`, every name in the long-name table `//`); thin: member data left out. */
function gnuArchive(members: Member[], thin: boolean): Uint8Array {
  let longNames = '';
  const refs = members.map((m) => {
    const at = longNames.length;
    longNames += `${m.name}/\n`;
    return `/${at}`;
  });
  const syms = members.flatMap((m, i) => m.symbols.map((s) => ({ s, i })));
  const indexSize = 4 + 4 * syms.length + syms.reduce((n, x) => n + ascii.encode(x.s).length + 1, 0);
  let off = 8 + 60 + pad2(indexSize) + 60 + pad2(longNames.length);
  const offsets = members.map((m) => {
    const at = off;
    off += 60 + (thin ? 0 : pad2(m.bytes.length));
    return at;
  });
  const index = new Uint8Array(pad2(indexSize));
  const dv = new DataView(index.buffer);
  dv.setUint32(0, syms.length, false);
  syms.forEach((x, k) => dv.setUint32(4 + 4 * k, offsets[x.i], false));
  let p = 4 + 4 * syms.length;
  for (const x of syms) {
    index.set(ascii.encode(x.s), p);
    p += ascii.encode(x.s).length + 1;
  }
  const ln = new Uint8Array(pad2(longNames.length)).fill(0x0a);
  ln.set(ascii.encode(longNames));
  const parts = [ascii.encode(thin ? '!<thin>\n' : '!<arch>\n'), arHeader('/', indexSize), index, arHeader('//', longNames.length), ln];
  members.forEach((m, i) => {
    parts.push(arHeader(refs[i], m.bytes.length));
    if (!thin) parts.push(m.bytes, new Uint8Array(m.bytes.length & 1).fill(0x0a));
  });
  return concat(parts);
}

/** A BSD archive: `#1/NN` names, `__.SYMDEF SORTED` first. */
function bsdArchive(members: Member[]): Uint8Array {
  const symName = '__.SYMDEF SORTED';
  const symNameLen = 20;
  const syms = members.flatMap((m, i) => m.symbols.map((s) => ({ s, i })));
  let strings = '';
  const strx = syms.map((x) => {
    const at = strings.length;
    strings += `${x.s}\0`;
    return at;
  });
  while (strings.length % 4) strings += '\0';
  const ranlibSize = syms.length * 8;
  const indexData = symNameLen + 4 + ranlibSize + 4 + strings.length;
  let off = 8 + 60 + pad2(indexData);
  const nameLen = (m: Member) => (ascii.encode(m.name).length + 3) & ~3;
  const offsets = members.map((m) => {
    const at = off;
    off += 60 + pad2(nameLen(m) + m.bytes.length);
    return at;
  });
  const index = new Uint8Array(pad2(indexData));
  index.set(ascii.encode(symName));
  const dv = new DataView(index.buffer);
  dv.setUint32(symNameLen, ranlibSize, true);
  syms.forEach((x, k) => {
    dv.setUint32(symNameLen + 4 + 8 * k, strx[k], true);
    dv.setUint32(symNameLen + 8 + 8 * k, offsets[x.i], true);
  });
  dv.setUint32(symNameLen + 4 + ranlibSize, strings.length, true);
  index.set(ascii.encode(strings), symNameLen + 8 + ranlibSize);
  const parts = [ascii.encode('!<arch>\n'), arHeader(`#1/${symNameLen}`, indexData), index];
  for (const m of members) {
    const n = nameLen(m);
    const name = new Uint8Array(n);
    name.set(ascii.encode(m.name));
    parts.push(arHeader(`#1/${n}`, n + m.bytes.length), name, m.bytes, new Uint8Array((n + m.bytes.length) & 1).fill(0x0a));
  }
  return concat(parts);
}

// ---------------------------------------------------------------------------
// Where the fields are: mutations aimed at the structure, not just at bytes.

export interface Field {
  at: number;
  size: number;
  what: string;
  /** Big-endian binary (the GNU archive index). */
  be?: boolean;
  /** Space-padded ASCII (archive member headers). */
  text?: boolean;
}

/** The header, section-header, symbol, relocation and group fields of a (well-formed) ELF64 object. */
export function elfFields(b: Uint8Array, base = 0): Field[] {
  const out: Field[] = [];
  if (b.length < 64) return out;
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const add = (at: number, size: number, what: string) => out.push({ at: base + at, size, what });
  add(4, 1, 'EI_CLASS');
  add(5, 1, 'EI_DATA');
  add(0x10, 2, 'e_type');
  add(0x12, 2, 'e_machine');
  add(0x28, 8, 'e_shoff');
  add(0x3a, 2, 'e_shentsize');
  add(0x3c, 2, 'e_shnum');
  add(0x3e, 2, 'e_shstrndx');
  const shoff = Number(dv.getBigUint64(0x28, true));
  const shnum = dv.getUint16(0x3c, true);
  if (shoff + shnum * 64 > b.length) return out;
  const SH: Array<[number, number, string]> = [
    [0, 4, 'sh_name'], [4, 4, 'sh_type'], [8, 8, 'sh_flags'], [0x18, 8, 'sh_offset'], [0x20, 8, 'sh_size'],
    [0x28, 4, 'sh_link'], [0x2c, 4, 'sh_info'], [0x30, 8, 'sh_addralign'], [0x38, 8, 'sh_entsize'],
  ];
  for (let i = 0; i < shnum; i++) {
    const sh = shoff + i * 64;
    for (const [o, s, w] of SH) add(sh + o, s, `section ${i} ${w}`);
    const type = dv.getUint32(sh + 4, true);
    const off = Number(dv.getBigUint64(sh + 0x18, true));
    const size = Number(dv.getBigUint64(sh + 0x20, true));
    if (off + size > b.length) continue;
    if (type === 2) {
      for (let k = 0; k + 24 <= size; k += 24) {
        const at = off + k;
        const n = k / 24;
        add(at, 4, `symbol ${n} st_name`);
        add(at + 4, 1, `symbol ${n} st_info`);
        add(at + 5, 1, `symbol ${n} st_other`);
        add(at + 6, 2, `symbol ${n} st_shndx`);
        add(at + 8, 8, `symbol ${n} st_value`);
        add(at + 16, 8, `symbol ${n} st_size`);
      }
    } else if (type === 4) {
      for (let k = 0; k + 24 <= size; k += 24) {
        const at = off + k;
        const n = k / 24;
        add(at, 8, `section ${i} rela ${n} r_offset`);
        add(at + 8, 4, `section ${i} rela ${n} type`);
        add(at + 12, 4, `section ${i} rela ${n} symbol`);
        add(at + 16, 8, `section ${i} rela ${n} r_addend`);
      }
    } else if (type === 17) {
      for (let k = 0; k + 4 <= size; k += 4) add(off + k, 4, `section ${i} group word ${k / 4}`);
    }
  }
  return out;
}

/** Member header fields, index fields and, nested, the fields of member objects. */
export function archiveFields(b: Uint8Array): Field[] {
  const out: Field[] = [];
  const text = new TextDecoder('latin1');
  let off = 8;
  let first = true;
  while (off + 60 <= b.length) {
    const hdr = off;
    const name = text.decode(b.subarray(hdr, hdr + 16)).trimEnd();
    const size = parseInt(text.decode(b.subarray(hdr + 48, hdr + 58)), 10);
    if (!Number.isFinite(size)) break;
    out.push({ at: hdr, size: 16, what: `member at ${hdr} name`, text: true });
    out.push({ at: hdr + 48, size: 10, what: `member at ${hdr} size`, text: true });
    out.push({ at: hdr + 58, size: 2, what: `member at ${hdr} terminator`, text: true });
    const data = hdr + 60;
    const thinMember = b[1] === 0x3c && b[2] === 0x74 && name !== '/' && name !== '//';
    if (name === '/') {
      const n = new DataView(b.buffer, b.byteOffset + data, 4).getUint32(0, false);
      out.push({ at: data, size: 4, what: 'index count', be: true });
      for (let k = 0; k < n && data + 8 + 4 * k <= b.length; k++) out.push({ at: data + 4 + 4 * k, size: 4, what: `index offset ${k}`, be: true });
    } else if (first && name.startsWith('#1/') && text.decode(b.subarray(data, data + 9)) === '__.SYMDEF') {
      const nl = parseInt(name.slice(3), 10);
      const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
      const ranlib = dv.getUint32(data + nl, true);
      out.push({ at: data + nl, size: 4, what: 'ranlib size' });
      for (let k = 0; k < ranlib; k += 4) out.push({ at: data + nl + 4 + k, size: 4, what: `ranlib word ${k / 4}` });
      out.push({ at: data + nl + 4 + ranlib, size: 4, what: 'ranlib string table size' });
    } else if (!thinMember && name !== '//') {
      const nl = name.startsWith('#1/') ? parseInt(name.slice(3), 10) : 0;
      const start = data + nl;
      const end = data + size;
      if (end <= b.length && b[start] === 0x7f) out.push(...elfFields(b.subarray(start, end), start));
    }
    first = false;
    off = thinMember ? data : data + size + (size & 1);
  }
  return out;
}

// ---------------------------------------------------------------------------
// Mutations.

const MAX_FUZZ_ALIGN = 1n << 20n;

const TEXT_VALUES = ['', '0', '1', '9999999999', '4294967296', '-1', 'abc', '12 34', '/', '//', '/0', '/7', '/99999', '#1/16', '#1/9999', '#1/', '__.SYMDEF', '/SYM64/', '`\n', '0x10'];

function readField(b: Uint8Array, f: Field): bigint {
  let v = 0n;
  for (let i = 0; i < f.size; i++) {
    const byte = BigInt(b[f.be ? f.at + i : f.at + f.size - 1 - i]);
    v = (v << 8n) | byte;
  }
  return v;
}

function writeField(b: Uint8Array, f: Field, v: bigint): void {
  const mask = (1n << BigInt(8 * f.size)) - 1n;
  let x = ((v % (mask + 1n)) + (mask + 1n)) & mask;
  for (let i = 0; i < f.size; i++) {
    b[f.be ? f.at + f.size - 1 - i : f.at + i] = Number(x & 0xffn);
    x >>= 8n;
  }
}

function interesting(rng: Rng, f: Field, orig: bigint, len: number): bigint {
  const bits = BigInt(8 * f.size);
  const max = (1n << bits) - 1n;
  const values: bigint[] = [0n, 1n, 2n, orig + 1n, orig - 1n, orig * 2n, orig + BigInt(1 + rng.int(64)), orig - BigInt(1 + rng.int(64)), max, max >> 1n, (max >> 1n) + 1n];
  if (f.size >= 2) values.push(0xff00n, 0xfff1n, 0xfff2n, 0xffffn, BigInt(len), BigInt(len - 1), BigInt(len + 1), BigInt(rng.int(len + 1)));
  if (f.size >= 4) values.push(0x10000n, 1n << 30n, 1n << 31n, 0xfffffff0n, BigInt(rng.u32()));
  if (f.size === 8) values.push(1n << 32n, (1n << 53n) - 1n, 1n << 53n, 1n << 63n, (BigInt(rng.u32()) << 32n) | BigInt(rng.u32()));
  return rng.pick(values);
}

/** One mutation of `b` (which it may replace): returns the new bytes and what it did. */
function mutateOnce(rng: Rng, b: Uint8Array, fields: readonly Field[]): { bytes: Uint8Array; what: string } {
  const len = b.length;
  // field, bitflip, byte, chunk, truncate, extend, delete, insert, copy
  const op = rng.weighted([45, 15, 8, 4, 8, 4, 5, 5, 6]);
  if (op === 0 && fields.length) {
    const f = rng.pick(fields);
    if (f.at + f.size <= len) {
      if (f.text) {
        const v = rng.chance(0.3) ? String(Number(new TextDecoder('latin1').decode(b.subarray(f.at, f.at + f.size)).trim()) + rng.int(9) - 4) : rng.pick(TEXT_VALUES);
        b.set(ascii.encode(v.padEnd(f.size, ' ').slice(0, f.size)), f.at);
        return { bytes: b, what: `${f.what} = '${v}'` };
      }
      let v = interesting(rng, f, readField(b, f), len);
      // An alignment of up to 2^30 is valid, and its padding is real output (lld writes it too): a
      // 7 KB object can ask for a 1 GiB image. Such cases test nothing new and take seconds; keep
      // the padding to 1 MiB (doc/robustness.md, "what is not bounded").
      if (f.what.endsWith('sh_addralign') && v > MAX_FUZZ_ALIGN && (v & (v - 1n)) === 0n) v = MAX_FUZZ_ALIGN;
      writeField(b, f, v);
      return { bytes: b, what: `${f.what} = 0x${(v < 0n ? v + (1n << BigInt(8 * f.size)) : v).toString(16)}` };
    }
  }
  if (len === 0) return { bytes: rng.chance(0.5) ? new Uint8Array(rng.int(64)) : b, what: 'extend empty' };
  switch (op) {
    case 1: {
      const n = 1 + rng.int(4);
      const at: number[] = [];
      for (let i = 0; i < n; i++) {
        const bit = rng.int(len * 8);
        b[bit >> 3] ^= 1 << (bit & 7);
        at.push(bit);
      }
      return { bytes: b, what: `flip bit${n > 1 ? 's' : ''} ${at.join(', ')}` };
    }
    case 2: {
      const at = rng.int(len);
      const v = rng.pick([0, 1, 0x7f, 0x80, 0xff, rng.int(256)]);
      b[at] = v;
      return { bytes: b, what: `byte ${at} = 0x${v.toString(16)}` };
    }
    case 3: {
      const at = rng.int(len);
      const n = Math.min(len - at, 1 + rng.int(32));
      for (let i = 0; i < n; i++) b[at + i] = rng.int(256);
      return { bytes: b, what: `random bytes [${at}, ${at + n})` };
    }
    case 4: {
      const n = rng.chance(0.5) ? rng.int(len) : Math.max(0, len - 1 - rng.int(Math.min(len, 256)));
      return { bytes: b.slice(0, n), what: `truncate to ${n}` };
    }
    case 5: {
      const n = 1 + rng.int(rng.chance(0.8) ? 64 : 4096);
      const out = new Uint8Array(len + n);
      out.set(b);
      if (rng.chance(0.5)) for (let i = len; i < len + n; i++) out[i] = rng.int(256);
      return { bytes: out, what: `append ${n} bytes` };
    }
    case 6: {
      const at = rng.int(len);
      const n = Math.min(len - at, 1 + rng.int(rng.chance(0.7) ? 16 : 512));
      return { bytes: concat([b.subarray(0, at), b.subarray(at + n)]), what: `delete [${at}, ${at + n})` };
    }
    case 7: {
      const from = rng.int(len);
      const n = Math.min(len - from, 1 + rng.int(rng.chance(0.7) ? 16 : 512));
      const at = rng.int(len + 1);
      return { bytes: concat([b.subarray(0, at), b.slice(from, from + n), b.subarray(at)]), what: `insert a copy of [${from}, ${from + n}) at ${at}` };
    }
    default: {
      const from = rng.int(len);
      const to = rng.int(len);
      const n = Math.min(len - from, len - to, 1 + rng.int(64));
      b.set(b.slice(from, from + n), to);
      return { bytes: b, what: `copy [${from}, ${from + n}) to ${to}` };
    }
  }
}

// ---------------------------------------------------------------------------
// Shared libraries: fields grouped by table, so that a case aims at one of them.

export interface FieldGroup {
  what: string;
  fields: Field[];
  /** The bytes of the table, for bit flips inside it. */
  region: { at: number; end: number } | null;
}

/** The ELF header, program headers, section headers, and the dynamic, .dynsym, .gnu.version, .gnu.version_d and hash tables of a (well-formed) shared library. */
export function sharedFields(b: Uint8Array): FieldGroup[] {
  const groups: FieldGroup[] = [];
  if (b.length < 64) return groups;
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const u64 = (at: number) => Number(dv.getBigUint64(at, true));
  const group = (what: string, region: FieldGroup['region'], list: Array<[number, number, string]>) => {
    groups.push({ what, region, fields: list.map(([at, size, w]) => ({ at, size, what: `${what} ${w}` })) });
  };
  group('ELF header', { at: 0, end: 64 }, [
    [4, 1, 'EI_CLASS'], [5, 1, 'EI_DATA'], [0x10, 2, 'e_type'], [0x12, 2, 'e_machine'], [0x20, 8, 'e_phoff'], [0x28, 8, 'e_shoff'],
    [0x36, 2, 'e_phentsize'], [0x38, 2, 'e_phnum'], [0x3a, 2, 'e_shentsize'], [0x3c, 2, 'e_shnum'], [0x3e, 2, 'e_shstrndx'],
  ]);
  const phoff = u64(0x20);
  const phnum = dv.getUint16(0x38, true);
  if (phoff + phnum * 56 <= b.length) {
    const ph: Array<[number, number, string]> = [];
    for (let i = 0; i < phnum; i++) {
      const at = phoff + i * 56;
      ph.push([at, 4, `${i} p_type`], [at + 8, 8, `${i} p_offset`], [at + 0x10, 8, `${i} p_vaddr`], [at + 0x20, 8, `${i} p_filesz`], [at + 0x28, 8, `${i} p_memsz`]);
    }
    group('program header', { at: phoff, end: phoff + phnum * 56 }, ph);
  }
  const shoff = u64(0x28);
  const shnum = dv.getUint16(0x3c, true);
  if (shoff === 0 || shoff + shnum * 64 > b.length) return groups;
  const sh: Array<[number, number, string]> = [];
  for (let i = 0; i < shnum; i++) {
    const at = shoff + i * 64;
    sh.push([at + 4, 4, `${i} sh_type`], [at + 0x18, 8, `${i} sh_offset`], [at + 0x20, 8, `${i} sh_size`], [at + 0x28, 4, `${i} sh_link`], [at + 0x2c, 4, `${i} sh_info`], [at + 0x38, 8, `${i} sh_entsize`]);
  }
  group('section header', { at: shoff, end: shoff + shnum * 64 }, sh);
  for (let i = 0; i < shnum; i++) {
    const at = shoff + i * 64;
    const type = dv.getUint32(at + 4, true);
    const off = u64(at + 0x18);
    const size = u64(at + 0x20);
    if (off + size > b.length) continue;
    const region = { at: off, end: off + size };
    const list: Array<[number, number, string]> = [];
    if (type === 6) {
      for (let k = 0; k + 16 <= size; k += 16) list.push([off + k, 8, `${k / 16} d_tag`], [off + k + 8, 8, `${k / 16} d_val`]);
      group('dynamic entry', region, list);
    } else if (type === 11) {
      for (let k = 0; k + 24 <= size; k += 24) {
        const n = k / 24;
        list.push([off + k, 4, `${n} st_name`], [off + k + 4, 1, `${n} st_info`], [off + k + 6, 2, `${n} st_shndx`], [off + k + 8, 8, `${n} st_value`], [off + k + 16, 8, `${n} st_size`]);
      }
      group('dynsym', region, list);
    } else if (type === 0x6fffffff) {
      for (let k = 0; k + 2 <= size; k += 2) list.push([off + k, 2, `${k / 2}`]);
      group('.gnu.version entry', region, list);
    } else if (type === 0x6ffffffd) {
      // Walk the chain: vd_version, vd_flags, vd_ndx, vd_cnt, vd_hash, vd_aux, vd_next, and each Verdaux.
      let v = off;
      for (let n = 0; n < 4096 && v + 20 <= off + size; n++) {
        list.push([v, 2, `${n} vd_version`], [v + 2, 2, `${n} vd_flags`], [v + 4, 2, `${n} vd_ndx`], [v + 6, 2, `${n} vd_cnt`], [v + 12, 4, `${n} vd_aux`], [v + 16, 4, `${n} vd_next`]);
        let a = v + dv.getUint32(v + 12, true);
        for (let k = 0; k < dv.getUint16(v + 6, true) && a + 8 <= off + size; k++) {
          list.push([a, 4, `${n} aux ${k} vda_name`], [a + 4, 4, `${n} aux ${k} vda_next`]);
          const next = dv.getUint32(a + 4, true);
          if (!next) break;
          a += next;
        }
        const next = dv.getUint32(v + 16, true);
        if (!next) break;
        v += next;
      }
      group('.gnu.version_d', region, list);
    } else if (type === 0x6ffffff6 || type === 5) {
      for (let k = 0; k + 4 <= Math.min(size, 64); k += 4) list.push([off + k, 4, `word ${k / 4}`]);
      group(type === 5 ? 'DT_HASH' : 'DT_GNU_HASH', region, list);
    } else if (type === 3 && i !== dv.getUint16(0x3e, true)) {
      group('dynamic strings', region, []);
    }
  }
  return groups;
}

const sharedFieldCache = new WeakMap<Uint8Array, FieldGroup[]>();

/** A shared library mutated in one of its tables; sometimes with its section headers dropped first (the program-header route). */
function mutateShared(rng: Rng, src: Uint8Array): { bytes: Uint8Array; what: string[] } {
  let groups = sharedFieldCache.get(src);
  if (!groups) {
    groups = sharedFields(src);
    sharedFieldCache.set(src, groups);
  }
  const what: string[] = [];
  let bytes: Uint8Array = src.slice();
  if (rng.chance(0.25)) {
    // No section headers: readSharedObject takes PT_DYNAMIC and the dynamic entries instead.
    bytes.fill(0, 0x28, 0x30);
    bytes.fill(0, 0x3a, 0x40);
    what.push('section headers dropped (e_shoff, e_shnum 0)');
  }
  const n = rng.chance(0.7) ? 1 : 2 + rng.int(3);
  for (let i = 0; i < n; i++) {
    const g = groups.length ? rng.pick(groups) : null;
    if (g?.region && g.region.end > g.region.at && rng.chance(g.fields.length ? 0.25 : 0.8)) {
      const k = 1 + rng.int(4);
      const bits: number[] = [];
      for (let j = 0; j < k; j++) {
        const bit = g.region.at * 8 + rng.int((g.region.end - g.region.at) * 8);
        if (bit >> 3 < bytes.length) bytes[bit >> 3] ^= 1 << (bit & 7);
        bits.push(bit);
      }
      what.push(`${g.what}: flip bit${k > 1 ? 's' : ''} ${bits.join(', ')}`);
      continue;
    }
    const m = mutateOnce(rng, bytes, g?.fields ?? []);
    bytes = m.bytes;
    what.push(g ? `${g.what}: ${m.what}` : m.what);
  }
  return { bytes, what };
}

// ---------------------------------------------------------------------------
// Linker scripts: token-level mutations.

const SCRIPT_KEYWORDS = ['GROUP', 'INPUT', 'AS_NEEDED', 'OUTPUT_FORMAT', 'OUTPUT_ARCH', 'SEARCH_DIR', 'TARGET', 'ENTRY', 'SECTIONS', 'MEMORY', 'INCLUDE', 'VERSION', '-lcore', 'libcore.a', 'app_a.o', ';', ',', '='];
const latin1 = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');
const fromLatin1 = (s: string) => new Uint8Array(Buffer.from(s, 'latin1'));

/** A script's text in tokens, whitespace and comments included (joined, they are the text again). */
function scriptPieces(text: string): string[] {
  return text.match(/\/\*[\s\S]*?\*\/|"[^"]*"|[(),;=]|[^\s(),;="]+|\s+|[\s\S]/g) ?? [];
}

function mutateScriptOnce(rng: Rng, b: Uint8Array): { bytes: Uint8Array; what: string } {
  // bytes, delete, duplicate, parentheses, nesting, long name, NUL, comment/quote, keyword
  const op = rng.weighted([30, 10, 10, 10, 10, 8, 6, 6, 10]);
  if (op === 0) return mutateOnce(rng, b, []);
  const p = scriptPieces(latin1(b));
  const words = p.map((t, i) => (/^\s/.test(t) ? -1 : i)).filter((i) => i >= 0);
  const at = p.length ? rng.int(p.length + 1) : 0;
  const word = words.length ? rng.pick(words) : -1;
  const count = () => rng.pick([1, 1, 2, 3, 10, 100, 1000, 20000, 50000]);
  let what: string;
  switch (op) {
    case 1: {
      if (word < 0) return { bytes: b, what: 'delete (no token)' };
      const n = 1 + (rng.chance(0.7) ? 0 : rng.int(4));
      what = `delete token ${word} '${p[word].slice(0, 20)}'${n > 1 ? ` and ${n - 1} after` : ''}`;
      p.splice(word, n);
      break;
    }
    case 2: {
      if (word < 0) return { bytes: b, what: 'duplicate (no token)' };
      const sep = rng.chance(0.5) ? ' ' : '';
      // At most about 1 MB more (a long name repeated 200,000 times is no string V8 can make).
      const n = Math.max(1, Math.min(count(), Math.floor(2 ** 20 / (p[word].length + 1))));
      what = `duplicate token ${word} '${p[word].slice(0, 20)}' x${n}`;
      p.splice(word + 1, 0, (sep + p[word]).repeat(n));
      break;
    }
    case 3: {
      const parens = p.map((t, i) => (t === '(' || t === ')' ? i : -1)).filter((i) => i >= 0);
      if (parens.length && rng.chance(0.3)) {
        const i = rng.pick(parens);
        what = `delete '${p[i]}' (token ${i})`;
        p.splice(i, 1);
      } else {
        const ch = rng.pick(['(', ')']);
        const n = count();
        what = `insert '${ch}' x${n} at ${at}`;
        p.splice(at, 0, ch.repeat(n));
      }
      break;
    }
    case 4: {
      const opens = p.map((t, i) => (t === '(' ? i + 1 : -1)).filter((i) => i >= 0);
      const pos = opens.length && rng.chance(0.8) ? rng.pick(opens) : at;
      // 10,000 deep overflowed the stack of the recursive parser.
      const depth = rng.pick([2, 8, 100, 1000, 20000, 50000]);
      const closed = rng.chance(0.7) ? depth : rng.int(depth);
      what = `nest AS_NEEDED ${depth} deep at ${pos} (${closed} closed)`;
      p.splice(pos, 0, `${'AS_NEEDED ( '.repeat(depth)}libx.a ${') '.repeat(closed)}`);
      break;
    }
    case 5: {
      const n = rng.pick([256, 4096, 65536, 1 << 20]);
      const name = rng.pick([
        () => 'x'.repeat(n), () => `${'dir/'.repeat(n >> 2)}libx.a`, () => `-l${'y'.repeat(n)}`, () => `"${'q '.repeat(n >> 1)}"`, () => `/${'z'.repeat(n)}`,
      ])();
      const i = word >= 0 && rng.chance(0.7) ? word : at;
      what = `name of ${name.length} bytes at ${i}`;
      p.splice(i, word >= 0 && i === word ? 1 : 0, name);
      break;
    }
    case 6: {
      const n = rng.pick([1, 1, 2, 16, 5000]);
      what = `insert ${n} NUL bytes at ${at}`;
      p.splice(at, 0, '\0'.repeat(n));
      break;
    }
    case 7: {
      const t = rng.pick(['/*', '*/', '"', '/* x */', '/*/', '"(']);
      const n = rng.chance(0.8) ? 1 : count();
      what = `insert '${t}' x${n} at ${at}`;
      p.splice(at, 0, t.repeat(n));
      break;
    }
    default: {
      const k = rng.pick(SCRIPT_KEYWORDS);
      if (word >= 0 && rng.chance(0.5)) {
        what = `token ${word} '${p[word].slice(0, 20)}' -> '${k}'`;
        p[word] = k;
      } else {
        what = `insert '${k}' at ${at}`;
        p.splice(at, 0, ` ${k} `);
      }
    }
  }
  return { bytes: fromLatin1(p.join('')), what };
}

export function mutateScript(rng: Rng, src: Uint8Array): { bytes: Uint8Array; what: string[] } {
  let bytes: Uint8Array = src.slice();
  const what: string[] = [];
  const n = rng.chance(0.6) ? 1 : 2 + rng.int(2);
  for (let i = 0; i < n; i++) {
    const m = mutateScriptOnce(rng, bytes);
    bytes = m.bytes;
    what.push(m.what);
  }
  return { bytes, what };
}

/** 1 to 4 mutations, mostly 1 (a single change gets furthest into the parser). */
export function mutate(rng: Rng, src: Uint8Array, fields: readonly Field[]): { bytes: Uint8Array; what: string[] } {
  let bytes: Uint8Array = src.slice();
  const what: string[] = [];
  const n = rng.chance(0.7) ? 1 : 2 + rng.int(3);
  for (let i = 0; i < n; i++) {
    const m = mutateOnce(rng, bytes, fields);
    bytes = m.bytes;
    what.push(m.what);
  }
  return { bytes, what };
}

// A re-signed state: decoded, one value changed, encoded again with a valid checksum.

type Slot = { get: () => unknown; set: (v: unknown) => void; path: string };

function stateSlots(state: LinkState): Slot[] {
  const slots: Slot[] = [];
  const visit = (v: unknown, path: string, set: (x: unknown) => void) => {
    if (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') {
      slots.push({ get: () => v, set, path });
    } else if (v instanceof Uint8Array || v instanceof Uint32Array || v instanceof Float64Array) {
      slots.push({ get: () => v, set, path });
    } else if (Array.isArray(v)) {
      slots.push({ get: () => v, set, path: `${path}[]` });
      v.forEach((x, i) => visit(x, `${path}[${i}]`, (y) => { v[i] = y; }));
    } else if (v instanceof GlobalTable) {
      // The globals' values, not the table's workings: each record's fields (written back: changed() below).
      v.all().forEach((g, i) => visit(g, `${path}[${i}]`, () => undefined));
    } else if (v instanceof Map) {
      for (const [k, x] of v) visit(x, `${path}{${String(k)}}`, (y) => v.set(k, y));
      slots.push({ get: () => v, set, path: `${path}{}` });
    } else if (v && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) visit(x, `${path}.${k}`, (y) => { (v as Record<string, unknown>)[k] = y; });
    }
  };
  visit(state, 'state', () => undefined);
  return slots;
}

function mutateStateValue(rng: Rng, state: LinkState): string {
  const slots = stateSlots(state);
  const s = rng.pick(slots);
  const v = s.get();
  if (typeof v === 'number') {
    const x = rng.pick([-1, 0, 1, NaN, Infinity, -Infinity, 2 ** 32, 2 ** 53, 1e300, 0.5, v + 1, v - 1, v + 4096, v - 4096, v * 2, -v, 2 ** 31 - 1, rng.u32()]);
    s.set(x);
    return `${s.path} = ${x}`;
  }
  if (typeof v === 'string') {
    const x = rng.pick(['', 'x', `${v}x`, v.slice(1), '{', '"x"', 'mips', '{"tslink":"9.9.9"}', v.toUpperCase()]);
    s.set(x);
    return `${s.path} = ${JSON.stringify(x)}`;
  }
  if (typeof v === 'boolean') {
    s.set(!v);
    return `${s.path} = ${!v}`;
  }
  if (v instanceof Uint8Array || v instanceof Uint32Array || v instanceof Float64Array) {
    if (v.length === 0) return `${s.path} (empty, unchanged)`;
    const i = rng.int(v.length);
    const copy = v.slice();
    copy[i] = v instanceof Float64Array ? rng.pick([NaN, -1, v[i] + 1, 1e300]) : v[i] ^ (1 + rng.int(255));
    s.set(copy);
    return `${s.path}[${i}] changed`;
  }
  if (Array.isArray(v)) {
    if (v.length === 0) return `${s.path} (empty, unchanged)`;
    const i = rng.int(v.length);
    const op = rng.int(3);
    if (op === 0) v.splice(i, 1);
    else if (op === 1) v.splice(i, 0, v[i]);
    else v.reverse();
    return `${s.path} ${['remove', 'duplicate', 'reverse'][op]} ${op === 2 ? '' : i}`;
  }
  if (v instanceof Map) {
    const keys = [...v.keys()];
    if (keys.length) v.delete(rng.pick(keys));
    v.set('1g:x', 0x1000);
    return `${s.path} changed`;
  }
  return `${s.path} unchanged`;
}

// ---------------------------------------------------------------------------
// Cases.

export interface FuzzInput {
  name: string;
  bytes: Uint8Array;
}

export interface FuzzCase {
  kind: FuzzKind;
  arch: ArchName;
  seed: number;
  index: number;
  /** What was mutated and how. */
  target: string;
  mutations: string[];
  inputs: FuzzInput[];
  /** Files a thin archive refers to (path relative to the link's directory). */
  thinMembers: NamedBytes[];
  incremental: boolean;
  prior: PriorLink | null;
  /** State cases: `raw` (bytes of the state), `image` (the output), `resigned` (a value, checksum recomputed). */
  stateMode: 'raw' | 'image' | 'resigned' | null;
  /** Script cases: the files the script may name (the base build's app_a.o, app_b.o, libcore.a, lib/libcore.a), for the command line. */
  files?: NamedBytes[];
}

/** The name a script case's script has, in-process and on disk. */
export const SCRIPT_NAME = 'fuzz.ld';

/** Derived, per-corpus data the cases need (field maps): computed once per process. */
const fieldCache = new WeakMap<Uint8Array, Field[]>();
function fieldsOf(b: Uint8Array, archive: boolean): Field[] {
  let f = fieldCache.get(b);
  if (!f) {
    f = archive ? archiveFields(b) : elfFields(b);
    fieldCache.set(b, f);
  }
  return f;
}

const STATE_HEADER_FIELDS: Field[] = [
  { at: 8, size: 4, what: 'state version' },
  { at: 12, size: 4, what: 'state checksum word' },
  { at: 44, size: 4, what: 'state payload length' },
];

/** The case (kind, index) of `seed`: deterministic. */
export function makeCase(corpus: ArchCorpus, kind: FuzzKind, seed: number, index: number): FuzzCase {
  const arch = corpus.arch;
  const rng = new Rng(caseSeed(seed, kind, arch, index));
  const c: FuzzCase = { kind, arch, seed, index, target: '', mutations: [], inputs: [], thinMembers: [], incremental: false, prior: null, stateMode: null, files: [] };
  if (kind === 'script') {
    const src = rng.pick(corpus.scripts);
    const m = mutateScript(rng, src.bytes);
    c.target = `script seed ${src.name}`;
    c.mutations = m.what;
    c.inputs = [{ name: SCRIPT_NAME, bytes: m.bytes }];
    const b = corpus.builds[0];
    c.files = [b.apps.app_a, b.apps.app_b, b.archives[0], { name: 'lib/libcore.a', bytes: b.archives[0].bytes }];
    return c;
  }
  if (kind === 'shared') {
    const src = rng.pick(corpus.shared);
    const m = mutateShared(rng, src.bytes);
    c.target = src.name;
    c.mutations = m.what;
    c.inputs = [{ name: src.name, bytes: m.bytes }];
    return c;
  }
  if (kind === 'state') {
    const prior = corpus.priors.app_a;
    c.inputs = corpus.edit.inputs.map((i) => ({ ...i }));
    c.incremental = true;
    const mode = rng.weighted([60, 20, 20]);
    if (mode === 0) {
      c.stateMode = 'raw';
      c.target = 'state file';
      let m = mutate(rng, prior.state, STATE_HEADER_FIELDS);
      for (let tries = 0; sameArray(m.bytes, prior.state) && tries < 8; tries++) m = mutate(rng, prior.state, STATE_HEADER_FIELDS);
      c.prior = { state: m.bytes, image: prior.image };
      c.mutations = m.what;
    } else if (mode === 1) {
      c.stateMode = 'image';
      c.target = 'previous output';
      let m = mutate(rng, prior.image, fieldsOf(prior.image, false));
      for (let tries = 0; sameArray(m.bytes, prior.image) && tries < 8; tries++) m = mutate(rng, prior.image, fieldsOf(prior.image, false));
      c.prior = { state: prior.state, image: m.bytes };
      c.mutations = m.what;
    } else {
      c.stateMode = 'resigned';
      c.target = 'state values (re-signed)';
      const state = decodeState(prior.state);
      const n = rng.chance(0.8) ? 1 : 2 + rng.int(3);
      for (let i = 0; i < n; i++) c.mutations.push(mutateStateValue(rng, state));
      for (const g of state.globals.all()) state.globals.changed(g);
      c.prior = { state: encodeState(state), image: prior.image };
    }
    return c;
  }

  // Objects and archives: mutated into a link of app_X.o and an archive.
  const patch = rng.chance(0.3);
  const build = patch ? corpus.builds[0] : rng.pick(corpus.builds);
  const app = rng.pick(['app_a', 'app_b'] as const);
  c.incremental = patch || rng.chance(0.5);
  if (patch) c.prior = corpus.priors[app];
  const lib = patch ? build.archives[0] : rng.pick(build.archives);
  if (kind === 'object') {
    // The program's object, or a unit placed before the archive (it shadows the member).
    const unit = patch || rng.chance(0.4) ? null : rng.pick(build.units);
    const victim = unit ?? build.apps[app];
    const m = mutate(rng, victim.bytes, fieldsOf(victim.bytes, false));
    c.target = `${build.label} ${victim.name}`;
    c.mutations = m.what;
    c.inputs = unit
      ? [build.apps[app], { name: unit.name, bytes: m.bytes }, lib]
      : [{ name: victim.name, bytes: m.bytes }, lib];
  } else {
    const m = mutate(rng, lib.bytes, fieldsOf(lib.bytes, true));
    c.target = `${build.label} ${lib.flavor} ${lib.name}`;
    c.mutations = m.what;
    c.inputs = [build.apps[app], { name: lib.name, bytes: m.bytes }];
  }
  c.thinMembers = lib.thinMembers;
  c.inputs = c.inputs.map((i) => ({ name: i.name, bytes: i.bytes }));
  return c;
}

function sameArray(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** `read`: a script or shared library read without error (the reader kinds). */
export type CaseOutcome = 'full' | 'patched' | 'fell-back-full' | 'read' | 'error';

export interface CaseResult {
  kind: FuzzKind;
  arch: ArchName;
  index: number;
  target: string;
  mutations: string[];
  outcome: CaseOutcome | 'crash' | 'hang' | 'out-of-memory';
  /** The LinkError's message, or the fallback reason. */
  message: string | null;
  /** What is wrong with this case's result, if anything. */
  problem: string | null;
  ms: number;
  /** Growth of the JS heap plus array buffers over the case, in bytes (a lower bound of the peak). */
  heapGrowth: number;
  inputBytes: number;
  /** Size of the image linked, 0 when the link failed. */
  outputBytes: number;
  /** Alignment padding the inputs ask for (sections aligned to 64 KiB or more): output, even if the link fails later. */
  paddingBytes: number;
}

/** The memory a case may use: a small multiple of what it reads and writes. */
export function memoryBound(inputBytes: number, outputBytes: number, paddingBytes = 0): number {
  return 16 * (inputBytes + Math.max(outputBytes, paddingBytes)) + 64 * 2 ** 20;
}

/** The padding the inputs' alignments ask for: the sum of the alignments of 64 KiB and more. */
function declaredPadding(c: FuzzCase): number {
  let pad = 0;
  const add = (name: string, bytes: Uint8Array) => {
    try {
      for (const a of readElfObject(name, bytes).atoms) if (a.align >= 65536) pad += a.align;
    } catch {
      // not an object that reads: asks for nothing
    }
  };
  for (const i of c.inputs) {
    if (isArchive(i.bytes)) {
      try {
        for (const m of readArchive(i.name, i.bytes, (p) => c.thinMembers.find((t) => t.name === p)?.bytes ?? new Uint8Array(0)).members) add(m.name, m.bytes);
      } catch {
        // likewise
      }
    } else {
      add(i.name, i.bytes);
    }
  }
  return pad;
}

function link(c: FuzzCase, withPrior: boolean): { session: LinkSession; outcome: CaseOutcome; message: string | null } {
  const s = new LinkSession(c.incremental ? incrementalOptions(c.arch) : plainOptions(c.arch));
  if (withPrior && c.prior) s.setPriorState(c.prior.state, c.prior.image.slice());
  const thin = new Map(c.thinMembers.map((m) => [m.name, m.bytes]));
  const readThinMember = (path: string): Uint8Array => {
    const b = thin.get(path);
    if (!b) throw new LinkError(`cannot open ${path}: no such file or directory`);
    return b;
  };
  try {
    for (const i of c.inputs) s.addInput(i.name, i.bytes, { readThinMember });
    const r = s.link();
    return { session: s, outcome: r.outcome, message: r.reason };
  } catch (e) {
    if (e instanceof LinkError) return { session: s, outcome: 'error', message: e.message };
    throw e;
  }
}

/**
 * A script or shared-library case: the reader alone. It must return, or throw a LinkError that
 * names the input; a script is also put through `isLinkerScript`, as the command line does.
 */
function readInput(c: FuzzCase): { outcome: CaseOutcome; message: string | null; problem: string | null; keep: unknown } {
  const input = c.inputs[0];
  try {
    if (c.kind === 'script') {
      isLinkerScript(input.bytes);
      const s = parseInputScript(input.name, new TextDecoder().decode(input.bytes));
      const bad = [...s.inputs.map((x) => x.path), ...s.searchDirs].find((x) => typeof x !== 'string');
      if (bad !== undefined) return { outcome: 'read', message: null, problem: `the script reads as a name that is not a string: ${String(bad)}`, keep: s };
      return { outcome: 'read', message: null, problem: null, keep: s };
    }
    const so = readSharedObject(input.name, input.bytes);
    return { outcome: 'read', message: null, problem: null, keep: so };
  } catch (e) {
    if (!(e instanceof LinkError)) throw e;
    const problem = e.message.includes(input.name) ? null : `the error names no input file: ${e.message}`;
    return { outcome: 'error', message: e.message, problem, keep: null };
  }
}

/** Runs one case in this thread and judges it. Never throws. */
export function runCase(corpus: ArchCorpus, c: FuzzCase, slowMs = 2000): CaseResult {
  if (c.kind === 'script' || c.kind === 'shared') return runReaderCase(c, slowMs);
  const inputBytes = c.inputs.reduce((n, i) => n + i.bytes.length, 0) + (c.prior ? c.prior.state.length + c.prior.image.length : 0);
  const res = measured(c, inputBytes, (out) => {
    const r = link(c, true);
    if (r.outcome !== 'error') out.outputBytes = r.session.image().length;
    out.outcome = r.outcome;
    out.message = r.message;
    out.problem = judge(corpus, c, r);
    return r.session;
  });
  // A big output (alignment padding the input asked for) may take its time: 50 MB/s.
  const timeLimit = slowMs + res.outputBytes / 50e3;
  const bound = memoryBound(res.inputBytes, res.outputBytes);
  if (!res.problem && (res.ms > timeLimit || res.heapGrowth > bound)) {
    // Perhaps the inputs asked for it: a big alignment makes a big image, even when the link fails after.
    res.paddingBytes = declaredPadding(c);
    const limit = slowMs + Math.max(res.outputBytes, res.paddingBytes) / 50e3;
    const mem = memoryBound(res.inputBytes, res.outputBytes, res.paddingBytes);
    if (res.ms > limit) res.problem = `slow: ${res.ms.toFixed(0)} ms (limit ${limit.toFixed(0)} ms)`;
    else if (res.heapGrowth > mem) {
      res.problem = `memory: grew by ${res.heapGrowth} bytes for ${res.inputBytes} input and ${res.outputBytes} output bytes (bound ${mem})`;
    }
  }
  return res;
}

function runReaderCase(c: FuzzCase, slowMs: number): CaseResult {
  const res = measured(c, c.inputs[0].bytes.length, (out) => {
    const r = readInput(c);
    out.outcome = r.outcome;
    out.message = r.message;
    out.problem = r.problem;
    return r.keep;
  });
  // Reading is linear: 50 MB/s is far below what any reader does.
  const limit = slowMs + res.inputBytes / 50e3;
  const mem = memoryBound(res.inputBytes, 0);
  if (!res.problem && res.ms > limit) res.problem = `slow: ${res.ms.toFixed(0)} ms (limit ${limit.toFixed(0)} ms)`;
  else if (!res.problem && res.heapGrowth > mem) res.problem = `memory: grew by ${res.heapGrowth} bytes for ${res.inputBytes} input bytes (bound ${mem})`;
  return res;
}

/**
 * Runs `body` on a fresh result, timing it and measuring how much the heap
 * grew while what it returns is still held; an exception is a crash.
 */
function measured(c: FuzzCase, inputBytes: number, body: (res: CaseResult) => unknown): CaseResult {
  const m0 = process.memoryUsage();
  const t0 = performance.now();
  const res: CaseResult = {
    kind: c.kind, arch: c.arch, index: c.index, target: c.target, mutations: c.mutations, outcome: 'error', message: null, problem: null,
    ms: 0, heapGrowth: 0, inputBytes, outputBytes: 0, paddingBytes: 0,
  };
  let keep: unknown = null;
  try {
    keep = body(res);
  } catch (e) {
    res.outcome = 'crash';
    res.message = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    res.problem = `uncaught ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`;
  }
  res.ms = performance.now() - t0;
  const m1 = process.memoryUsage();
  res.heapGrowth = m1.heapUsed + m1.arrayBuffers - (m0.heapUsed + m0.arrayBuffers);
  keep = null;
  void keep;
  return res;
}

function judge(corpus: ArchCorpus, c: FuzzCase, r: { session: LinkSession; outcome: CaseOutcome; message: string | null }): string | null {
  if (r.outcome === 'error') {
    if (c.kind === 'state') return `the link failed: ${r.message}`;
    const names = c.inputs.map((i) => i.name);
    if (!names.some((n) => r.message!.includes(n))) return `the error names no input file: ${r.message}`;
    return null;
  }
  if (c.incremental) {
    try {
      decodeState(r.session.serializeState());
    } catch (e) {
      return `the state of this link does not decode: ${e instanceof Error ? e.message : String(e)}`;
    }
  }
  if (c.kind === 'state') {
    if (c.stateMode === 'resigned') return null;
    // An object's record carries its own checksum, checked when a patch reads it: damage to a record the
    // patch does not read goes unnoticed (and is written back as it was), and the patch must be the one the
    // intact state gives.
    if (c.stateMode === 'raw' && r.outcome === 'patched') {
      return sameArray(r.session.image(), corpus.edit.patchedImage) ? null : 'patched over a corrupt state, and the image differs from the patch over the intact state';
    }
    const want = c.stateMode === 'raw' ? 'the incremental state cannot be used' : 'the previous output';
    if (r.outcome !== 'fell-back-full' || !r.message?.startsWith(want)) {
      return `a ${c.stateMode === 'raw' ? 'corrupt state' : 'changed output'} was not detected: outcome ${r.outcome}, reason ${r.message}`;
    }
    if (!sameArray(r.session.image(), corpus.edit.fullImage)) return 'the full link after a corrupt state differs from a cold full link';
    return null;
  }
  if (r.outcome === 'patched') {
    // A patch must never accept what a full link rejects.
    try {
      const full = link(c, false);
      if (full.outcome === 'error') return `patched, but a full link of the same inputs fails: ${full.message}`;
    } catch (e) {
      return `patched; the full link of the same inputs crashes: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`;
    }
  }
  return null;
}

// ---------------------------------------------------------------------------
// The command line's view of a case: files on disk.

/** Writes a case's files into `dir` and returns the tslink arguments (relative paths: run with cwd = dir). */
export function materializeCase(c: FuzzCase, dir: string): string[] {
  for (const i of [...c.inputs, ...c.thinMembers, ...(c.files ?? [])]) {
    mkdirSync(dirname(join(dir, i.name)), { recursive: true });
    writeFileSync(join(dir, i.name), i.bytes);
  }
  if (c.prior) {
    writeFileSync(join(dir, 'out'), c.prior.image, { mode: 0o755 });
    writeFileSync(join(dir, 'out.tslink-state'), c.prior.state);
  }
  const args = ['-static', '-e', '_start', '-m', c.arch === 'x86_64' ? 'elf_x86_64' : 'aarch64linux', '-o', 'out'];
  if (c.incremental) args.push('--incremental', '--explain', '--build-id=fast');
  // A shared library is not a link input yet: the file is written, and the command line refuses it.
  return [...args, ...c.inputs.map((i) => i.name)];
}

// ---------------------------------------------------------------------------
// Many cases: worker threads with a watchdog.

export interface FuzzOptions {
  seed: number;
  /** Total number of cases, spread evenly over kinds and arches. */
  cases: number;
  kinds?: readonly FuzzKind[];
  arches?: readonly ArchName[];
  /** Run only case `only` of each (kind, arch) stream. */
  only?: number;
  workers?: number;
  /** A case slower than this is a problem (default 2000 ms). */
  slowMs?: number;
  /** A case still running after this is a hang: its worker is terminated (default 20000 ms). */
  hangMs?: number;
  /** Old-generation heap limit of a worker, MB (default 1024): beyond it the case is out of memory. */
  heapLimitMb?: number;
  /** Prebuilt corpora (else built under os.tmpdir() and removed). */
  corpora?: ArchCorpus[];
  onResult?: (r: CaseResult, done: number, total: number) => void;
}

export interface FuzzReport {
  seed: number;
  cases: number;
  ms: number;
  /** kind -> outcome -> count. */
  outcomes: Record<string, Record<string, number>>;
  /** LinkErrors that give an offset (`offset 0x...`). */
  errorsWithOffset: number;
  errors: number;
  problems: CaseResult[];
  slowest: CaseResult | null;
  maxHeapGrowth: CaseResult | null;
}

interface Job {
  kind: FuzzKind;
  arch: ArchName;
  index: number;
}

const WORKER_ROLE = 'tslink-fuzz-worker';

export async function buildCorpora(arches: readonly ArchName[]): Promise<ArchCorpus[]> {
  const dir = mkdtempSync(join(tmpdir(), 'tslink-fuzz-corpus-'));
  try {
    const out: ArchCorpus[] = [];
    for (const arch of arches) out.push(await buildCorpus(arch, join(dir, arch)));
    return out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function planJobs(opts: Pick<FuzzOptions, 'cases' | 'kinds' | 'arches' | 'only'>): Job[] {
  const kinds = opts.kinds ?? FUZZ_KINDS;
  const arches = opts.arches ?? FUZZ_ARCHES;
  if (opts.only !== undefined) return kinds.flatMap((kind) => arches.map((arch) => ({ kind, arch, index: opts.only! })));
  const jobs: Job[] = [];
  const next = new Map<string, number>();
  for (let i = 0; i < opts.cases; i++) {
    const kind = kinds[i % kinds.length];
    const arch = arches[Math.floor(i / kinds.length) % arches.length];
    const k = `${kind}/${arch}`;
    const index = next.get(k) ?? 0;
    next.set(k, index + 1);
    jobs.push({ kind, arch, index });
  }
  return jobs;
}

export async function fuzz(opts: FuzzOptions): Promise<FuzzReport> {
  const t0 = performance.now();
  const arches = opts.arches ?? FUZZ_ARCHES;
  const corpora = opts.corpora ?? (await buildCorpora(arches));
  const jobs = planJobs(opts);
  const slowMs = opts.slowMs ?? 2000;
  const hangMs = opts.hangMs ?? 20000;
  const nWorkers = Math.max(1, Math.min(opts.workers ?? Math.min(2, availableParallelism()), jobs.length));
  const results: CaseResult[] = [];
  let next = 0;
  let done = 0;

  const record = (r: CaseResult) => {
    results.push(r);
    done++;
    opts.onResult?.(r, done, jobs.length);
  };
  const failed = (job: Job, outcome: CaseResult['outcome'], problem: string, ms: number): CaseResult => {
    const c = makeCase(corpora.find((x) => x.arch === job.arch)!, job.kind, opts.seed, job.index);
    return { kind: job.kind, arch: job.arch, index: job.index, target: c.target, mutations: c.mutations, outcome, message: null, problem, ms, heapGrowth: 0, inputBytes: 0, outputBytes: 0, paddingBytes: 0 };
  };

  const runWorker = (): Promise<void> =>
    new Promise((resolve) => {
      const w = new Worker(new URL(import.meta.url), {
        workerData: { role: WORKER_ROLE, corpora, seed: opts.seed, slowMs },
        resourceLimits: { maxOldGenerationSizeMb: opts.heapLimitMb ?? 1024 },
      });
      let current: Job | null = null;
      let started = 0;
      let timer: NodeJS.Timeout | undefined;
      /** Set when this worker dies or is killed with cases left: a fresh one takes over. */
      let replace = false;
      const send = () => {
        clearTimeout(timer);
        if (next >= jobs.length) {
          current = null;
          void w.terminate();
          return;
        }
        current = jobs[next++];
        started = performance.now();
        timer = setTimeout(() => {
          const job = current!;
          current = null;
          replace = true;
          record(failed(job, 'hang', `hang: still running after ${hangMs} ms (worker terminated)`, performance.now() - started));
          void w.terminate();
        }, hangMs);
        w.postMessage(current);
      };
      w.on('message', (r: CaseResult) => {
        if (!current) return;
        clearTimeout(timer);
        current = null;
        record(r);
        send();
      });
      w.on('error', (e: Error & { code?: string }) => {
        if (current) {
          const oom = e.code === 'ERR_WORKER_OUT_OF_MEMORY';
          record(failed(current, oom ? 'out-of-memory' : 'crash', `${oom ? 'out of memory' : 'worker crashed'}: ${e.message}`, performance.now() - started));
          current = null;
        }
        replace = true;
      });
      w.on('exit', () => {
        clearTimeout(timer);
        if (current) {
          record(failed(current, 'crash', 'the worker exited during the case', performance.now() - started));
          current = null;
          replace = true;
        }
        if (replace && next < jobs.length) runWorker().then(resolve);
        else resolve();
      });
      w.on('online', send);
    });

  await Promise.all(Array.from({ length: nWorkers }, runWorker));

  const outcomes: Record<string, Record<string, number>> = {};
  let errors = 0;
  let errorsWithOffset = 0;
  for (const r of results) {
    const k = (outcomes[r.kind] ??= {});
    k[r.outcome] = (k[r.outcome] ?? 0) + 1;
    if (r.outcome === 'error') {
      errors++;
      if (/offset 0x[0-9a-f]+/.test(r.message ?? '')) errorsWithOffset++;
    }
  }
  const max = (f: (r: CaseResult) => number) => results.reduce<CaseResult | null>((m, r) => (!m || f(r) > f(m) ? r : m), null);
  return {
    seed: opts.seed,
    cases: results.length,
    ms: performance.now() - t0,
    outcomes,
    errors,
    errorsWithOffset,
    problems: results.filter((r) => r.problem).sort((a, b) => a.kind.localeCompare(b.kind) || a.arch.localeCompare(b.arch) || a.index - b.index),
    slowest: max((r) => r.ms),
    maxHeapGrowth: max((r) => r.heapGrowth),
  };
}

/** How to rerun one case. */
export function reproduce(seed: number, r: Pick<CaseResult, 'kind' | 'arch' | 'index'>): string {
  return `node dist/src/tools/fuzz.js --seed ${seed} --kind ${r.kind} --arch ${r.arch} --only ${r.index} --save`;
}

export function formatReport(rep: FuzzReport): string {
  const lines: string[] = [];
  lines.push(`tslink fuzz: seed ${rep.seed}, ${rep.cases} cases in ${(rep.ms / 1000).toFixed(1)} s`);
  for (const [kind, o] of Object.entries(rep.outcomes)) {
    lines.push(`  ${kind}: ${Object.entries(o).map(([k, n]) => `${n} ${k}`).join(', ')}`);
  }
  lines.push(`  errors: ${rep.errors} (${rep.errorsWithOffset} with an offset)`);
  if (rep.slowest) lines.push(`  slowest case: ${rep.slowest.ms.toFixed(1)} ms (${rep.slowest.kind} ${rep.slowest.arch} #${rep.slowest.index})`);
  if (rep.maxHeapGrowth) {
    const r = rep.maxHeapGrowth;
    lines.push(`  max heap growth: ${(r.heapGrowth / 2 ** 20).toFixed(1)} MiB (${r.kind} ${r.arch} #${r.index}, ${r.inputBytes} input bytes, ${r.outputBytes} output bytes)`);
  }
  lines.push(`  problems: ${rep.problems.length}`);
  for (const p of rep.problems) {
    lines.push(`  - ${p.kind} ${p.arch} #${p.index}: ${p.target}: ${p.mutations.join('; ')}`);
    lines.push(`    ${p.problem!.split('\n').slice(0, 8).join('\n    ')}`);
    lines.push(`    rerun: ${reproduce(rep.seed, p)}`);
  }
  return lines.join('\n');
}

// ---------------------------------------------------------------------------
// Entry points.

if (!isMainThread && (workerData as { role?: string } | null)?.role === WORKER_ROLE) {
  const data = workerData as { corpora: ArchCorpus[]; seed: number; slowMs: number };
  parentPort!.on('message', (job: Job) => {
    const corpus = data.corpora.find((c) => c.arch === job.arch)!;
    let r: CaseResult;
    try {
      r = runCase(corpus, makeCase(corpus, job.kind, data.seed, job.index), data.slowMs);
    } catch (e) {
      r = {
        kind: job.kind, arch: job.arch, index: job.index, target: '', mutations: [], outcome: 'crash', message: null,
        problem: `the fuzzer failed: ${e instanceof Error ? e.stack : String(e)}`, ms: 0, heapGrowth: 0, inputBytes: 0, outputBytes: 0, paddingBytes: 0,
      };
    }
    parentPort!.postMessage(r);
  });
}

function usage(): never {
  process.stderr.write(
    'usage: node dist/src/tools/fuzz.js --seed S --cases N [--kind object|archive|state|script|shared] [--arch x86_64|aarch64]\n' +
      '                                   [--only J] [--workers W] [--slow-ms MS] [--hang-ms MS] [--save] [--quiet]\n' +
      '       node dist/src/tools/fuzz.js --cli-batch JOBS.json   (runs tslink\'s main() on each {dir, args}; prints the results as JSON)\n',
  );
  process.exit(2);
}

export interface CliBatchJob {
  dir: string;
  args: string[];
}

export interface CliBatchResult {
  status: number | null;
  stdout: string;
  stderr: string;
  /** What escaped main(), with its stack: never expected. */
  threw: string | null;
  ms: number;
}

/**
 * Runs the command line's entry point (`main` in src/cli/main.ts, what bin/tslink.js calls) on
 * each job in turn, in its directory, capturing what it prints: many command-line cases for the
 * cost of one node start. Meant for a child process of its own (it changes directory).
 */
export async function cliBatch(jobs: readonly CliBatchJob[]): Promise<CliBatchResult[]> {
  const { main } = await import('../cli/main.js');
  const out: CliBatchResult[] = [];
  const cwd = process.cwd();
  const stdoutWrite = process.stdout.write;
  const stderrWrite = process.stderr.write;
  for (const job of jobs) {
    const r: CliBatchResult = { status: null, stdout: '', stderr: '', threw: null, ms: 0 };
    const t0 = performance.now();
    process.chdir(job.dir);
    process.stdout.write = ((chunk: string | Uint8Array) => ((r.stdout += String(chunk)), true)) as typeof process.stdout.write;
    process.stderr.write = ((chunk: string | Uint8Array) => ((r.stderr += String(chunk)), true)) as typeof process.stderr.write;
    try {
      r.status = await main(job.args);
    } catch (e) {
      r.threw = e instanceof Error ? (e.stack ?? e.message) : String(e);
    } finally {
      process.stdout.write = stdoutWrite;
      process.stderr.write = stderrWrite;
      process.chdir(cwd);
    }
    r.ms = performance.now() - t0;
    out.push(r);
  }
  return out;
}

async function cli(argv: string[]): Promise<number> {
  if (argv[0] === '--cli-batch' && argv.length === 2) {
    const results = await cliBatch(JSON.parse(readFileSync(argv[1], 'utf8')) as CliBatchJob[]);
    process.stdout.write(JSON.stringify(results));
    return 0;
  }
  const opts: FuzzOptions = { seed: 1, cases: 1000 };
  let save = false;
  let quiet = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => (i + 1 < argv.length ? argv[++i] : usage());
    const num = () => {
      const n = Number(val());
      if (!Number.isInteger(n) || n < 0) usage();
      return n;
    };
    if (a === '--seed') opts.seed = num();
    else if (a === '--cases') opts.cases = num();
    else if (a === '--kind') {
      const k = val() as FuzzKind;
      if (!FUZZ_KINDS.includes(k)) usage();
      opts.kinds = [k];
    } else if (a === '--arch') {
      const k = val() as ArchName;
      if (!FUZZ_ARCHES.includes(k)) usage();
      opts.arches = [k];
    } else if (a === '--only') opts.only = num();
    else if (a === '--workers') opts.workers = num();
    else if (a === '--slow-ms') opts.slowMs = num();
    else if (a === '--hang-ms') opts.hangMs = num();
    else if (a === '--save') save = true;
    else if (a === '--quiet') quiet = true;
    else usage();
  }
  const arches = opts.arches ?? FUZZ_ARCHES;
  process.stderr.write(`building the fixture for ${arches.join(', ')}...\n`);
  opts.corpora = await buildCorpora(arches);
  let lastPrint = 0;
  opts.onResult = (r, done, total) => {
    if (r.problem) process.stderr.write(`\nproblem: ${r.kind} ${r.arch} #${r.index}: ${r.problem.split('\n')[0]}\n`);
    if (!quiet && (performance.now() - lastPrint > 1000 || done === total)) {
      lastPrint = performance.now();
      process.stderr.write(`\r${done}/${total} cases`);
    }
  };
  const rep = await fuzz(opts);
  process.stderr.write('\n');
  process.stdout.write(`${formatReport(rep)}\n`);
  if (save && (rep.problems.length || opts.only !== undefined)) {
    const root = mkdtempSync(join(tmpdir(), `tslink-fuzz-${opts.seed}-`));
    const cases = opts.only !== undefined ? planJobs(opts) : rep.problems;
    for (const p of cases) {
      const corpus = opts.corpora.find((c) => c.arch === p.arch)!;
      const c = makeCase(corpus, p.kind, opts.seed, p.index);
      const dir = join(root, `${p.kind}-${p.arch}-${p.index}`);
      mkdirSync(dir, { recursive: true });
      const args = materializeCase(c, dir);
      writeFileSync(join(dir, 'command'), `# ${c.target}: ${c.mutations.join('; ')}\ntslink ${args.join(' ')}\n`);
    }
    process.stdout.write(`cases saved under ${root} (each directory has its command line in 'command')\n`);
  }
  return rep.problems.length ? 1 : 0;
}

if (isMainThread && process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  cli(process.argv.slice(2)).then(
    (code) => { process.exitCode = code; },
    (e: unknown) => {
      process.stderr.write(`fuzz: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exitCode = 2;
    },
  );
}
