/**
 * Helpers for the incremental-linking acceptance suite (acceptance.test.ts,
 * ../shared/ACCEPTANCE.md): building the fixture, linking through
 * LinkSession the way a fresh process would (prior state + prior image read
 * back from disk), emitting onto the previous image, reading symbol maps and
 * section headers of an image, decoding jump islands, and running programs.
 *
 * Nothing here decides what a scenario must show; the assertions that are
 * checked on every link are the session's own contract (emit() writes the
 * whole image on a full link and only r.writes on a patch, and the bytes it
 * writes give s.image()).
 */
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  buildFixture,
  type FixtureBuild,
  type FixtureProgram,
  type FixtureVariants,
} from '../../src/cli/fixture.js';
import { LinkSession, type ByteRange, type InputId, type LinkReport, type RecordStore, type SessionOptions } from '../../src/session/LinkSession.js';
import { readElf64, type Shdr } from '../support/elfcheck.js';
import { type Arch, type ExecResult, describeExit, exec, linkLld, repoRoot, run, tool } from '../support/toolchain.js';

// ---------------------------------------------------------------------------
// The session API as the contract states it.

/** The options every link of the suite uses (the cold reference links too). */
export function sessionOptions(arch: Arch, extra: Partial<SessionOptions> = {}): SessionOptions {
  return { format: 'elf', arch, output: 'exe', entry: '_start', incremental: true, buildId: 'fast', ...extra };
}

/**
 * One input on the "command line". `name` is its path as a build system run
 * from the output's directory would pass it (`app_a.o`, `libcore.a`): the same
 * from one link to the next, while `file` is where this link's bytes are (the
 * fixture build of the edit). So an edit looks like a file rebuilt in place.
 */
export interface InputFile {
  kind: 'object' | 'archive';
  name: string;
  file: string;
}

/** A program's inputs in command-line order: `app_X.o libcore.a`. */
export function programInputs(build: FixtureBuild, app: FixtureProgram): InputFile[] {
  return [
    { kind: 'object', name: `${app}.o`, file: build.apps[app] },
    { kind: 'archive', name: 'libcore.a', file: build.libcore },
  ];
}

/** A records file (serializeStateSplit's) in memory, counting the bytes read from it. */
export class MemoryRecords implements RecordStore {
  bytes = new Uint8Array(0);
  /** Bytes read so far. */
  bytesRead = 0;
  get size(): number {
    return this.bytes.length;
  }
  read(offset: number, length: number): Uint8Array {
    this.bytesRead += length;
    return this.bytes.slice(offset, offset + length);
  }
  /** Takes a split encoding's records: as the whole file (`fresh`), or appended. */
  write(split: { records: Uint8Array; fresh: boolean }): void {
    if (split.fresh) {
      this.bytes = split.records.slice();
      return;
    }
    const next = new Uint8Array(this.bytes.length + split.records.length);
    next.set(this.bytes);
    next.set(split.records, this.bytes.length);
    this.bytes = next;
  }
}

