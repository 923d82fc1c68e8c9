import { ByteReader } from './ByteReader.js';
import { hex } from './LinkError.js';
import {
  ELFCLASS64, ELFDATA2LSB, ELFMAG, EM, ET, GRP_COMDAT, SHF, SHN, SHT, STB, STT, SHDR_SIZE, SYM_SIZE, RELA_SIZE,
} from './elfConstants.js';
import {
  AtomKind, PackedSymbol, SecFlag, SymBinding, SymPlace, SymType, Visibility,
  type ArchName, type Atom, type ComdatGroup, type InputSymbol, type ObjectFile,
} from './model.js';
import { ROW, RelocTable, Relocs } from './relocs.js';

/**
 * Reads an ELF64 little-endian relocatable object (x86-64 or AArch64) into
 * the format-neutral model. Every section that carries content becomes an
 * atom (with -ffunction-sections, one per function); relocation sections are
 * attached to their target; symbol-table sections, string tables and groups
 * are consumed here. Everything is bounds-checked: a malformed file is a
 * LinkError naming the file and the offset.
 */

interface SectionHeader {
  name: string;
  type: number;
  flags: number;
  offset: number;
  size: number;
  link: number;
  info: number;
  align: number;
  entSize: number;
  /** Offset of this header in the file, for messages. */
  at: number;
}

export function isElf(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x7f && bytes[1] === 0x45 && bytes[2] === 0x4c && bytes[3] === 0x46;
}

export function elfMachineToArch(machine: number): ArchName | undefined {
  if (machine === EM.X86_64) return 'x86_64';
  if (machine === EM.AARCH64) return 'aarch64';
  return undefined;
}

