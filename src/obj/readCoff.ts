import { ByteReader, decodeName } from './ByteReader.js';
import { hex } from './LinkError.js';
import { isShortImport, readShortImport } from './coffImport.js';
import {
  AtomKind, ComdatSelect, SecFlag, SymBinding, SymPlace, SymType,
  type ArchName, type Atom, type ComdatGroup, type InputSymbol, type ObjectFile,
} from './model.js';
import { RelocTable, Relocs } from './relocs.js';

/**
 * Reads a COFF relocatable object (AMD64 or ARM64, regular or /bigobj) into
 * the format-neutral model; see doc/coff.md. The format is Microsoft's "PE
 * Format" specification, sections "COFF File Header", "Section Table",
 * "COFF Relocations", "COFF Symbol Table" and "COFF String Table"; where the
 * specification is silent, this reader does what lld-link does.
 *
 * What it produces:
 *
 * - One atom per section, named as in the object (long names resolved from
 *   the string table, `$` suffixes kept: `.text$mn`, `.CRT$XCU`), its kind
 *   from the characteristics, its alignment from IMAGE_SCN_ALIGN_*, its
 *   characteristics in `rawType`. `.drectve` is consumed into
 *   `ObjectFile.directives`; IMAGE_SCN_LNK_REMOVE sections (`.llvm_addrsig`)
 *   are dropped; `.debug$S`, `.debug$T` and DWARF `.debug_*` are kept as
 *   non-allocated Debug atoms. Sections that are not COMDAT are gc roots
 *   (SecFlag.Retain), as under lld-link's /OPT:REF.
 * - COMDAT: each COMDAT section with an external leader (the first symbol
 *   defined in it after its section-definition symbol) is a ComdatGroup
 *   named after the leader, with the selection of its aux record.
 *   Associative sections (selection 5) join their parent's group and name
 *   the parent in `linkOrder`, so they live and die with it; so do MinGW's
 *   leaderless `.pdata$f`/`.xdata$f` sections, implicitly associative to
 *   `.text$f`. A COMDAT section with a static leader is kept but never
 *   deduplicated; one with no leader that nothing claims is dropped (lld).
 * - Symbols: index 0 is the null symbol, then the locals (STATIC, LABEL,
 *   FILE, section symbols, ...) and from `firstGlobal` the globals (EXTERNAL,
 *   WEAK_EXTERNAL), each in table order; aux records are not symbols, so
 *   relocation symbol indices are remapped. EXTERNAL in section 0 with a
 *   value is a common of that size. A weak external whose default is defined
 *   in this file is a weak definition at the default's place; otherwise a
 *   weak undefined symbol whose `weakAlias` names the default.
 * - Relocations keep the format's type numbers (IMAGE_REL_AMD64_*,
 *   IMAGE_REL_ARM64_*). COFF addends are implicit, in the place's bytes:
 *   `Reloc.addend` is that value read out (see `readAddend`), and the bytes
 *   stay as they are, so whoever applies a relocation must replace the field
 *   with the computed value, never add to it.
 *
 * Everything is bounds-checked through ByteReader; a malformed file is a
 * LinkError naming the file and the offset.
 */

export const enum IMAGE_FILE_MACHINE {
  UNKNOWN = 0,
  I386 = 0x14c,
  ARMNT = 0x1c4,
  AMD64 = 0x8664,
  ARM64 = 0xaa64,
  ARM64EC = 0xa641,
  ARM64X = 0xa64e,
}

export const enum IMAGE_SCN {
  TYPE_NO_PAD = 0x8,
  CNT_CODE = 0x20,
  CNT_INITIALIZED_DATA = 0x40,
  CNT_UNINITIALIZED_DATA = 0x80,
  LNK_INFO = 0x200,
  LNK_REMOVE = 0x800,
  LNK_COMDAT = 0x1000,
  ALIGN_MASK = 0x00f00000,
  LNK_NRELOC_OVFL = 0x01000000,
  MEM_DISCARDABLE = 0x02000000,
  MEM_EXECUTE = 0x20000000,
  MEM_READ = 0x40000000,
  MEM_WRITE = 0x80000000,
}

export const enum IMAGE_SYM_CLASS {
  EXTERNAL = 2,
  STATIC = 3,
  LABEL = 6,
  FUNCTION = 101,
  FILE = 103,
  SECTION = 104,
  WEAK_EXTERNAL = 105,
}

/** Special section numbers of a symbol. */
export const enum IMAGE_SYM {
  UNDEFINED = 0,
  ABSOLUTE = -1,
  DEBUG = -2,
}

/** The complex type (bits 4-7 of a symbol's Type) of a function. */
const IMAGE_SYM_DTYPE_FUNCTION = 2;

export const enum IMAGE_COMDAT_SELECT {
  NODUPLICATES = 1,
  ANY = 2,
  SAME_SIZE = 3,
  EXACT_MATCH = 4,
  ASSOCIATIVE = 5,
  LARGEST = 6,
  NEWEST = 7,
}

export const enum IMAGE_REL_AMD64 {
  ABSOLUTE = 0x0,
  ADDR64 = 0x1,
  ADDR32 = 0x2,
  ADDR32NB = 0x3,
  REL32 = 0x4,
  REL32_1 = 0x5,
  REL32_2 = 0x6,
  REL32_3 = 0x7,
  REL32_4 = 0x8,
  REL32_5 = 0x9,
  SECTION = 0xa,
  SECREL = 0xb,
  SECREL7 = 0xc,
  TOKEN = 0xd,
  SREL32 = 0xe,
  PAIR = 0xf,
  SSPAN32 = 0x10,
}