export function readBytes(file: string): Uint8Array {
  const b = fs.readFileSync(file);
  return new Uint8Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

export function addInputs(s: LinkSession, inputs: readonly InputFile[]): InputId[] {
  return inputs.map((i) => (i.kind === 'object' ? s.addObject(i.name, readBytes(i.file)) : s.addArchive(i.name, readBytes(i.file))));
}

/** What one link produced. */
export interface Linked {
  report: LinkReport;
  /** The image as emitted (equal to s.image(), checked). */
  image: Uint8Array;
  /** The session's fullResolutions counter after link(). */
  fullResolutions: number;
  /** The emitted image on disk (executable). */
  file: string;
  /** What emit() wrote. */
  emitted: ByteRange[];
}

export function totalLength(ranges: readonly ByteRange[]): number {
  return ranges.reduce((n, r) => n + r.length, 0);
}

/**
 * Runs s.emit() onto `prior` (a patch) or onto nothing (a full link), the way
 * the command line writes a file, and checks the emit contract:
 *  - the bytes emitted give exactly s.image(), whose length is r.size;
 *  - a full link (outcome 'full' or 'fell-back-full') writes the whole image;
 *  - a patch writes only inside the ranges r.writes reports.
 */
export function emitChecked(s: LinkSession, report: LinkReport, prior: Uint8Array | null): { image: Uint8Array; emitted: ByteRange[] } {
  const patch = report.outcome === 'patched';
  let buf = patch && prior ? prior.slice() : new Uint8Array(0);
  let sized = false;
  const emitted: ByteRange[] = [];
  s.emit({
    setSize(n: number) {
      const nb = new Uint8Array(n);
      nb.set(buf.subarray(0, Math.min(n, buf.length)));
      buf = nb;
      sized = true;
    },
    write(offset: number, bytes: Uint8Array) {
      expect(sized, 'emit(): setSize() is called before any write()').to.equal(true);
      expect(offset + bytes.length, `emit(): write at ${offset}+${bytes.length} beyond the size set`).to.be.at.most(buf.length);
      buf.set(bytes, offset);
      emitted.push({ offset, length: bytes.length });
    },
  });
  const image = s.image();
  expect(report.size, 'r.size is the size of s.image()').to.equal(image.length);
  expect(buf.length, 'emit() sets the size of the image').to.equal(image.length);
  if (patch) {
    for (const w of emitted) {
      const inside = report.writes.some((r) => w.offset >= r.offset && w.offset + w.length <= r.offset + r.length);
      expect(inside, `a patch's emit() wrote [${w.offset}, ${w.offset + w.length}) outside r.writes ${JSON.stringify(report.writes)}`).to.equal(true);
    }
  } else {
    expect(covers(emitted, image.length), `a ${report.outcome} link's emit() writes the whole image`).to.equal(true);
  }
  expect(Buffer.compare(buf, image) === 0, 'the bytes emit() wrote (onto the prior image, for a patch) equal s.image()').to.equal(true);
  return { image: buf, emitted };
}

function covers(ranges: readonly ByteRange[], size: number): boolean {
  const sorted = [...ranges].sort((a, b) => a.offset - b.offset);
  let end = 0;
  for (const r of sorted) {
    if (r.offset > end) return false;
    end = Math.max(end, r.offset + r.length);
  }
  return end >= size;
}

export function writeImage(file: string, image: Uint8Array): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, image);
  fs.chmodSync(file, 0o755);
}

/**
 * One output image persisted between links as a build system would: each
 * link() is a fresh process, a new LinkSession seeded with the state file and
 * the image file the previous link left (none on the first link).
 */
export class PersistedOutput {
  constructor(
    readonly arch: Arch,
    readonly file: string,
    readonly extra: Partial<SessionOptions> = {},
  ) {}

  get stateFile(): string {
    return `${this.file}.tslink-state`;
  }

  link(inputs: readonly InputFile[]): Linked {
    const s = new LinkSession(sessionOptions(this.arch, this.extra));
    let prior: Uint8Array | null = null;
    if (fs.existsSync(this.stateFile)) {
      prior = readBytes(this.file);
      // The session takes the image it is given over and patches it in place: keep our own copy
      // of the old image, so that emitChecked really replays the writes onto it.
      s.setPriorState(readBytes(this.stateFile), prior.slice());
    }
    addInputs(s, inputs);
    const report = s.link();
    const { image, emitted } = emitChecked(s, report, prior);
    writeImage(this.file, image);
    fs.writeFileSync(this.stateFile, s.serializeState());
    return { report, image, fullResolutions: s.fullResolutions, file: this.file, emitted };
  }
}