export function readElfObject(name: string, bytes: Uint8Array): ObjectFile {
  const r: ByteReader = new ByteReader(bytes, name);
  if (bytes.length < 64) r.fail(0, `file is too small to be an ELF object (${bytes.length} bytes, the ELF header alone is 64)`);
  if (r.u32(0) !== ELFMAG) r.fail(0, 'not an ELF file (bad magic)');
  if (bytes[4] !== ELFCLASS64) r.fail(4, `unsupported ELF class ${bytes[4]}: only 64-bit objects are supported`);
  if (bytes[5] !== ELFDATA2LSB) r.fail(5, `unsupported ELF data encoding ${bytes[5]}: only little-endian objects are supported`);
  const type = r.u16(0x10);
  if (type !== ET.REL) r.fail(0x10, `not a relocatable object (e_type ${type}); shared objects and executables are not inputs yet`);
  const machine = r.u16(0x12);
  const arch = elfMachineToArch(machine);
  if (!arch) r.fail(0x12, `unknown machine type ${machine} (e_machine): tslink links x86-64 (62) and AArch64 (183)`);

  const headers = readSectionHeaders(r);
  // Sections do not overlap in a real object, so the bytes read through them add up to at most the file:
  // this bounds the work and memory of everything below (a thousand relocation sections over the same
  // bytes would otherwise cost a thousand times the file).
  let claimed = 0;
  const claim = (sh: SectionHeader, what: string) => {
    claimed += sh.size;
    if (claimed > bytes.length) r.fail(sh.at, `${what} '${sh.name}' overlaps other sections (the sections' sizes add up to more than the file's ${bytes.length} bytes)`);
  };
  const atoms: Atom[] = [];
  /** ELF section index -> atom index, or -1 for sections that are not atoms. */
  const atomOf = new Int32Array(headers.length).fill(-1);

  for (let i = 1; i < headers.length; i++) {
    const sh = headers[i];
    if (!isContentSection(sh)) continue;
    if (sh.flags & SHF.COMPRESSED) {
      r.fail(sh.at, `section '${sh.name}' is compressed (SHF_COMPRESSED); compressed sections are not supported yet`);
    }
    const nobits = sh.type === SHT.NOBITS;
    if (!nobits) {
      r.need(sh.offset, sh.size, `section '${sh.name}' (index ${i})`);
      claim(sh, 'section');
    }
    const align = sh.align === 0 ? 1 : sh.align;
    if ((align & (align - 1)) !== 0 || align > 2 ** 30) r.fail(sh.at + 0x30, `section '${sh.name}' has invalid alignment ${align}`);
    atomOf[i] = atoms.length;
    // .eh_frame records are 4-byte aligned by their format, whatever the section asks: laid
    // out with larger alignment, the gaps between objects' records would read as terminators.
    const ehFrame = sh.type === SHT.X86_64_UNWIND || sh.name === '.eh_frame';
    atoms.push({
      index: atoms.length,
      name: sh.name,
      kind: atomKind(sh),
      flags: secFlags(sh),
      align: ehFrame ? Math.min(align, 4) : align,
      size: sh.size,
      data: nobits ? null : bytes.subarray(sh.offset, sh.offset + sh.size),
      relocs: Relocs.none,
      entSize: sh.flags & SHF.MERGE ? sh.entSize : 0,
      group: -1,
      rawType: sh.type,
    });
  }

  // SHF_LINK_ORDER sections (metadata about another section) live and die with the section they name.
  for (let i = 1; i < headers.length; i++) {
    const sh = headers[i];
    if (atomOf[i] >= 0 && sh.flags & SHF.LINK_ORDER && sh.link > 0 && sh.link < headers.length && atomOf[sh.link] >= 0) {
      atoms[atomOf[i]].linkOrder = atomOf[sh.link];
    }
  }

  const { symbols, firstGlobal } = readSymbols(r, headers, atomOf, claim);
  const groups = readGroups(r, headers, atomOf, atoms, symbols, claim);

  // Relocations, attached to the atom they apply to: rows of one table for the whole file.
  // The rows are checked where they lie; the table is the file's own bytes when they can be read
  // in place (relocs.ts), else the rows copied in the order of their sections.
  const relaSections: number[] = [];
  let rows = 0;
  for (let i = 1; i < headers.length; i++) {
    const sh = headers[i];
    if (sh.type === SHT.REL) r.fail(sh.at, `section '${sh.name}': REL relocations are not used on this architecture (expected RELA)`);
    if (sh.type !== SHT.RELA) continue;
    if (sh.info >= headers.length) r.fail(sh.at + 0x2c, `relocation section '${sh.name}' applies to section index ${sh.info}, past the last section (${headers.length - 1})`);
    if (atomOf[sh.info] < 0) continue; // relocations for a section we drop (e.g. .llvm_addrsig)
    if (sh.entSize !== RELA_SIZE) r.fail(sh.at + 0x38, `relocation section '${sh.name}' has entry size ${sh.entSize}, expected ${RELA_SIZE}`);
    if (sh.size % RELA_SIZE !== 0) r.fail(sh.at + 0x20, `relocation section '${sh.name}' size ${sh.size} is not a multiple of ${RELA_SIZE}`);
    r.need(sh.offset, sh.size, `relocation section '${sh.name}'`);
    claim(sh, 'relocation section');
    relaSections.push(i);
    rows += sh.size / RELA_SIZE;
  }
  const inPlace = relaSections.every((i) => headers[i].offset % 4 === 0) ? RelocTable.overBytes(bytes) : null;
  const table = inPlace ?? RelocTable.ofRows(rows);
  let row = 0;
  for (const i of relaSections) {
    const sh = headers[i];
    const atom = atoms[atomOf[sh.info]];
    const start = inPlace ? sh.offset / 4 : row * ROW;
    const count = sh.size / RELA_SIZE;
    for (let off = sh.offset; off < sh.offset + sh.size; off += RELA_SIZE, row++) {
      const offset = r.u64(off, 'relocation offset');
      const type = r.u32(off + 8);
      const sym = r.u32(off + 12);
      if (sym >= symbols.length) r.fail(off, `relocation in '${sh.name}' refers to symbol index ${sym}, past the end of the symbol table (${symbols.length} symbols)`);
      if (offset >= atom.size && atom.size > 0) r.fail(off, `relocation in '${sh.name}' at offset ${hex(offset)} is outside section '${atom.name}' (size ${hex(atom.size)})`);
      const addend = r.i64(off + 16);
      if (!inPlace) table.set(row, offset, type, sym, addend);
    }
    atom.relocs = atom.relocs.concat(new Relocs(table, start, count));
  }

  return { name, format: 'elf', arch, atoms, symbols, firstGlobal, groups, bytes };
}