export const enum IMAGE_REL_ARM64 {
  ABSOLUTE = 0x0,
  ADDR32 = 0x1,
  ADDR32NB = 0x2,
  BRANCH26 = 0x3,
  PAGEBASE_REL21 = 0x4,
  REL21 = 0x5,
  PAGEOFFSET_12A = 0x6,
  PAGEOFFSET_12L = 0x7,
  SECREL = 0x8,
  SECREL_LOW12A = 0x9,
  SECREL_HIGH12A = 0xa,
  SECREL_LOW12L = 0xb,
  TOKEN = 0xc,
  SECTION = 0xd,
  ADDR64 = 0xe,
  BRANCH19 = 0xf,
  BRANCH14 = 0x10,
  REL32 = 0x11,
}

const FILE_HEADER_SIZE = 20;
const BIGOBJ_HEADER_SIZE = 56;
const SECTION_HEADER_SIZE = 40;
const SYMBOL_SIZE = 18;
const BIGOBJ_SYMBOL_SIZE = 20;
const RELOC_SIZE = 10;
/** ANON_OBJECT_HEADER_BIGOBJ's ClassID, {D1BAA1C7-BAEE-4ba9-AF20-FAF66AA4DCB8}, as stored. */
const BIGOBJ_CLASS_ID = [0xc7, 0xa1, 0xba, 0xd1, 0xee, 0xba, 0xa9, 0x4b, 0xaf, 0x20, 0xfa, 0xf6, 0x6a, 0xa4, 0xdc, 0xb8];

const MACHINE_NAMES = new Map<number, string>([
  [IMAGE_FILE_MACHINE.I386, 'i386'],
  [IMAGE_FILE_MACHINE.ARMNT, 'ARM (Thumb-2)'],
  [IMAGE_FILE_MACHINE.AMD64, 'AMD64'],
  [IMAGE_FILE_MACHINE.ARM64, 'ARM64'],
  [IMAGE_FILE_MACHINE.ARM64EC, 'ARM64EC'],
  [IMAGE_FILE_MACHINE.ARM64X, 'ARM64X'],
]);

interface FileHeader {
  arch: ArchName;
  bigObj: boolean;
  sectionCount: number;
  /** File offset of the section table. */
  sectionTable: number;
  /** File offset of the symbol table, 0 when there is none. */
  symbolTable: number;
  /** Entries in the symbol table, aux records included. */
  symbolCount: number;
  /** 18, or 20 in a /bigobj object. */
  symbolSize: number;
}

interface SectionHeader {
  /** 1-based, as symbols and associative definitions number sections. */
  number: number;
  name: string;
  characteristics: number;
  size: number;
  dataOffset: number;
  relocOffset: number;
  relocCount: number;
  /** Offset of this header in the file, for messages. */
  at: number;
}

interface RawSymbol {
  /** Index in the symbol table (aux records count), as relocations refer to it. */
  index: number;
  name: string;
  value: number;
  /** Signed: > 0 a section number, else an IMAGE_SYM. */
  section: number;
  type: number;
  storageClass: number;
  auxCount: number;
  /** Offset of the record in the file; its aux records follow it. */
  at: number;
}

/** The aux record of a section's definition symbol (the first STATIC symbol with aux records in it). */
interface SectionDefinition {
  selection: number;
  length: number;
  /** The parent section of an associative COMDAT. */
  number: number;
  /** Offset of the aux record, for messages. */
  at: number;
}

/**
 * Whether `bytes` look like a COFF object (COFF has no magic number: a known
 * machine in the first two bytes, or the 0x0000 0xffff signature of a
 * /bigobj object or an import library member). Check ELF and archives first.
 */
export function isCoff(bytes: Uint8Array): boolean {
  if (bytes.length < 4) return false;
  const machine = bytes[0] | (bytes[1] << 8);
  if (machine === IMAGE_FILE_MACHINE.UNKNOWN) return bytes[2] === 0xff && bytes[3] === 0xff;
  return bytes.length >= FILE_HEADER_SIZE && MACHINE_NAMES.has(machine);
}

export function coffMachineToArch(machine: number): ArchName | undefined {
  if (machine === IMAGE_FILE_MACHINE.AMD64) return 'x86_64';
  if (machine === IMAGE_FILE_MACHINE.ARM64) return 'aarch64';
  return undefined;
}

