import { SecFlag, SymPlace, SymType, Visibility, type InputSymbol } from '../../obj/model.js';
import {
  ELFCLASS64, ELFDATA2LSB, ET, EV_CURRENT, SHF, SHN, SHT, STB, STT, EHDR_SIZE, PHDR_SIZE, SHDR_SIZE, SYM_SIZE,
} from '../../obj/elfConstants.js';
import { write16, write32, write64, type Arch } from '../../link/arch/Arch.js';
import { alignTo } from '../../link/align.js';
import type { Layout } from '../../link/layout.js';
import type { OutputSection, SectionPlan } from '../../link/outputSections.js';
import { SymState, type Resolution } from '../../link/resolve.js';
import { NameTable } from '../../link/nameTable.js';
import { LinkError } from '../../obj/LinkError.js';
import { TargetState, type SymbolValues } from '../../link/symbols.js';

/**
 * The ELF executable writer: the file header, program headers, section
 * headers, and the static symbol table. Section contents are written by the
 * relocation pass straight into the same image buffer; this file lays out
 * and writes everything around them.
 *
 * File order: ELF header, program headers, allocated sections, non-allocated
 * sections, .symtab, .shstrtab, .strtab, section header table.
 */

const encoder = new TextEncoder();

export class StringTable {
  /** The strings added, in order; encoded in one go by bytes(). */
  private readonly strings: string[] = [];
  /** Offsets by string: a NameTable, for the hundreds of thousands of names of a large link's .symtab. */
  private readonly seen = new NameTable();
  size = 1;
  add(s: string): number {
    if (s === '') return 0;
    const known = this.seen.get(s);
    if (known !== undefined) return known;
    const at = this.size;
    if (at > 0x7fffffff) throw new LinkError(`a string table of the output is larger than 2 GiB (at '${s.slice(0, 64)}')`);
    this.strings.push(s);
    this.size += utf8Length(s) + 1;
    this.seen.set(s, at);
    return at;
  }
  bytes(): Uint8Array {
    const out = new Uint8Array(this.size);
    // Each string then its NUL, after the table's leading NUL (the empty name).
    if (this.strings.length) encoder.encodeInto(this.strings.join('\0') + '\0', out.subarray(1));
    return out;
  }
}

/** The length of `s` in UTF-8. */
function utf8Length(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) n += 1;
    else if (c >= 0xd800 && c < 0xdc00 && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) { n += 2; i++; }
    else n += 2;
  }
  return n;
}

/** .symtab rows as bytes, appended one by one (no object per symbol: a large link has millions). */
class SymRows {
  bytes = new Uint8Array(SYM_SIZE * 64);
  count = 0;

  push(name: number, info: number, other: number, shndx: number, value: number, size: number): number {
    const at = this.count * SYM_SIZE;
    if (at + SYM_SIZE > this.bytes.length) {
      const grown = new Uint8Array(this.bytes.length * 2);
      grown.set(this.bytes);
      this.bytes = grown;
    }
    const b = this.bytes;
    write32(b, at, name);
    b[at + 4] = info;
    b[at + 5] = other;
    write16(b, at + 6, shndx);
    write64(b, at + 8, value);
    write64(b, at + 16, size);
    return this.count++;
  }
}

export interface ElfTables {
  symtab: Uint8Array;
  strtab: Uint8Array;
  shstrtab: Uint8Array;
  firstGlobal: number;
  /** File offsets of the trailing tables and the section header table. */
  symtabOff: number;
  shstrtabOff: number;
  strtabOff: number;
  shoff: number;
  /** Section name offsets, in layout.sections order. */
  sectionNames: number[];
  /** Per file, per symbol index: its index in .symtab, or -1 when not emitted. */
  localIndex: Int32Array[];
  /** Per global symbol id: its index in .symtab, or -1. */
  globalIndex: Int32Array;
  names: { symtab: number; shstrtab: number; strtab: number };
  totalSize: number;
}

/**
 * Whether .symtab keeps a local symbol: named ones only (no section symbols),
 * none in sections that are not in the output, and not the assembler
 * temporaries (.L) that exist only because they point into merge sections.
 */
export function shouldEmitLocal(s: InputSymbol, placed: (atom: number) => boolean, merged: (atom: number) => boolean): boolean {
  if (s.type === SymType.Section || s.name === '') return false;
  if (s.type === SymType.File || s.atom === SymPlace.Absolute) return true;
  if (s.atom < 0) return false;
  if (merged(s.atom)) return !s.name.startsWith('.L');
  return placed(s.atom);
}