function readSectionHeaders(r: ByteReader): SectionHeader[] {
  const shoff = r.u64(0x28, 'e_shoff');
  const shentsize = r.u16(0x3a);
  let shnum = r.u16(0x3c);
  let shstrndx = r.u16(0x3e);
  if (shoff === 0) return [];
  if (shentsize !== SHDR_SIZE) r.fail(0x3a, `section header size ${shentsize} is not ${SHDR_SIZE}`);
  r.need(shoff, SHDR_SIZE, 'section header table');
  // Extended numbering: counts that do not fit live in section 0's header.
  if (shnum === 0) shnum = r.u64(shoff + 0x20, 'section count');
  if (shstrndx === SHN.XINDEX) shstrndx = r.u32(shoff + 0x28);
  r.need(shoff, shnum * SHDR_SIZE, `section header table (${shnum} entries)`);
  if (shstrndx >= shnum) r.fail(0x3e, `section name table index ${shstrndx} is out of range (${shnum} sections)`);

  const raw: SectionHeader[] = new Array(shnum);
  for (let i = 0; i < shnum; i++) {
    const at = shoff + i * SHDR_SIZE;
    raw[i] = {
      name: '',
      type: r.u32(at + 4),
      flags: r.u64(at + 8, 'section flags'),
      offset: r.u64(at + 0x18, 'section offset'),
      size: r.u64(at + 0x20, 'section size'),
      link: r.u32(at + 0x28),
      info: r.u32(at + 0x2c),
      align: r.u64(at + 0x30, 'section alignment'),
      entSize: r.u64(at + 0x38, 'section entry size'),
      at,
    };
  }
  const names = raw[shstrndx];
  if (shnum > 1) {
    if (names.type !== SHT.STRTAB) r.fail(names.at, `section name table (index ${shstrndx}) is not a string table`);
    r.need(names.offset, names.size, 'section name table');
  }
  for (let i = 1; i < shnum; i++) {
    const nameOff = r.u32(raw[i].at);
    raw[i].name = r.cstring(names.offset + nameOff, names.offset + names.size, `name of section ${i}`);
  }
  return raw;
}

/** Sections that become atoms: everything with content the output may need. */
function isContentSection(sh: SectionHeader): boolean {
  switch (sh.type) {
    case SHT.NULL: case SHT.SYMTAB: case SHT.STRTAB: case SHT.RELA: case SHT.REL: case SHT.GROUP:
    case SHT.SYMTAB_SHNDX: case SHT.LLVM_ADDRSIG: case SHT.LLVM_LINKER_OPTIONS:
    case SHT.LLVM_DEPENDENT_LIBRARIES: case SHT.LLVM_CALL_GRAPH_PROFILE:
      return false;
  }
  if (sh.flags & SHF.EXCLUDE) return false;
  // The stack marker and property notes say things about the object, not content to link.
  if (sh.name === '.note.GNU-stack' || sh.name === '.note.gnu.property') return false;
  return true;
}

function atomKind(sh: SectionHeader): AtomKind {
  if (!(sh.flags & SHF.ALLOC)) {
    return sh.name.startsWith('.debug_') || sh.name.startsWith('.zdebug_') ? AtomKind.Debug : AtomKind.Other;
  }
  if (sh.flags & SHF.TLS) return sh.type === SHT.NOBITS ? AtomKind.TBss : AtomKind.TData;
  if (sh.flags & SHF.EXECINSTR) return AtomKind.Code;
  if (sh.type === SHT.NOBITS) return AtomKind.Bss;
  if (sh.flags & SHF.WRITE) return AtomKind.Data;
  return AtomKind.ROData;
}

