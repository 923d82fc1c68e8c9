import { IMAGE_FILE_MACHINE } from '../../obj/readCoff.js';
import type { ArchName } from '../../obj/model.js';
import { LinkError } from '../../obj/LinkError.js';
import { DOS_AND_PE_HEADERS, DOS_STUB_SIZE, FILE_ALIGN, SECTION_ALIGN, SECTION_HEADER_SIZE, type PeLayout } from '../../link/pe/layout.js';

/**
 * The headers of a PE32+ image (Microsoft "PE Format": "MS-DOS Stub",
 * "Signature", "COFF File Header", "Optional Header (Image Only)", "Section
 * Table") and the string table that holds section names longer than 8
 * bytes (the `.debug_*` sections of a MinGW image).
 */

export const enum DataDir {
  Export = 0, Import = 1, Resource = 2, Exception = 3, Certificate = 4, BaseReloc = 5, Debug = 6,
  Architecture = 7, GlobalPtr = 8, TLS = 9, LoadConfig = 10, BoundImport = 11, IAT = 12, DelayImport = 13, CLR = 14,
}

export const enum Subsystem {
  Native = 1, WindowsGui = 2, WindowsCui = 3, EfiApplication = 10, EfiBootServiceDriver = 11, EfiRuntimeDriver = 12, EfiRom = 13,
}

export const enum DllCharacteristics {
  HighEntropyVa = 0x20, DynamicBase = 0x40, NxCompat = 0x100, NoSeh = 0x400, TerminalServerAware = 0x8000,
}

export interface PeHeaderOptions {
  arch: ArchName;
  dll: boolean;
  entryRva: number;
  subsystem: number;
  dllCharacteristics: number;
  /** Major, minor: the OS and subsystem versions written (lld's default for x64 and ARM64: 6.0). */
  /** Major, minor: the image's own version (lld's default 0.0). */
  imageVersion: [number, number];
  osVersion: [number, number];
  subsystemVersion: [number, number];
  stackReserve: number;
  stackCommit: number;
  heapReserve: number;
  heapCommit: number;
  /** TimeDateStamp: 0 for a reproducible image (lld-link /Brepro writes a hash; tslink writes 0). */
  timestamp: number;
  /** RVA and size per data directory. */
  directories: Map<DataDir, { rva: number; size: number }>;
}

/**
 * The classic stub: a 16-bit program that prints a message and exits with
 * status 1 when the image is run under DOS. Machine code: push cs; pop ds;
 * mov dx, 0x0e; mov ah, 9; int 0x21; mov ax, 0x4c01; int 0x21; then the
 * `$`-terminated message at offset 0x0e.
 */
const DOS_PROGRAM = [0x0e, 0x1f, 0xba, 0x0e, 0x00, 0xb4, 0x09, 0xcd, 0x21, 0xb8, 0x01, 0x4c, 0xcd, 0x21];
const DOS_MESSAGE = 'This program cannot be run in DOS mode.$';