export function readCoffObject(name: string, bytes: Uint8Array): ObjectFile {
  if (isShortImport(bytes)) return readShortImport(name, bytes);
  const r = new ByteReader(bytes, name);
  const hdr = readFileHeader(r);
  // Sections, relocation tables, the symbol and string tables occupy distinct bytes in a real object, so
  // what this reader reads through them adds up to at most the file: that bounds its work and memory.
  let claimed = 0;
  const claim = (size: number, at: number, what: string) => {
    claimed += size;
    if (claimed > bytes.length) r.fail(at, `${what} overlaps other data (the sizes of the file's tables and sections add up to more than its ${bytes.length} bytes)`);
  };
  const strings = readStringTable(r, hdr, claim);
  const sections = readSectionHeaders(r, hdr, strings);
  const raw = readRawSymbols(r, hdr, sections.length, strings);

  const plan = planSections(r, hdr, sections, raw);

  // Atoms, in section order.
  const atoms: Atom[] = [];
  /** Section number -> atom index, or -1 for sections that are not atoms. */
  const atomOf = new Int32Array(sections.length + 1).fill(-1);
  for (const sec of sections) {
    if (plan.fate[sec.number] !== Fate.Atom) continue;
    atomOf[sec.number] = atoms.length;
    atoms.push(makeAtom(r, sec, atoms.length, claim));
  }
  const groups: ComdatGroup[] = [];
  const groupOf = new Int32Array(sections.length + 1).fill(-1);
  for (const sec of sections) {
    const leader = plan.leader[sec.number];
    if (atomOf[sec.number] < 0 || plan.parent[sec.number] !== 0 || leader < 0) continue;
    if (raw[leader].storageClass !== IMAGE_SYM_CLASS.EXTERNAL) continue; // a static leader: kept, never deduplicated
    groupOf[sec.number] = groups.length;
    groups.push({ signature: raw[leader].name, atoms: [], selection: plan.selection[sec.number] as ComdatSelect, length: plan.length[sec.number] });
  }
  for (const sec of sections) {
    const a = atomOf[sec.number];
    if (a < 0) continue;
    const g = groupOf[plan.root[sec.number]];
    if (g >= 0) {
      atoms[a].group = g;
      groups[g].atoms.push(a);
    }
    const parent = plan.parent[sec.number];
    if (parent !== 0) atoms[a].linkOrder = atomOf[parent];
  }

  const { symbols, firstGlobal, modelOf } = buildSymbols(r, hdr, raw, atomOf);

  for (const sec of sections) {
    const a = atomOf[sec.number];
    if (a >= 0) atoms[a].relocs = readRelocations(r, hdr, sec, atoms[a], modelOf, claim);
  }

  const file: ObjectFile = { name, format: 'coff', arch: hdr.arch, atoms, symbols, firstGlobal, groups, bytes };
  const directives = readDirectives(r, sections, plan.fate, claim);
  if (directives !== null) file.directives = directives;
  return file;
}

function readFileHeader(r: ByteReader): FileHeader {
  const len = r.length;
  if (len < FILE_HEADER_SIZE) r.fail(0, `file is too small to be a COFF object (${len} bytes, the file header alone is ${FILE_HEADER_SIZE})`);
  let machine = r.u16(0);
  let bigObj = false;
  if (machine === IMAGE_FILE_MACHINE.UNKNOWN && r.u16(2) === 0xffff) {
    const version = r.u16(4);
    if (version < 2 || !BIGOBJ_CLASS_ID.every((b, i) => r.u8(12 + i) === b)) {
      r.fail(4, `anonymous COFF object (version ${version}) that is not a /bigobj object, e.g. from MSVC /GL (link-time code generation): not supported`);
    }
    if (len < BIGOBJ_HEADER_SIZE) r.fail(0, `/bigobj header is truncated (${len} of ${BIGOBJ_HEADER_SIZE} bytes)`);
    machine = r.u16(6);
    bigObj = true;
  }
  const arch = coffMachineToArch(machine);
  if (!arch) {
    const known = MACHINE_NAMES.get(machine);
    r.fail(bigObj ? 6 : 0, `${known ? `unsupported machine ${known}` : `unknown machine type ${hex(machine)}`} (IMAGE_FILE_MACHINE): tslink links AMD64 (0x8664) and ARM64 (0xaa64)`);
  }
  let sectionCount: number, symbolTable: number, symbolCount: number, sectionTable: number;
  if (bigObj) {
    sectionCount = r.u32(0x2c);
    symbolTable = r.u32(0x30);
    symbolCount = r.u32(0x34);
    sectionTable = BIGOBJ_HEADER_SIZE;
  } else {
    sectionCount = r.u16(2);
    symbolTable = r.u32(8);
    symbolCount = r.u32(12);
    const optional = r.u16(16);
    if (optional !== 0) r.fail(16, `has an optional header (${optional} bytes): this is an image (an executable or DLL), not an object`);
    sectionTable = FILE_HEADER_SIZE;
  }
  r.need(sectionTable, sectionCount * SECTION_HEADER_SIZE, `section table (${sectionCount} sections)`);
  const symbolSize = bigObj ? BIGOBJ_SYMBOL_SIZE : SYMBOL_SIZE;
  // No symbol table pointer means no symbols (and no string table), whatever the count says.
  if (symbolTable === 0) symbolCount = 0;
  else r.need(symbolTable, symbolCount * symbolSize, `symbol table (${symbolCount} entries)`);
  return { arch, bigObj, sectionCount, sectionTable, symbolTable, symbolCount, symbolSize };
}

/** The string table: right after the symbol table, its first 4 bytes its size (themselves included). */
interface StringTable {
  start: number;
  size: number;
}

type Claim = (size: number, at: number, what: string) => void;

function readStringTable(r: ByteReader, hdr: FileHeader, claim: Claim): StringTable {
  if (hdr.symbolTable === 0) return { start: 0, size: 0 };
  claim(hdr.symbolCount * hdr.symbolSize, hdr.symbolTable, 'symbol table');
  const start = hdr.symbolTable + hdr.symbolCount * hdr.symbolSize;
  r.need(start, 4, 'string table size');
  // Some tools (cvtres) write 0 for an empty table instead of 4 (LLVM tolerates it too).
  const size = Math.max(4, r.u32(start));
  r.need(start, size, `string table (${size} bytes)`);
  claim(size, start, 'string table');
  return { start, size };
}