/** A cold full link: a brand-new session, no prior state, the same options. */
export function coldLink(arch: Arch, inputs: readonly InputFile[], file: string, extra: Partial<SessionOptions> = {}): Linked {
  const s = new LinkSession(sessionOptions(arch, extra));
  addInputs(s, inputs);
  const report = s.link();
  const { image, emitted } = emitChecked(s, report, null);
  writeImage(file, image);
  return { report, image, fullResolutions: s.fullResolutions, file, emitted };
}

/** A live session: the same LinkSession across links, inputs replaced in place. */
export class LiveOutput {
  readonly session: LinkSession;
  readonly ids: InputId[];
  private prior: Uint8Array | null = null;

  constructor(
    readonly arch: Arch,
    readonly file: string,
    inputs: readonly InputFile[],
    extra: Partial<SessionOptions> = {},
  ) {
    this.session = new LinkSession(sessionOptions(arch, extra));
    this.ids = addInputs(this.session, inputs);
  }

  replace(index: number, file: string): void {
    this.session.replaceInput(this.ids[index], readBytes(file));
  }

  link(): Linked {
    const report = this.session.link();
    const { image, emitted } = emitChecked(this.session, report, this.prior);
    this.prior = image;
    writeImage(this.file, image);
    return { report, image, fullResolutions: this.session.fullResolutions, file: this.file, emitted };
  }
}

// ---------------------------------------------------------------------------
// Fixture builds.

export interface BuildSpec {
  variants: FixtureVariants;
  debug: boolean;
}

/** Builds each spec into `root/<key>` with at most `limit` builds at a time (each runs 7 clangs). */
export async function buildAll<K extends string>(arch: Arch, root: string, specs: Record<K, BuildSpec>, limit = 2): Promise<Record<K, FixtureBuild>> {
  const keys = Object.keys(specs) as K[];
  const out = {} as Record<K, FixtureBuild>;
  let next = 0;
  const worker = async () => {
    while (next < keys.length) {
      const k = keys[next++];
      out[k] = await buildFixture({ arch, outDir: path.join(root, k), variants: specs[k].variants, debug: specs[k].debug, pic: false });
    }
  };
  await Promise.all(Array.from({ length: limit }, worker));
  return out;
}

// ---------------------------------------------------------------------------
// Running programs.

export async function runStatus(file: string, arch: Arch): Promise<number | null> {
  const r: ExecResult = await run(file, arch);
  if (r.status === null) throw new Error(`${file}: ${describeExit(r)}`);
  return r.status;
}

/** ld.lld's link of the same inputs (`-static -e _start`), the reference. */
export async function lldLink(out: string, inputs: readonly InputFile[]): Promise<string> {
  await linkLld(
    out,
    inputs.map((i) => i.file),
  );
  return out;
}

// ---------------------------------------------------------------------------
// Symbol maps and section headers.

export interface NmSymbol {
  addr: number;
  type: string;
  name: string;
}

/** `llvm-nm -n --defined-only`: every defined symbol with its address, sorted by address. */
export async function nm(file: string): Promise<NmSymbol[]> {
  const out = await tool('llvm-nm', ['-n', '--defined-only', file]);
  const syms: NmSymbol[] = [];
  for (const line of out.split('\n')) {
    const m = /^([0-9a-f]+) (\S) (.+)$/.exec(line.trim());
    if (m) syms.push({ addr: parseInt(m[1], 16), type: m[2], name: m[3] });
  }
  return syms;
}

/** `name@address` lines sorted, for whole-map comparisons with readable diffs. */
export function nmLines(syms: readonly NmSymbol[]): string[] {
  return syms.map((s) => `${s.name} ${s.type} 0x${s.addr.toString(16)}`).sort();
}

export function symbol(syms: readonly NmSymbol[], name: string): NmSymbol {
  const s = syms.filter((x) => x.name === name);
  if (s.length !== 1) throw new Error(`expected exactly one symbol '${name}' in the nm output, found ${s.length}`);
  return s[0];
}

export function sections(image: Uint8Array): Shdr[] {
  return readElf64(Buffer.from(image.buffer, image.byteOffset, image.byteLength)).shdrs;
}