function secFlags(sh: SectionHeader): number {
  let f = 0;
  if (sh.flags & SHF.ALLOC) f |= SecFlag.Alloc;
  if (sh.flags & SHF.WRITE) f |= SecFlag.Write;
  if (sh.flags & SHF.EXECINSTR) f |= SecFlag.Exec;
  if (sh.flags & SHF.MERGE && sh.entSize > 0) f |= SecFlag.Merge;
  if (sh.flags & SHF.STRINGS) f |= SecFlag.Strings;
  if (sh.flags & SHF.TLS) f |= SecFlag.TLS;
  if (sh.flags & SHF.GNU_RETAIN) f |= SecFlag.Retain;
  if (sh.type === SHT.NOBITS) f |= SecFlag.NoBits;
  if (sh.type === SHT.NOTE) f |= SecFlag.Note | SecFlag.Retain;
  const n = sh.name;
  if (sh.type === SHT.INIT_ARRAY || n === '.init_array' || n.startsWith('.init_array.')) f |= SecFlag.InitArray | SecFlag.Retain;
  if (sh.type === SHT.FINI_ARRAY || n === '.fini_array' || n.startsWith('.fini_array.')) f |= SecFlag.FiniArray | SecFlag.Retain;
  if (sh.type === SHT.PREINIT_ARRAY) f |= SecFlag.PreinitArray | SecFlag.Retain;
  if (sh.type === SHT.X86_64_UNWIND || n === '.eh_frame') f |= SecFlag.EhFrame;
  return f;
}

type Claim = (sh: SectionHeader, what: string) => void;