function stringAt(r: ByteReader, strings: StringTable, offset: number, at: number, what: string): string {
  if (strings.size === 0) r.fail(at, `${what} refers to the string table, but the file has none (no symbol table)`);
  if (offset < 4 || offset >= strings.size) r.fail(at, `${what}: string table offset ${offset} is out of range (the string table is ${strings.size} bytes)`);
  return r.cstring(strings.start + offset, strings.start + strings.size, what);
}

/** An 8-byte name field: NUL-padded, not terminated when all 8 bytes are used. */
function shortName(r: ByteReader, at: number): string {
  let e = at;
  while (e < at + 8 && r.bytes[e] !== 0) e++;
  return decodeName(r.bytes, at, e);
}

function readSectionHeaders(r: ByteReader, hdr: FileHeader, strings: StringTable): SectionHeader[] {
  const sections: SectionHeader[] = new Array(hdr.sectionCount);
  for (let i = 0; i < hdr.sectionCount; i++) {
    const at = hdr.sectionTable + i * SECTION_HEADER_SIZE;
    const number = i + 1;
    let name = shortName(r, at);
    // Long names: "/123" is a decimal offset into the string table; "//BASE64" (six base-64 digits) one past 9999999.
    if (name.startsWith('/')) {
      const offset = longNameOffset(name);
      if (offset < 0) r.fail(at, `section ${number} has a malformed long name '${name}'`);
      name = stringAt(r, strings, offset, at, `name of section ${number}`);
    }
    sections[i] = {
      number,
      name,
      size: r.u32(at + 16),
      dataOffset: r.u32(at + 20),
      relocOffset: r.u32(at + 24),
      relocCount: r.u16(at + 32),
      characteristics: r.u32(at + 36),
      at,
    };
  }
  return sections;
}

const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** The string table offset of a "/123" or "//BASE64" section name, or -1. */
function longNameOffset(field: string): number {
  let v = 0;
  if (field.startsWith('//')) {
    if (field.length !== 8) return -1;
    for (let i = 2; i < 8; i++) {
      const d = BASE64.indexOf(field[i]);
      if (d < 0) return -1;
      v = v * 64 + d;
    }
    return v;
  }
  if (field.length < 2) return -1;
  for (let i = 1; i < field.length; i++) {
    const c = field.charCodeAt(i) - 0x30;
    if (c < 0 || c > 9) return -1;
    v = v * 10 + c;
  }
  return v;
}

function readRawSymbols(r: ByteReader, hdr: FileHeader, sectionCount: number, strings: StringTable): RawSymbol[] {
  const raw: RawSymbol[] = [];
  const size = hdr.symbolSize;
  const sectionAt = 12;
  const typeAt = hdr.bigObj ? 16 : 14;
  const classAt = hdr.bigObj ? 18 : 16;
  for (let i = 0; i < hdr.symbolCount;) {
    const at = hdr.symbolTable + i * size;
    const auxCount = r.u8(at + classAt + 1);
    if (i + auxCount >= hdr.symbolCount) {
      r.fail(at + classAt + 1, `symbol ${i} has ${auxCount} auxiliary records, past the end of the symbol table (${hdr.symbolCount} entries)`);
    }
    const name = r.u32(at) === 0 ? stringAt(r, strings, r.u32(at + 4), at, `name of symbol ${i}`) : shortName(r, at);
    let section: number;
    if (hdr.bigObj) section = r.i32(at + sectionAt);
    else {
      section = r.u16(at + sectionAt);
      if (section >= 0x8000) section -= 0x10000;
    }
    if (section > sectionCount || section < IMAGE_SYM.DEBUG) {
      r.fail(at + sectionAt, `symbol ${i} '${name}' has section number ${section}, ${section > 0 ? `past the last section (${sectionCount})` : 'which is not a special section number'}`);
    }
    raw.push({ index: i, name, value: r.u32(at + 8), section, type: r.u16(at + typeAt), storageClass: r.u8(at + classAt), auxCount, at });
    i += 1 + auxCount;
  }
  return raw;
}

function isSectionDefinition(s: RawSymbol): boolean {
  return s.storageClass === IMAGE_SYM_CLASS.STATIC && s.auxCount > 0 && s.section > 0;
}

function isGlobal(s: RawSymbol): boolean {
  return s.storageClass === IMAGE_SYM_CLASS.EXTERNAL || s.storageClass === IMAGE_SYM_CLASS.WEAK_EXTERNAL;
}

const enum Fate {
  Atom = 0,
  /** Not linked: IMAGE_SCN_LNK_REMOVE, an unclaimed COMDAT section, or associative to one of those. */
  Drop = 1,
  /** `.drectve`: read into ObjectFile.directives. */
  Directives = 2,
}

/** What becomes of each section (all arrays indexed by section number). */
interface SectionPlan {
  fate: Uint8Array;
  /** The COMDAT selection of a section's definition. */
  selection: Uint8Array;
  /** The section definition's Length: the contents' size, which gcc pads SizeOfRawData beyond. */
  length: Uint32Array;
  /** The associative parent's section number, 0 for none. */
  parent: Int32Array;
  /** The end of the associative chain: the section whose group the section joins; itself when not associative. */
  root: Int32Array;
  /** Index into the raw symbols of a COMDAT section's leader, -1 for none. */
  leader: Int32Array;
}