/** Writes the headers into the first `layout.headerSize` bytes; appends the string table if one is needed. */
export function writePeHeaders(image: Uint8Array, layout: PeLayout, o: PeHeaderOptions, stringTableAt: number): void {
  const dv = new DataView(image.buffer, image.byteOffset, image.byteLength);
  // DOS header: "MZ", a minimal 16-bit header for the stub, e_lfanew at 0x3c.
  image[0] = 0x4d; image[1] = 0x5a;
  dv.setUint16(0x02, 0x78, true); // bytes on the last page
  dv.setUint16(0x04, 1, true); // pages
  dv.setUint16(0x08, 4, true); // header paragraphs
  dv.setUint16(0x0c, 0xffff, true); // max extra paragraphs
  dv.setUint16(0x10, 0xb8, true); // initial SP
  dv.setUint16(0x18, 0x40, true); // relocation table offset
  dv.setUint32(0x3c, DOS_STUB_SIZE, true);
  image.set(DOS_PROGRAM, 0x40);
  for (let i = 0; i < DOS_MESSAGE.length; i++) image[0x40 + DOS_PROGRAM.length + i] = DOS_MESSAGE.charCodeAt(i);

  let p = DOS_STUB_SIZE;
  image.set([0x50, 0x45, 0, 0], p); // "PE\0\0"
  p += 4;

  const longNames = layout.peSections.filter((s) => s.sec.name.length > 8).map((s) => s.sec.name);
  // COFF file header.
  dv.setUint16(p, o.arch === 'x86_64' ? IMAGE_FILE_MACHINE.AMD64 : IMAGE_FILE_MACHINE.ARM64, true);
  dv.setUint16(p + 2, layout.peSections.length, true);
  dv.setUint32(p + 4, o.timestamp, true);
  dv.setUint32(p + 8, longNames.length ? stringTableAt : 0, true); // PointerToSymbolTable: no symbols, only the string table
  dv.setUint32(p + 12, 0, true);
  dv.setUint16(p + 16, 240, true);
  // EXECUTABLE_IMAGE | LARGE_ADDRESS_AWARE, and DLL for a library.
  dv.setUint16(p + 18, 0x0002 | 0x0020 | (o.dll ? 0x2000 : 0), true);
  p += 20;

  // Optional header, PE32+.
  const code = layout.peSections.filter((s) => s.characteristics & 0x20);
  const init = layout.peSections.filter((s) => s.characteristics & 0x40);
  const uninit = layout.peSections.filter((s) => s.characteristics & 0x80);
  const sum = (list: typeof code) => list.reduce((n, s) => n + s.rawSize, 0);
  dv.setUint16(p, 0x20b, true);
  image[p + 2] = 14; // linker version 14.0, as lld writes
  image[p + 3] = 0;
  dv.setUint32(p + 4, sum(code), true);
  dv.setUint32(p + 8, sum(init), true);
  dv.setUint32(p + 12, uninit.reduce((n, s) => n + (s.rawSize ? 0 : s.sec.size), 0), true);
  dv.setUint32(p + 16, o.entryRva, true);
  dv.setUint32(p + 20, code.length ? code[0].sec.addr - layout.imageBase : 0, true);
  dv.setBigUint64(p + 24, BigInt(layout.imageBase), true);
  dv.setUint32(p + 32, SECTION_ALIGN, true);
  dv.setUint32(p + 36, FILE_ALIGN, true);
  dv.setUint16(p + 40, o.osVersion[0], true);
  dv.setUint16(p + 42, o.osVersion[1], true);
  dv.setUint16(p + 44, o.imageVersion[0], true);
  dv.setUint16(p + 46, o.imageVersion[1], true);
  dv.setUint16(p + 48, o.subsystemVersion[0], true);
  dv.setUint16(p + 50, o.subsystemVersion[1], true);
  dv.setUint32(p + 56, layout.imageSize, true);
  dv.setUint32(p + 60, layout.headerSize, true);
  dv.setUint32(p + 64, 0, true); // CheckSum
  dv.setUint16(p + 68, o.subsystem, true);
  dv.setUint16(p + 70, o.dllCharacteristics, true);
  dv.setBigUint64(p + 72, BigInt(o.stackReserve), true);
  dv.setBigUint64(p + 80, BigInt(o.stackCommit), true);
  dv.setBigUint64(p + 88, BigInt(o.heapReserve), true);
  dv.setBigUint64(p + 96, BigInt(o.heapCommit), true);
  dv.setUint32(p + 104, 0, true);
  dv.setUint32(p + 108, 16, true);
  for (const [dir, { rva, size }] of o.directories) {
    dv.setUint32(p + 112 + dir * 8, rva, true);
    dv.setUint32(p + 116 + dir * 8, size, true);
  }
  p += 240;

  // Section table; names over 8 bytes are "/offset" into the string table.
  let strOff = 4;
  const strings: string[] = [];
  for (const s of layout.peSections) {
    let name = s.sec.name;
    if (name.length > 8) {
      strings.push(name);
      name = `/${strOff}`;
      strOff += Buffer.byteLength(s.sec.name) + 1;
      if (name.length > 8) throw new LinkError(`too many long section names for the string table (at '${s.sec.name}')`);
    }
    for (let i = 0; i < name.length; i++) image[p + i] = name.charCodeAt(i);
    // VirtualSize; a DWARF section's says what is used (a patch grows it into its headroom and updates it).
    dv.setUint32(p + 8, s.sec.name.startsWith('.debug_') ? s.sec.used : s.sec.size, true);
    dv.setUint32(p + 12, s.sec.addr - layout.imageBase, true);
    dv.setUint32(p + 16, s.rawSize, true);
    dv.setUint32(p + 20, s.rawSize ? s.sec.offset : 0, true);
    dv.setUint32(p + 36, s.characteristics >>> 0, true);
    p += SECTION_HEADER_SIZE;
  }
  if (strings.length) {
    dv.setUint32(stringTableAt, strOff, true);
    let q = stringTableAt + 4;
    for (const s of strings) {
      const b = Buffer.from(s, 'utf8');
      image.set(b, q);
      q += b.length + 1;
    }
  }
}