const SHF_ALLOC = 0x2;
const SHT_NOBITS = 8;

/** The allocated section holding an address. */
export function sectionAt(shdrs: readonly Shdr[], addr: number): Shdr {
  const s = shdrs.find((h) => h.flags & SHF_ALLOC && h.size > 0 && addr >= h.addr && addr < h.addr + h.size);
  if (!s) throw new Error(`no allocated section holds address 0x${addr.toString(16)}`);
  return s;
}

/** File offset of an address in an allocated, non-NOBITS section. */
export function fileOffset(shdrs: readonly Shdr[], addr: number): number {
  const s = sectionAt(shdrs, addr);
  if (s.type === SHT_NOBITS) throw new Error(`address 0x${addr.toString(16)} is in ${s.name}, which has no file bytes`);
  return s.offset + (addr - s.addr);
}

/** A half-open range of addresses. */
export interface AddrRange {
  start: number;
  end: number;
}

/**
 * A symbol's slot: from its address to the next higher symbol address in the
 * same section (`boundaries`: nm addresses, of the old and new image when
 * both matter), or the section's end.
 */
export function slotOf(shdrs: readonly Shdr[], addr: number, boundaries: readonly number[]): AddrRange {
  const sec = sectionAt(shdrs, addr);
  let end = sec.addr + sec.size;
  for (const b of boundaries) if (b > addr && b < end) end = b;
  return { start: addr, end };
}

/** File range [start, end) of an address range (one section). */
export function fileRange(shdrs: readonly Shdr[], r: AddrRange): { start: number; end: number } {
  const start = fileOffset(shdrs, r.start);
  return { start, end: start + (r.end - r.start) };
}

/** File range of the build id's descriptor (the id bytes) in `.note.gnu.build-id`. */
export function buildIdRange(image: Uint8Array): { start: number; end: number } {
  const sec = sections(image).find((s) => s.name === '.note.gnu.build-id');
  if (!sec) throw new Error('the image has no .note.gnu.build-id section (linked with buildId "fast")');
  const dv = new DataView(image.buffer, image.byteOffset, image.byteLength);
  const namesz = dv.getUint32(sec.offset, true);
  const descsz = dv.getUint32(sec.offset + 4, true);
  const start = sec.offset + 12 + ((namesz + 3) & ~3);
  return { start, end: start + descsz };
}

/** File ranges of the named sections' contents. */
export function sectionFileRanges(image: Uint8Array, pred: (s: Shdr) => boolean): { start: number; end: number; name: string }[] {
  return sections(image)
    .filter((s) => s.type !== SHT_NOBITS && pred(s))
    .map((s) => ({ start: s.offset, end: s.offset + s.size, name: s.name }));
}

/** Runs of differing bytes between two images (the longer one's tail differs). */
export function diffRuns(a: Uint8Array, b: Uint8Array): { start: number; end: number }[] {
  const runs: { start: number; end: number }[] = [];
  const n = Math.max(a.length, b.length);
  let i = 0;
  while (i < n) {
    if (i < a.length && i < b.length && a[i] === b[i]) {
      i++;
      continue;
    }
    const start = i;
    while (i < n && !(i < a.length && i < b.length && a[i] === b[i])) i++;
    runs.push({ start, end: i });
  }
  return runs;
}

/** The differing bytes not covered by any allowed range, as readable runs. */
export function uncoveredDiffs(a: Uint8Array, b: Uint8Array, allowed: readonly { start: number; end: number }[]): string[] {
  const out: string[] = [];
  for (const run of diffRuns(a, b)) {
    let i = run.start;
    while (i < run.end) {
      const ok = allowed.find((r) => i >= r.start && i < r.end);
      if (ok) {
        i = ok.end;
        continue;
      }
      const s = i;
      while (i < run.end && !allowed.some((r) => i >= r.start && i < r.end)) i++;
      out.push(`[0x${s.toString(16)}, 0x${i.toString(16)}) (${i - s} bytes)`);
    }
  }
  return out;
}

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