/** MinGW's leaderless unwind sections: `.pdata$f`, `.xdata$f`, `.eh_frame$f` belong to `.text$f`. */
const MINGW_UNWIND = /^\.(?:pdata|xdata|eh_frame)\$(.*)$/;

function planSections(r: ByteReader, hdr: FileHeader, sections: SectionHeader[], raw: RawSymbol[]): SectionPlan {
  const n = sections.length;
  const plan: SectionPlan = {
    fate: new Uint8Array(n + 1),
    selection: new Uint8Array(n + 1),
    length: new Uint32Array(n + 1),
    parent: new Int32Array(n + 1),
    root: new Int32Array(n + 1),
    leader: new Int32Array(n + 1).fill(-1),
  };
  for (const sec of sections) {
    plan.root[sec.number] = sec.number;
    if (sec.name === '.drectve') plan.fate[sec.number] = Fate.Directives;
    else if (sec.characteristics & IMAGE_SCN.LNK_REMOVE) plan.fate[sec.number] = Fate.Drop;
  }

  // Each section's definition (the first), and each COMDAT's leader: the next symbol defined in it (lld's rule).
  const defs: (SectionDefinition | undefined)[] = new Array(n + 1);
  const awaitingLeader = new Uint8Array(n + 1);
  for (let k = 0; k < raw.length; k++) {
    const s = raw[k];
    if (s.section <= 0) continue;
    if (isSectionDefinition(s)) {
      if (defs[s.section]) continue;
      const aux = s.at + hdr.symbolSize;
      let number = r.u16(aux + 12);
      if (hdr.bigObj) number += r.u16(aux + 16) * 0x10000;
      const def = { selection: r.u8(aux + 14), number, length: r.u32(aux), at: aux };
      defs[s.section] = def;
      const comdat = (sections[s.section - 1].characteristics & IMAGE_SCN.LNK_COMDAT) !== 0;
      if (comdat && def.selection !== IMAGE_COMDAT_SELECT.ASSOCIATIVE) awaitingLeader[s.section] = 1;
    } else if (awaitingLeader[s.section] && s.storageClass !== IMAGE_SYM_CLASS.WEAK_EXTERNAL) {
      awaitingLeader[s.section] = 0;
      plan.leader[s.section] = k;
    }
  }

  const leaderless: SectionHeader[] = [];
  /** For MinGW's implicit association: `f` -> the executable COMDAT section `.text$f` with a leader. */
  const textBySuffix = new Map<string, number>();
  for (const sec of sections) {
    const i = sec.number;
    if (!(sec.characteristics & IMAGE_SCN.LNK_COMDAT) || plan.fate[i] !== Fate.Atom) continue;
    const def = defs[i];
    if (!def) {
      plan.fate[i] = Fate.Drop; // nothing can claim a COMDAT section without a definition symbol (lld drops it too)
      continue;
    }
    plan.selection[i] = def.selection;
    plan.length[i] = def.length;
    if (def.selection === IMAGE_COMDAT_SELECT.ASSOCIATIVE) {
      if (def.number === 0 || def.number > n || def.number === i) {
        r.fail(def.at + 12, `associative COMDAT section ${i} '${sec.name}' names section ${def.number} as its parent, which is ${def.number === i ? 'itself' : 'out of range'} (${n} sections)`);
      }
      plan.parent[i] = def.number;
    } else if (def.selection < IMAGE_COMDAT_SELECT.NODUPLICATES || def.selection > IMAGE_COMDAT_SELECT.NEWEST) {
      r.fail(def.at + 14, `COMDAT section ${i} '${sec.name}' has unknown selection ${def.selection}`);
    } else if (plan.leader[i] < 0) {
      leaderless.push(sec);
    } else if (sec.characteristics & IMAGE_SCN.MEM_EXECUTE) {
      const dollar = sec.name.indexOf('$');
      if (dollar >= 0 && !textBySuffix.has(sec.name.slice(dollar + 1))) textBySuffix.set(sec.name.slice(dollar + 1), i);
    }
  }
  for (const sec of leaderless) {
    const m = MINGW_UNWIND.exec(sec.name);
    const parent = m ? textBySuffix.get(m[1]) : undefined;
    if (parent === undefined) plan.fate[sec.number] = Fate.Drop; // lld: "comdat section without leader and unassociated, discarding"
    else plan.parent[sec.number] = parent;
  }

  // Associative chains: a section lives with its parent, is dropped with it, and joins the group at the chain's end.
  const state = new Uint8Array(n + 1); // 0 unvisited, 1 on the current path, 2 done
  const path: number[] = [];
  for (const sec of sections) {
    let t = sec.number;
    while (plan.parent[t] !== 0 && state[t] === 0) {
      state[t] = 1;
      path.push(t);
      t = plan.parent[t];
    }
    if (state[t] === 1) r.fail(sections[t - 1].at, `associative COMDAT section ${t} '${sections[t - 1].name}' is its own ancestor (its chain of parents loops)`);
    state[t] = 2;
    while (path.length) {
      const c = path.pop()!;
      const p = plan.parent[c];
      if (plan.fate[p] !== Fate.Atom) plan.fate[c] = Fate.Drop;
      plan.root[c] = plan.root[p];
      state[c] = 2;
    }
  }
  return plan;
}