function readSymbols(r: ByteReader, headers: SectionHeader[], atomOf: Int32Array, claim: Claim): { symbols: InputSymbol[]; firstGlobal: number } {
  let symtabIndex = -1;
  for (let i = 1; i < headers.length; i++) {
    if (headers[i].type !== SHT.SYMTAB) continue;
    if (symtabIndex >= 0) r.fail(headers[i].at, 'more than one symbol table');
    symtabIndex = i;
  }
  const nullSym: InputSymbol = new PackedSymbol('', PackedSymbol.bits(SymBinding.Local, SymType.NoType, Visibility.Default), SymPlace.Undefined, 0, 0);
  if (symtabIndex < 0) return { symbols: [nullSym], firstGlobal: 1 };

  const st = headers[symtabIndex];
  if (st.entSize !== SYM_SIZE) r.fail(st.at + 0x38, `symbol table entry size ${st.entSize}, expected ${SYM_SIZE}`);
  r.need(st.offset, st.size, 'symbol table');
  claim(st, 'symbol table');
  if (st.link === 0 || st.link >= headers.length || headers[st.link].type !== SHT.STRTAB) {
    r.fail(st.at + 0x28, `symbol table's string table (section ${st.link}) is missing or not a string table`);
  }
  const strtab = headers[st.link];
  r.need(strtab.offset, strtab.size, 'symbol string table');
  const strEnd = strtab.offset + strtab.size;

  // Extended section indices for objects with more than 0xff00 sections.
  let shndxTable = -1;
  for (let i = 1; i < headers.length; i++) {
    if (headers[i].type === SHT.SYMTAB_SHNDX && headers[i].link === symtabIndex) shndxTable = headers[i].offset;
  }

  const count = Math.floor(st.size / SYM_SIZE);
  const firstGlobal = st.info;
  if (firstGlobal > count || firstGlobal === 0) r.fail(st.at + 0x2c, `symbol table's first global index ${firstGlobal} is out of range (${count} symbols)`);
  const symbols: InputSymbol[] = new Array(count);
  symbols[0] = nullSym;
  for (let i = 1; i < count; i++) {
    const at = st.offset + i * SYM_SIZE;
    const nameOff = r.u32(at);
    const info = r.u8(at + 4);
    const other = r.u8(at + 5);
    let shndx = r.u16(at + 6);
    const value = r.u64(at + 8, 'symbol value');
    const size = r.u64(at + 16, 'symbol size');
    const bind = info >> 4;
    const type = info & 0xf;
    if (shndx === SHN.XINDEX) {
      if (shndxTable < 0) r.fail(at + 6, `symbol ${i} uses an extended section index but there is no SHT_SYMTAB_SHNDX section`);
      shndx = r.u32(shndxTable + i * 4);
    }
    let atom: number;
    if (shndx === SHN.UNDEF) atom = SymPlace.Undefined;
    else if (shndx === SHN.ABS) atom = SymPlace.Absolute;
    else if (shndx === SHN.COMMON) atom = SymPlace.Common;
    else if (shndx >= headers.length) {
      r.fail(at + 6, `symbol ${i} has section index ${shndx}, past the last section (${headers.length - 1})`);
    } else {
      atom = atomOf[shndx] >= 0 ? atomOf[shndx] : SymPlace.Dropped;
    }
    let binding: SymBinding;
    if (bind === STB.LOCAL) binding = SymBinding.Local;
    else if (bind === STB.GLOBAL || bind === STB.GNU_UNIQUE) binding = SymBinding.Global;
    else if (bind === STB.WEAK) binding = SymBinding.Weak;
    else r.fail(at + 4, `symbol ${i} has unknown binding ${bind}`);
    if ((i < firstGlobal) !== (binding === SymBinding.Local)) {
      r.fail(at + 4, `symbol ${i} is ${binding === SymBinding.Local ? 'local' : 'global'} but lies in the ${i < firstGlobal ? 'local' : 'global'} part of the symbol table`);
    }
    let name = r.cstring(strtab.offset + nameOff, strEnd, `name of symbol ${i}`);
    // Section symbols are nameless; give them their section's name for messages and content ids.
    if (type === STT.SECTION && name === '' && shndx < headers.length) name = headers[shndx].name;
    symbols[i] = new PackedSymbol(name, PackedSymbol.bits(binding, type as SymType, (other & 3) as Visibility), atom, value, size);
  }
  return { symbols, firstGlobal };
}

function readGroups(r: ByteReader, headers: SectionHeader[], atomOf: Int32Array, atoms: Atom[], symbols: InputSymbol[], claim: Claim): ComdatGroup[] {
  const groups: ComdatGroup[] = [];
  for (let i = 1; i < headers.length; i++) {
    const sh = headers[i];
    if (sh.type !== SHT.GROUP) continue;
    if (sh.size < 4 || sh.size % 4 !== 0) r.fail(sh.at + 0x20, `group section '${sh.name}' has invalid size ${sh.size}`);
    r.need(sh.offset, sh.size, `group section '${sh.name}'`);
    claim(sh, 'group section');
    if (sh.info >= symbols.length) r.fail(sh.at + 0x2c, `group section '${sh.name}' names signature symbol ${sh.info}, past the end of the symbol table`);
    const flags = r.u32(sh.offset);
    if (!(flags & GRP_COMDAT)) continue; // a plain group only ties sections for --gc-sections
    const members: number[] = [];
    for (let off = sh.offset + 4; off < sh.offset + sh.size; off += 4) {
      const idx = r.u32(off);
      if (idx === 0 || idx >= headers.length) r.fail(off, `group section '${sh.name}' lists section index ${idx}, out of range`);
      const a = atomOf[idx];
      if (a < 0) continue;
      if (atoms[a].group >= 0) r.fail(off, `section '${atoms[a].name}' is in more than one group`);
      atoms[a].group = groups.length;
      members.push(a);
    }
    groups.push({ signature: symbols[sh.info].name, atoms: members });
  }
  return groups;
}