// ---------------------------------------------------------------------------
// Jump islands (DESIGN.md section 4).

export interface Island {
  /** The address the island jumps to. */
  target: number;
  /** Its size in bytes. */
  size: number;
  text: string;
}

function sext(v: number, bits: number): number {
  const m = 2 ** (bits - 1);
  return (v & (m * 2 - 1)) >= m ? (v & (m * 2 - 1)) - m * 2 : v & (m * 2 - 1);
}

/**
 * Decodes a jump island at `addr` (bytes at file offset `off`):
 * x86-64 `jmp rel32` (0xe9); AArch64 `b imm26` or `adrp x16; add x16, x16, #lo12; br x16`.
 * Returns null, with nothing decoded, when the bytes are none of these.
 */
export function decodeIsland(arch: Arch, image: Uint8Array, off: number, addr: number): Island | null {
  const dv = new DataView(image.buffer, image.byteOffset, image.byteLength);
  if (arch === 'x86_64') {
    if (image[off] !== 0xe9) return null;
    const rel = dv.getInt32(off + 1, true);
    return { target: addr + 5 + rel, size: 5, text: `jmp rel32 ${rel}` };
  }
  const w0 = dv.getUint32(off, true);
  if ((w0 & 0xfc000000) >>> 0 === 0x14000000) {
    const imm = sext(w0 & 0x03ffffff, 26) * 4;
    return { target: addr + imm, size: 4, text: `b ${imm}` };
  }
  const w1 = dv.getUint32(off + 4, true);
  const w2 = dv.getUint32(off + 8, true);
  const isAdrpX16 = (w0 & 0x9f00001f) >>> 0 === 0x90000010;
  const isAddX16 = (w1 & 0xffc003ff) >>> 0 === 0x91000210;
  const isBrX16 = w2 === 0xd61f0200;
  if (isAdrpX16 && isAddX16 && isBrX16) {
    const immlo = (w0 >>> 29) & 3;
    const immhi = (w0 >>> 5) & 0x7ffff;
    const page = Math.floor(addr / 4096) * 4096 + sext(immhi * 4 + immlo, 21) * 4096;
    const lo12 = (w1 >>> 10) & 0xfff;
    return { target: page + lo12, size: 12, text: `adrp x16; add x16, x16, #0x${lo12.toString(16)}; br x16` };
  }
  return null;
}

/** Is every byte of [start, end) the architecture's trap (x86-64 int3; AArch64 udf #0 / brk)? */
export function isTrapFill(arch: Arch, image: Uint8Array, start: number, end: number): boolean {
  if (arch === 'x86_64') {
    for (let i = start; i < end; i++) if (image[i] !== 0xcc) return false;
    return true;
  }
  if ((end - start) % 4 !== 0) return false;
  const dv = new DataView(image.buffer, image.byteOffset, image.byteLength);
  for (let i = start; i < end; i += 4) {
    const w = dv.getUint32(i, true);
    if (w !== 0 && (w & 0xffe0001f) >>> 0 !== 0xd4200000) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------
// Debug info and the command line.

/** `llvm-addr2line -e file 0xADDR`: `file:line`. */
export async function addr2line(file: string, addr: number): Promise<string> {
  return (await tool('llvm-addr2line', ['-e', file, `0x${addr.toString(16)}`])).trim();
}

/** `node bin/tslink.js args...`. */
export function tslinkCli(args: readonly string[], cwd?: string): Promise<ExecResult> {
  return exec(process.execPath, [path.join(repoRoot(), 'bin', 'tslink.js'), ...args], { cwd, timeoutMs: 120_000 });
}

/** Runs `f` once, when first asked: a scenario's links run when its first assertion needs them. */
export function once<T>(f: () => Promise<T>): () => Promise<T> {
  let p: Promise<T> | undefined;
  return () => (p ??= f());
}