function makeAtom(r: ByteReader, sec: SectionHeader, index: number, claim: Claim): Atom {
  const ch = sec.characteristics;
  const zeroFill = (ch & IMAGE_SCN.CNT_UNINITIALIZED_DATA) !== 0;
  let data: Uint8Array | null = null;
  if (!zeroFill) {
    if (sec.size > 0) {
      if (sec.dataOffset === 0) r.fail(sec.at + 20, `section ${sec.number} '${sec.name}' has ${sec.size} bytes of contents but no file offset for them`);
      r.need(sec.dataOffset, sec.size, `section ${sec.number} '${sec.name}'`);
      claim(sec.size, sec.at + 16, `section ${sec.number} '${sec.name}'`);
    }
    data = r.bytes.subarray(sec.dataOffset, sec.dataOffset + sec.size);
  }
  return {
    index,
    name: sec.name,
    kind: atomKind(sec),
    flags: secFlags(sec),
    align: sectionAlignment(r, sec),
    size: sec.size,
    data,
    relocs: Relocs.none,
    entSize: 0,
    group: -1,
    rawType: ch,
  };
}

/** IMAGE_SCN_ALIGN_*: 1 << (n - 1) for n in 1..14; 0 means the default, 16 (LLVM's getAlignment). */
function sectionAlignment(r: ByteReader, sec: SectionHeader): number {
  if (sec.characteristics & IMAGE_SCN.TYPE_NO_PAD) return 1;
  const n = (sec.characteristics & IMAGE_SCN.ALIGN_MASK) >>> 20;
  if (n === 0) return 16;
  if (n > 14) r.fail(sec.at + 36, `section ${sec.number} '${sec.name}' has an invalid alignment field ${hex(n)} (IMAGE_SCN_ALIGN_*)`);
  return 1 << (n - 1);
}

function isDebugName(name: string): boolean {
  return name.startsWith('.debug');
}

function isTlsName(name: string): boolean {
  return name === '.tls' || name.startsWith('.tls$');
}

function atomKind(sec: SectionHeader): AtomKind {
  const ch = sec.characteristics;
  // CodeView (.debug$S, .debug$T, .debug$P, .debug$H) and DWARF (.debug_info, ...): the writer decides what to keep.
  if (isDebugName(sec.name)) return AtomKind.Debug;
  // Information for the linker other than .drectve (.sxdata on i386, say): not image contents.
  if (ch & IMAGE_SCN.LNK_INFO) return AtomKind.Other;
  const zeroFill = (ch & IMAGE_SCN.CNT_UNINITIALIZED_DATA) !== 0;
  // The TLS template: PE has no TLS segment, but `.tls` is what _tls_start/_tls_end delimit and SECREL addresses.
  if (isTlsName(sec.name)) return zeroFill ? AtomKind.TBss : AtomKind.TData;
  if (ch & (IMAGE_SCN.CNT_CODE | IMAGE_SCN.MEM_EXECUTE)) return AtomKind.Code;
  if (zeroFill) return AtomKind.Bss;
  if (ch & IMAGE_SCN.MEM_WRITE) return AtomKind.Data;
  return AtomKind.ROData;
}

function secFlags(sec: SectionHeader): number {
  const ch = sec.characteristics;
  const kind = atomKind(sec);
  const noBits = ch & IMAGE_SCN.CNT_UNINITIALIZED_DATA ? SecFlag.NoBits : 0;
  if (kind === AtomKind.Debug || kind === AtomKind.Other) return noBits;
  let f = SecFlag.Alloc | noBits;
  if (ch & IMAGE_SCN.MEM_WRITE) f |= SecFlag.Write;
  if (ch & (IMAGE_SCN.CNT_CODE | IMAGE_SCN.MEM_EXECUTE)) f |= SecFlag.Exec;
  if (kind === AtomKind.TData || kind === AtomKind.TBss) f |= SecFlag.TLS;
  // lld-link's /OPT:REF collects only COMDAT sections: every other section is a root.
  if (!(ch & IMAGE_SCN.LNK_COMDAT)) f |= SecFlag.Retain;
  return f;
}

/** The alignment lld-link and MSVC give a common symbol: its size rounded up to a power of two, at most 32. */
function commonAlignment(size: number): number {
  let a = 1;
  while (a < size && a < 32) a *= 2;
  return a;
}