/** Builds the symbol and string tables and decides where the trailing tables go. */
export function buildElfTables(res: Resolution, plan: SectionPlan, layout: Layout, values: SymbolValues): ElfTables {
  const strtab = new StringTable();
  const shstrtab = new StringTable();
  const shndxOf = new Map<OutputSection, number>();
  layout.sections.forEach((s, i) => shndxOf.set(s, i + 1));
  const sectionIndexOfAtom = (file: number, atom: number): number => {
    const merged = plan.mergeMaps[file][atom];
    const f = merged ? plan.internal : file;
    const a = merged ? merged.target : atom;
    const out = plan.atomOut[f][a];
    return out < 0 ? SHN.UNDEF : shndxOf.get(plan.sections[out]) ?? SHN.UNDEF;
  };
  const sectionIndexOfAddr = (addr: number): number => {
    for (let i = 0; i < layout.sections.length; i++) {
      const s = layout.sections[i];
      if (s.flags & SecFlag.Alloc && !(s.flags & SecFlag.TLS) && addr >= s.addr && addr <= s.addr + s.size) return i + 1;
    }
    return SHN.ABS;
  };

  // TLS symbols' values are offsets in the TLS segment, as in every ELF linker's output.
  const tlsBase = layout.tls?.addr ?? 0;
  const symValue = (s: InputSymbol, addr: number) => (s.type === SymType.TLS ? addr - tlsBase : addr);
  const locals = new SymRows();
  const globals = new SymRows();
  const localIndex = res.files.map((f) => new Int32Array(f.symbols.length).fill(-1));
  const globalIndex = new Int32Array(res.symbols.length).fill(-1);
  /** Globals are numbered after all locals: each one's row among the globals (-1: none) until the locals are counted. */
  const globalRow = new Int32Array(res.symbols.length).fill(-1);
  const symInfo = (s: InputSymbol, bind: number) => (bind << 4) | (s.type === SymType.Common ? STT.OBJECT : s.type);

  // Local symbols, file by file: named ones only (no section symbols), and none in discarded sections.
  for (let f = 0; f < res.files.length; f++) {
    const file = res.files[f];
    const discarded = res.discarded[f], atomOut = plan.atomOut[f], mergeMaps = plan.mergeMaps[f];
    const placed = (a: number) => !discarded[a] && atomOut[a] >= 0;
    const merged = (a: number) => mergeMaps[a] !== undefined;
    for (let i = 1; i < file.firstGlobal; i++) {
      const s = file.symbols[i];
      if (!shouldEmitLocal(s, placed, merged)) continue;
      if (s.type === SymType.File) {
        localIndex[f][i] = 1 + locals.push(strtab.add(s.name), STT.FILE, 0, SHN.ABS, 0, 0);
        continue;
      }
      const t = values.target(f, i, 0);
      if (t.state !== TargetState.Defined) continue;
      const shndx = s.atom === SymPlace.Absolute ? SHN.ABS : sectionIndexOfAtom(f, s.atom);
      if (shndx === SHN.UNDEF) continue;
      localIndex[f][i] = 1 + locals.push(strtab.add(s.name), symInfo(s, STB.LOCAL), s.visibility, shndx, symValue(s, t.S), s.size);
    }
  }

  // Global symbols in first-seen order; hidden ones become local in an executable.
  const emit = (id: number, name: number, bind: number, type: number, other: number, shndx: number, value: number, size: number) => {
    const vis = res.symbols[id].visibility;
    if ((vis === Visibility.Hidden || vis === Visibility.Internal) && shndx !== SHN.UNDEF) {
      globalIndex[id] = 1 + locals.push(name, (STB.LOCAL << 4) | type, other, shndx, value, size);
    } else {
      globalRow[id] = globals.push(name, (bind << 4) | type, other, shndx, value, size);
    }
  };
  for (let id = 0; id < res.symbols.length; id++) {
    const g = res.symbols[id];
    if (g.state === SymState.Defined || g.state === SymState.Common) {
      const s = res.files[g.file].symbols[g.sym];
      const addr = values.globalAddress(g);
      if (addr === undefined) continue;
      const shndx = g.state === SymState.Common
        ? sectionIndexOfAtom(plan.internal, plan.commonAtoms.get(id)!)
        : s.atom === SymPlace.Absolute ? SHN.ABS : sectionIndexOfAtom(g.file, s.atom);
      emit(id, strtab.add(g.name), g.weak ? STB.WEAK : STB.GLOBAL, symInfo(s, 0), g.visibility, shndx, symValue(s, addr), s.size);
    } else if (g.state === SymState.Synthetic) {
      const v = values.synthetic.get(g.name);
      if (v === undefined) continue;
      // Linker-defined: hidden, so local in the output.
      globalIndex[id] = 1 + locals.push(strtab.add(g.name), (STB.LOCAL << 4) | STT.NOTYPE, Visibility.Hidden, sectionIndexOfAddr(v), v, 0);
    } else if (g.state === SymState.Shared) {
      // A shared library's symbol: undefined here, unless copied into the program's .bss.
      const ss = res.shared[g.file].symbols[g.sym];
      const copy = values.sharedAddress(id);
      const copied = copy !== undefined && sectionIndexOfAddr(copy) !== SHN.ABS && layout.sections[sectionIndexOfAddr(copy) - 1].flags & SecFlag.NoBits;
      const type = ss.type === SymType.IFunc ? STT.FUNC : ss.type;
      const bind = g.weak ? STB.WEAK : STB.GLOBAL;
      if (copied) emit(id, strtab.add(g.name), bind, type, 0, sectionIndexOfAddr(copy!), copy!, ss.size);
      else emit(id, strtab.add(g.name), bind, type, 0, SHN.UNDEF, 0, 0);
    } else if (g.state === SymState.Undefined && g.referencedBy.length > 0) {
      emit(id, strtab.add(g.name), STB.WEAK, STT.NOTYPE, g.visibility, SHN.UNDEF, 0, 0);
    }
  }
  for (let id = 0; id < globalRow.length; id++) if (globalRow[id] >= 0) globalIndex[id] = 1 + locals.count + globalRow[id];

  // The null symbol, the locals, the globals.
  const symtab = new Uint8Array((1 + locals.count + globals.count) * SYM_SIZE);
  symtab.set(locals.bytes.subarray(0, locals.count * SYM_SIZE), SYM_SIZE);
  symtab.set(globals.bytes.subarray(0, globals.count * SYM_SIZE), (1 + locals.count) * SYM_SIZE);

  const sectionNames = layout.sections.map((s) => shstrtab.add(s.name));
  const names = { symtab: shstrtab.add('.symtab'), shstrtab: shstrtab.add('.shstrtab'), strtab: shstrtab.add('.strtab') };
  const strBytes = strtab.bytes();
  const shstrBytes = shstrtab.bytes();
  const symtabOff = alignTo(layout.fileEnd, 8);
  const shstrtabOff = symtabOff + symtab.length;
  const strtabOff = shstrtabOff + shstrBytes.length;
  const shoff = alignTo(strtabOff + strBytes.length, 8);
  const totalSize = shoff + (layout.sections.length + 4) * SHDR_SIZE;
  return {
    symtab, strtab: strBytes, shstrtab: shstrBytes, firstGlobal: 1 + locals.count,
    symtabOff, shstrtabOff, strtabOff, shoff, sectionNames, localIndex, globalIndex, names, totalSize,
  };
}