/** File offset of section i's header (0-based) in the section table. */
export function sectionHeaderOffset(i: number): number {
  return DOS_AND_PE_HEADERS + i * SECTION_HEADER_SIZE;
}

/** Bytes the string table needs after the sections (0 without long names). */
export function stringTableSize(layout: PeLayout): number {
  const long = layout.peSections.filter((s) => s.sec.name.length > 8);
  return long.length ? 4 + long.reduce((n, s) => n + Buffer.byteLength(s.sec.name) + 1, 0) : 0;
}

/**
 * Base relocations (`.reloc`): the RVAs of the 64-bit absolute addresses in
 * the image, which the loader adjusts when it maps the image elsewhere than
 * at its preferred base. One block per 4 KiB page: the page's RVA, the
 * block's size, then 16-bit entries (type << 12 | offset in the page);
 * blocks are 4-byte aligned, padded with an ABSOLUTE (no-op) entry.
 */
export function encodeBaseRelocs(rvas: number[]): Uint8Array {
  const sorted = Float64Array.from(rvas).sort();
  const blocks: number[][] = [];
  let cur: number[] = [];
  let page = -1;
  for (const rva of sorted) {
    const pg = rva - (rva % 4096);
    if (pg !== page) {
      if (cur.length) blocks.push(cur);
      cur = [pg];
      page = pg;
    }
    if (cur.length === 1 || cur[cur.length - 1] !== rva) cur.push(rva);
  }
  if (cur.length) blocks.push(cur);
  const size = blocks.reduce((n, b) => n + 8 + Math.ceil((b.length - 1) / 2) * 4, 0);
  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);
  let p = 0;
  for (const b of blocks) {
    const entries = b.length - 1;
    const blockSize = 8 + Math.ceil(entries / 2) * 4;
    dv.setUint32(p, b[0], true);
    dv.setUint32(p + 4, blockSize, true);
    for (let i = 0; i < entries; i++) dv.setUint16(p + 8 + i * 2, (10 << 12) | (b[i + 1] - b[0]), true); // IMAGE_REL_BASED_DIR64
    p += blockSize;
  }
  return out;
}

/** The RVAs `.reloc` lists (IMAGE_REL_BASED_DIR64 entries; ABSOLUTE padding skipped), sorted: encodeBaseRelocs read back. */
export function decodeBaseRelocs(bytes: Uint8Array): Float64Array {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: number[] = [];
  let p = 0;
  while (p + 8 <= bytes.length) {
    const page = dv.getUint32(p, true);
    const size = dv.getUint32(p + 4, true);
    if (size < 8 || p + size > bytes.length) break;
    for (let q = p + 8; q + 2 <= p + size; q += 2) {
      const e = dv.getUint16(q, true);
      if (e >> 12) out.push(page + (e & 0xfff));
    }
    p += size;
  }
  return Float64Array.from(out).sort();
}

/** An exception-table entry (RUNTIME_FUNCTION): begin, end and unwind-info RVAs. */
/** A RUNTIME_FUNCTION's 32-bit words, the start RVA first. */
export type RuntimeFunction = number[];

/** The whole 12-byte entries in `bytes`. */
export function readRuntimeFunctions(bytes: Uint8Array, arch: ArchName): RuntimeFunction[] {
  const size = runtimeFunctionSize(arch);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: RuntimeFunction[] = [];
  for (let q = 0; q + size <= bytes.length; q += size) {
    const e: number[] = [];
    for (let k = 0; k < size; k += 4) e.push(dv.getUint32(q + k, true));
    out.push(e);
  }
  return out;
}

/** A RUNTIME_FUNCTION: x64's start, end and unwind RVAs; ARM64's start RVA and unwind data (an RVA or packed). */
export function runtimeFunctionSize(arch: ArchName): number {
  return arch === 'x86_64' ? 12 : 8;
}

/** The exception table as the unwinder searches it: sorted by start RVA. */
export function encodeExceptionTable(entries: RuntimeFunction[], arch: ArchName): Uint8Array {
  const size = runtimeFunctionSize(arch);
  const sorted = [...entries].sort((a, b) => a[0] - b[0]);
  const out = new Uint8Array(sorted.length * size);
  const dv = new DataView(out.buffer);
  sorted.forEach((e, i) => {
    for (let k = 0; k < size / 4; k++) dv.setUint32(i * size + 4 * k, e[k], true);
  });
  return out;
}