function buildSymbols(
  r: ByteReader, hdr: FileHeader, raw: RawSymbol[], atomOf: Int32Array,
): { symbols: InputSymbol[]; firstGlobal: number; modelOf: Int32Array } {
  let locals = 0;
  for (const s of raw) if (!isGlobal(s)) locals++;
  const firstGlobal = 1 + locals;
  const symbols: InputSymbol[] = new Array(1 + raw.length);
  symbols[0] = { name: '', binding: SymBinding.Local, type: SymType.NoType, visibility: 0, atom: SymPlace.Undefined, value: 0, size: 0 };
  /** Symbol table index -> index in `symbols`, -1 for aux records. */
  const modelOf = new Int32Array(hdr.symbolCount).fill(-1);
  let nextLocal = 1;
  let nextGlobal = firstGlobal;
  for (const s of raw) modelOf[s.index] = isGlobal(s) ? nextGlobal++ : nextLocal++;

  const place = (s: RawSymbol): number => {
    if (s.section > 0) return atomOf[s.section] >= 0 ? atomOf[s.section] : SymPlace.Dropped;
    return s.section === IMAGE_SYM.UNDEFINED ? SymPlace.Undefined : SymPlace.Absolute;
  };
  const isFunction = (s: RawSymbol) => (s.type & 0xf0) >> 4 === IMAGE_SYM_DTYPE_FUNCTION;

  const weak: RawSymbol[] = [];
  for (const s of raw) {
    const m = modelOf[s.index];
    if (s.storageClass === IMAGE_SYM_CLASS.WEAK_EXTERNAL) {
      weak.push(s);
      continue;
    }
    if (s.storageClass === IMAGE_SYM_CLASS.EXTERNAL) {
      const common = s.section === IMAGE_SYM.UNDEFINED && s.value > 0;
      symbols[m] = {
        name: s.name, binding: SymBinding.Global, type: isFunction(s) ? SymType.Func : SymType.NoType, visibility: 0,
        atom: common ? SymPlace.Common : place(s), value: common ? commonAlignment(s.value) : s.value, size: common ? s.value : 0,
      };
    } else if (s.storageClass === IMAGE_SYM_CLASS.FILE) {
      // The source file's name fills the aux records, NUL-padded.
      const start = s.at + hdr.symbolSize;
      const end = start + s.auxCount * hdr.symbolSize;
      let e = start;
      while (e < end && r.bytes[e] !== 0) e++;
      symbols[m] = {
        name: s.auxCount > 0 ? decodeName(r.bytes, start, e) : s.name, binding: SymBinding.Local, type: SymType.File, visibility: 0,
        atom: SymPlace.Absolute, value: 0, size: 0,
      };
    } else {
      // STATIC, LABEL and the rare rest: locals. A section's definition symbol carries the section's name.
      const type = isSectionDefinition(s) ? SymType.Section : isFunction(s) ? SymType.Func : SymType.NoType;
      symbols[m] = { name: s.name, binding: SymBinding.Local, type, visibility: 0, atom: place(s), value: s.value, size: 0 };
    }
  }

  // Weak externals: the aux record names a default, which may itself be a weak external.
  const byIndex = new Map<number, RawSymbol>();
  for (const s of weak) byIndex.set(s.index, s);
  const tagOf = (s: RawSymbol): number => {
    if (s.auxCount === 0) r.fail(s.at, `weak external '${s.name}' (symbol ${s.index}) has no auxiliary record naming its default`);
    const aux = s.at + hdr.symbolSize;
    const tag = r.u32(aux);
    if (tag >= hdr.symbolCount || modelOf[tag] < 0) {
      r.fail(aux, `weak external '${s.name}' (symbol ${s.index}) names symbol ${tag} as its default, which is ${tag >= hdr.symbolCount ? `past the end of the symbol table (${hdr.symbolCount} entries)` : 'an auxiliary record'}`);
    }
    return tag;
  };
  /** Weak external's table index -> the first non-weak symbol down its chain of defaults (memoized: chains may share tails). */
  const finalTag = new Map<number, number>();
  const visiting = new Set<number>();
  for (const s of weak) {
    const path: RawSymbol[] = [];
    let t = s;
    let tag: number;
    for (;;) {
      const known = finalTag.get(t.index);
      if (known !== undefined) {
        tag = known;
        break;
      }
      if (visiting.has(t.index)) r.fail(t.at, `weak external '${t.name}' (symbol ${t.index}) has a cycle of defaults`);
      visiting.add(t.index);
      path.push(t);
      const next = tagOf(t);
      const w = byIndex.get(next);
      if (!w) {
        tag = next;
        break;
      }
      t = w;
    }
    for (const p of path) {
      finalTag.set(p.index, tag);
      visiting.delete(p.index);
    }
    const def = symbols[modelOf[tag]];
    const definedHere = def.atom >= 0 || def.atom === SymPlace.Absolute || def.atom === SymPlace.Dropped;
    symbols[modelOf[s.index]] = definedHere
      ? {
        name: s.name, binding: SymBinding.Weak, type: def.type === SymType.Func ? SymType.Func : SymType.NoType, visibility: 0,
        atom: def.atom, value: def.value, size: 0,
      }
      : { name: s.name, binding: SymBinding.Weak, type: SymType.NoType, visibility: 0, atom: SymPlace.Undefined, value: 0, size: 0, weakAlias: modelOf[tag] };
  }
  return { symbols, firstGlobal, modelOf };
}

/** The number of bytes of the place a relocation type patches (0: none, or not known). */
function placeWidth(arch: ArchName, type: number): number {
  if (arch === 'x86_64') {
    switch (type) {
      case IMAGE_REL_AMD64.ADDR64: return 8;
      case IMAGE_REL_AMD64.SECTION: return 2;
      case IMAGE_REL_AMD64.SECREL7: return 1;
      case IMAGE_REL_AMD64.ABSOLUTE: case IMAGE_REL_AMD64.PAIR: return 0;
    }
    return type <= IMAGE_REL_AMD64.SSPAN32 ? 4 : 0;
  }
  switch (type) {
    case IMAGE_REL_ARM64.ADDR64: return 8;
    case IMAGE_REL_ARM64.SECTION: return 2;
    case IMAGE_REL_ARM64.ABSOLUTE: return 0;
  }
  return type <= IMAGE_REL_ARM64.REL32 ? 4 : 0;
}

function signExtend(v: number, bits: number): number {
  const shift = 32 - bits;
  return (v << shift) >> shift;
}

/**
 * The implicit addend in the place, as lld-link reads it: data fields as
 * signed integers (SECTION's 16-bit index as unsigned); ARM64 immediates
 * decoded to bytes: branch offsets (x4), ADRP/ADR's 21-bit immediate as a
 * byte offset (not pages), the 12-bit ADD immediate as is, a load/store's
 * scaled immediate times its access size, SECREL_HIGH12A's times 4096.
 */