/** Bytes that go at a file offset whole: the parts of the file that are not atoms. */
export interface Piece {
  offset: number;
  bytes: Uint8Array;
}

/** Writes the ELF header, program headers, trailing tables and section headers into `image`. */
export function writeElfHeaders(image: Uint8Array, arch: Arch, layout: Layout, tables: ElfTables, entry: number): void {
  for (const p of elfHeaderPieces(arch, layout, tables, entry)) image.set(p.bytes, p.offset);
}

/**
 * The ELF header with the program headers, the trailing tables (.symtab,
 * .shstrtab, .strtab) and the section headers, each at its file offset.
 */
export function elfHeaderPieces(arch: Arch, layout: Layout, tables: ElfTables, entry: number): Piece[] {
  const head = new Uint8Array(EHDR_SIZE + layout.segments.length * PHDR_SIZE);
  const dv = new DataView(head.buffer);
  const shnum = layout.sections.length + 4;
  // e_ident
  head.set([0x7f, 0x45, 0x4c, 0x46, ELFCLASS64, ELFDATA2LSB, EV_CURRENT, 0], 0);
  dv.setUint16(0x10, layout.pie ? ET.DYN : ET.EXEC, true);
  dv.setUint16(0x12, arch.eMachine, true);
  dv.setUint32(0x14, EV_CURRENT, true);
  dv.setBigUint64(0x18, BigInt(entry), true);
  dv.setBigUint64(0x20, BigInt(EHDR_SIZE), true);
  dv.setBigUint64(0x28, BigInt(tables.shoff), true);
  dv.setUint32(0x30, 0, true);
  dv.setUint16(0x34, EHDR_SIZE, true);
  dv.setUint16(0x36, PHDR_SIZE, true);
  dv.setUint16(0x38, layout.segments.length, true);
  dv.setUint16(0x3a, SHDR_SIZE, true);
  dv.setUint16(0x3c, shnum, true);
  dv.setUint16(0x3e, shnum - 2, true); // .shstrtab

  layout.segments.forEach((p, i) => {
    const at = EHDR_SIZE + i * PHDR_SIZE;
    dv.setUint32(at, p.type, true);
    dv.setUint32(at + 4, p.flags, true);
    dv.setBigUint64(at + 8, BigInt(p.offset), true);
    dv.setBigUint64(at + 16, BigInt(p.vaddr), true);
    dv.setBigUint64(at + 24, BigInt(p.vaddr), true);
    dv.setBigUint64(at + 32, BigInt(p.filesz), true);
    dv.setBigUint64(at + 40, BigInt(p.memsz), true);
    dv.setBigUint64(at + 48, BigInt(p.align), true);
  });

  const shdrs = new Uint8Array(shnum * SHDR_SIZE);
  const sv = new DataView(shdrs.buffer);
  const shdr = (i: number, name: number, type: number, flags: number, addr: number, offset: number, size: number,
    link: number, info: number, align: number, entsize: number) => {
    const at = i * SHDR_SIZE;
    sv.setUint32(at, name, true);
    sv.setUint32(at + 4, type, true);
    sv.setBigUint64(at + 8, BigInt(flags), true);
    sv.setBigUint64(at + 16, BigInt(addr), true);
    sv.setBigUint64(at + 24, BigInt(offset), true);
    sv.setBigUint64(at + 32, BigInt(size), true);
    sv.setUint32(at + 40, link, true);
    sv.setUint32(at + 44, info, true);
    sv.setBigUint64(at + 48, BigInt(align), true);
    sv.setBigUint64(at + 56, BigInt(entsize), true);
  };
  // A non-allocated section's headroom (incremental links) lies in the file but outside the section.
  const indexOf = (name: string | number | undefined): number => {
    if (name === undefined) return 0;
    if (typeof name === 'number') return name;
    return layout.sections.findIndex((x) => x.name === name && x.flags & SecFlag.Alloc) + 1;
  };
  layout.sections.forEach((s, i) => {
    shdr(i + 1, tables.sectionNames[i], s.rawType, elfFlags(s), s.addr, s.offset, s.flags & SecFlag.Alloc ? s.size : s.used,
      indexOf(s.link), indexOf(s.info), s.align, s.entSize);
  });
  const n = layout.sections.length;
  shdr(n + 1, tables.names.symtab, SHT.SYMTAB, 0, 0, tables.symtabOff, tables.symtab.length, n + 3, tables.firstGlobal, 8, SYM_SIZE);
  shdr(n + 2, tables.names.shstrtab, SHT.STRTAB, 0, 0, tables.shstrtabOff, tables.shstrtab.length, 0, 0, 1, 0);
  shdr(n + 3, tables.names.strtab, SHT.STRTAB, 0, 0, tables.strtabOff, tables.strtab.length, 0, 0, 1, 0);
  return [
    { offset: 0, bytes: head },
    { offset: tables.symtabOff, bytes: tables.symtab },
    { offset: tables.shstrtabOff, bytes: tables.shstrtab },
    { offset: tables.strtabOff, bytes: tables.strtab },
    { offset: tables.shoff, bytes: shdrs },
  ];
}

function elfFlags(s: OutputSection): number {
  let f = 0;
  if (s.flags & SecFlag.Alloc) f |= SHF.ALLOC;
  if (s.flags & SecFlag.Write) f |= SHF.WRITE;
  if (s.flags & SecFlag.Exec) f |= SHF.EXECINSTR;
  if (s.flags & SecFlag.TLS) f |= SHF.TLS;
  if (s.entSize && s.flags & SecFlag.Strings) f |= SHF.MERGE | SHF.STRINGS;
  return f;
}