function readAddend(r: ByteReader, arch: ArchName, type: number, at: number, width: number): number {
  if (width === 0) return 0;
  if (width === 8) return r.i64(at);
  if (width === 2) return r.u16(at);
  if (width === 1) return r.u8(at) & 0x7f; // SECREL7
  if (arch === 'x86_64') return r.i32(at);
  const insn = r.u32(at);
  switch (type) {
    case IMAGE_REL_ARM64.BRANCH26: return signExtend(insn & 0x3ffffff, 26) * 4;
    case IMAGE_REL_ARM64.BRANCH19: return signExtend((insn >>> 5) & 0x7ffff, 19) * 4;
    case IMAGE_REL_ARM64.BRANCH14: return signExtend((insn >>> 5) & 0x3fff, 14) * 4;
    case IMAGE_REL_ARM64.PAGEBASE_REL21: case IMAGE_REL_ARM64.REL21:
      return signExtend(((insn >>> 29) & 3) | (((insn >>> 5) & 0x7ffff) << 2), 21);
    case IMAGE_REL_ARM64.PAGEOFFSET_12A: case IMAGE_REL_ARM64.SECREL_LOW12A:
      return (insn >>> 10) & 0xfff;
    case IMAGE_REL_ARM64.SECREL_HIGH12A:
      return ((insn >>> 10) & 0xfff) * 4096;
    case IMAGE_REL_ARM64.PAGEOFFSET_12L: case IMAGE_REL_ARM64.SECREL_LOW12L: {
      // The access size is bits 30-31, and 16 bytes for a 128-bit SIMD register (V and opc<1> set).
      let shift = insn >>> 30;
      if ((insn & 0x4800000) === 0x4800000) shift += 4;
      return ((insn >>> 10) & 0xfff) * 2 ** shift;
    }
  }
  return r.i32(at);
}

function readRelocations(
  r: ByteReader, hdr: FileHeader, sec: SectionHeader, atom: Atom, modelOf: Int32Array, claim: Claim,
): Relocs {
  let count = sec.relocCount;
  let start = sec.relocOffset;
  const where = `section ${sec.number} '${sec.name}'`;
  // More than 65534: the count is in the first record's VirtualAddress, and that record is not a relocation.
  if (sec.characteristics & IMAGE_SCN.LNK_NRELOC_OVFL && count === 0xffff) {
    r.need(start, RELOC_SIZE, `relocations of ${where}`);
    const total = r.u32(start);
    count = total === 0 ? 0 : total - 1;
    start += RELOC_SIZE;
  }
  if (count === 0) return Relocs.none;
  if (atom.data === null) r.fail(sec.at + 32, `${where} has relocations but no contents (it is uninitialized data)`);
  r.need(start, count * RELOC_SIZE, `relocations of ${where} (${count} entries)`);
  claim(count * RELOC_SIZE, sec.at + 24, `relocations of ${where}`);
  const relocs = RelocTable.ofRows(count);
  for (let k = 0; k < count; k++) {
    const at = start + k * RELOC_SIZE;
    const offset = r.u32(at);
    const index = r.u32(at + 4);
    const type = r.u16(at + 8);
    const width = placeWidth(hdr.arch, type);
    if (offset + width > atom.size || (width === 0 && offset > atom.size)) {
      r.fail(at, `relocation in ${where} at offset ${hex(offset)} (type ${hex(type)}, ${width} bytes) is outside the section (size ${hex(atom.size)})`);
    }
    const addend = readAddend(r, hdr.arch, type, sec.dataOffset + offset, width);
    if (hdr.arch === 'x86_64' && type === IMAGE_REL_AMD64.PAIR) {
      // PAIR follows SREL32/SSPAN32; its "symbol index" is a displacement, not a symbol.
      relocs.set(k, offset, type, 0, index | 0);
      continue;
    }
    if (index >= hdr.symbolCount || modelOf[index] < 0) {
      r.fail(at + 4, `relocation in ${where} at offset ${hex(offset)} refers to symbol index ${index}, ${index >= hdr.symbolCount ? `past the end of the symbol table (${hdr.symbolCount} entries)` : 'which is an auxiliary record'}`);
    }
    relocs.set(k, offset, type, modelOf[index], addend);
  }
  return new Relocs(relocs, 0, count);
}

/** The `.drectve` sections' text, joined by spaces (a UTF-8 byte-order mark dropped), or null if there are none. */
function readDirectives(r: ByteReader, sections: SectionHeader[], fate: Uint8Array, claim: Claim): string | null {
  let text: string | null = null;
  for (const sec of sections) {
    if (fate[sec.number] !== Fate.Directives || sec.characteristics & IMAGE_SCN.CNT_UNINITIALIZED_DATA) continue;
    let start = sec.dataOffset;
    let end = start + sec.size;
    if (sec.size > 0) {
      r.need(start, sec.size, `section ${sec.number} '.drectve'`);
      claim(sec.size, sec.at + 16, `section ${sec.number} '.drectve'`);
    }
    if (end - start >= 3 && r.bytes[start] === 0xef && r.bytes[start + 1] === 0xbb && r.bytes[start + 2] === 0xbf) start += 3;
    while (end > start && r.bytes[end - 1] === 0) end--;
    const part = new TextDecoder('utf-8').decode(r.bytes.subarray(start, end));
    text = text === null ? part : `${text} ${part}`;
  }
  return text;
}
