/**
 * The format-neutral object model. ELF, COFF and Mach-O readers all produce
 * these records; the linker core (src/link) reasons only about them.
 *
 * An input is an ObjectFile: a list of atoms (the smallest units that move
 * independently: an input section for ELF and COFF, a symbol-delimited piece
 * for Mach-O), a flat symbol table, and COMDAT groups. Everything refers to
 * everything else by index, so that state serialises cheaply and compares by
 * value.
 */

import type { Relocs } from './relocs.js';

export type ArchName = 'x86_64' | 'aarch64';
export type FormatName = 'elf' | 'coff' | 'macho';

/**
 * The class of an atom: decides the output segment, the slack policy and the
 * padding. `Other` is non-allocated content that is not debug info (.comment).
 */
export const enum AtomKind {
  Code = 0,
  ROData = 1,
  Data = 2,
  Bss = 3,
  TData = 4,
  TBss = 5,
  Debug = 6,
  Other = 7,
}

/** Section attributes the core cares about; readers translate their own flags. */
export const enum SecFlag {
  Alloc = 1 << 0,
  Write = 1 << 1,
  Exec = 1 << 2,
  Merge = 1 << 3,
  Strings = 1 << 4,
  TLS = 1 << 5,
  NoBits = 1 << 6,
  /** .init_array, .fini_array, .preinit_array: arrays of pointers, gap-free. */
  InitArray = 1 << 7,
  FiniArray = 1 << 8,
  PreinitArray = 1 << 9,
  Note = 1 << 10,
  /** .eh_frame: split into CIE/FDE records when linked. */
  EhFrame = 1 << 11,
  /** Retained even with --gc-sections (SHF_GNU_RETAIN, notes, init arrays). */
  Retain = 1 << 12,
  /**
   * The linker's own tables (GOT, PLT, dynamic sections, .eh_frame_hdr):
   * laid out packed, without slack or headroom, and never grown by a patch.
   */
  Fixed = 1 << 13,
}

export interface Reloc {
  /** Offset of the place within its atom. */
  offset: number;
  /** The format's raw relocation type (R_X86_64_PC32 = 2, ...). */
  type: number;
  /** Index into the owning file's `symbols`. */
  sym: number;
  addend: number;
}

export interface Atom {
  /** Position in `file.atoms`. */
  index: number;
  /** The input section's name, e.g. `.text.tbl_get`. */
  name: string;
  kind: AtomKind;
  flags: number;
  align: number;
  size: number;
  /** Contents; null for zero-fill (bss) atoms. */
  data: Uint8Array | null;
  /** Its relocations (see relocs.ts: columns, not objects). */
  relocs: Relocs;
  /** Entry size for merge sections, 0 otherwise. */
  entSize: number;
  /** Index into `file.groups`, or -1. */
  group: number;
  /** The format's raw section type (ELF sh_type; COFF section Characteristics), for writer decisions. */
  rawType: number;
  /**
   * SHF_LINK_ORDER: the index of the atom this one describes (its sh_link),
   * which keeps it under --gc-sections; for COFF, an associative COMDAT
   * section's parent, with which it lives and dies; absent otherwise.
   */
  linkOrder?: number;
  /** Content id, computed lazily (see contentId.ts). */
  id?: Uint8Array;
}

export const enum SymBinding {
  Local = 0,
  Global = 1,
  Weak = 2,
}

export const enum SymType {
  NoType = 0,
  Object = 1,
  Func = 2,
  Section = 3,
  File = 4,
  Common = 5,
  TLS = 6,
  IFunc = 10,
}

export const enum Visibility {
  Default = 0,
  Internal = 1,
  Hidden = 2,
  Protected = 3,
}

/** Where a symbol lives when it is not in an atom. */
export const enum SymPlace {
  Undefined = -1,
  Absolute = -2,
  Common = -3,
  /** Defined in a section the model does not keep (e.g. a discarded marker). */
  Dropped = -4,
}

export interface InputSymbol {
  name: string;
  binding: SymBinding;
  type: SymType;
  visibility: Visibility;
  /** Index into `file.atoms`, or a SymPlace. */
  atom: number;
  /** Offset in the atom; the value for absolute symbols; the alignment for common ones. */
  value: number;
  size: number;
  /**
   * COFF weak external whose default (its aux record's TagIndex) is not
   * defined in this file: the index in `symbols` of that default, which the
   * symbol resolves to when nothing defines it. (A weak external whose default
   * is defined here is read as a plain weak definition at the default's place.)
   */
  weakAlias?: number;
}

/**
 * An ELF object's symbol. readElf makes one per symbol table entry (at 200k
 * functions, a million), so binding, type and visibility share one small
 * integer: 64 bytes of heap each rather than 80.
 */
export class PackedSymbol implements InputSymbol {
  constructor(public name: string, private readonly bits: number, public atom: number, public value: number, public size: number) {}

  static bits(binding: SymBinding, type: SymType, visibility: Visibility): number {
    return binding | type << 2 | visibility << 6;
  }

  get binding(): SymBinding {
    return this.bits & 3;
  }

  get type(): SymType {
    return (this.bits >> 2) & 15;
  }

  get visibility(): Visibility {
    return (this.bits >> 6) & 3;
  }
}

/**
 * How a link picks among copies of a COMDAT group with the same signature:
 * COFF's IMAGE_COMDAT_SELECT_* numbers (associative sections are not groups of
 * their own: they join their parent's). ELF groups have no selection: Any.
 */
export const enum ComdatSelect {
  /** Another copy is a duplicate-symbol error. */
  NoDuplicates = 1,
  Any = 2,
  /** Copies must have the same size. */
  SameSize = 3,
  /** Copies must have the same contents. */
  ExactMatch = 4,
  Largest = 6,
  Newest = 7,
}

export interface ComdatGroup {
  signature: string;
  /** Indices into `file.atoms` of the group's members. */
  atoms: number[];
  /** COFF only; absent means Any. */
  selection?: ComdatSelect;
  /** COFF: the leader section's length per its section definition (gcc pads the section's size beyond it). */
  length?: number;
}

export interface ObjectFile {
  /** Display name: `dir/table.o` or `libcore.a(table.o)`. */
  name: string;
  format: FormatName;
  arch: ArchName;
  atoms: Atom[];
  /** Index 0 is the null symbol; relocations index this array directly. */
  symbols: InputSymbol[];
  /** Symbols at and above this index are global or weak. */
  firstGlobal: number;
  groups: ComdatGroup[];
  /** The bytes the file was read from, for content identity. */
  bytes: Uint8Array;
  /**
   * COFF: the text of the object's `.drectve` sections (linker options such
   * as `/DEFAULTLIB:`, `-export:`, `/alternatename:`, `-aligncomm:`), which
   * are consumed, not linked. Absent when there are none.
   */
  directives?: string;
  /**
   * COFF: a short import library member (coffImport.ts), read as the stub
   * object it stands for: the DLL and the name (or ordinal) it imports.
   */
  dllImport?: DllImport;
  /**
   * A compiled resource file (`.res`): its resources, which the PE link
   * turns into the resource section (formats/pe/resources.ts). No atoms.
   */
  resources?: ResourceEntry[];
}

export interface ResourceEntry {
  type: number | string;
  name: number | string;
  language: number;
  data: Uint8Array;
  /** The file it comes from, for messages. */
  origin: string;
}

export interface DllImport {
  dll: string;
  /** The symbol the member defines (`__imp_` prefixed, and bare for code). */
  symbol: string;
  /** The name the DLL exports it by; null when imported by ordinal. */
  importName: string | null;
  ordinal: number | null;
  /** 0 code, 1 data, 2 const (IMPORT_OBJECT_TYPE). */
  type: number;
}

/** A member of a static archive: parsed only if the link pulls it in. */
export interface ArchiveMember {
  /** The member's name as stored (long names resolved). */
  name: string;
  /** Offset of the member's header in the archive, for messages. */
  offset: number;
  bytes: Uint8Array;
}

export interface Archive {
  name: string;
  members: ArchiveMember[];
  /**
   * The archive's symbol index: symbol name -> member indices defining it.
   * Null when the archive has no index; the linker then reads every member's
   * symbols itself.
   */
  index: Map<string, number[]> | null;
  thin: boolean;
}

/**
 * A symbol a shared library exports (its dynamic symbol table, defined
 * entries only). Versions come from .gnu.version and .gnu.version_d.
 */
export interface SharedSymbol {
  name: string;
  /** The version definition's name (`GLIBC_2.2.5`); null when unversioned (index 1, or no version table). */
  version: string | null;
  /**
   * True for the default version, `name@@VER`, which a plain reference to
   * `name` binds to; false for a hidden one, `name@VER` (bit 15 of the
   * .gnu.version entry), which only a reference naming that version can use.
   * Always true for unversioned symbols.
   */
  isDefault: boolean;
  binding: SymBinding;
  type: SymType;
  size: number;
  /** The symbol's address in the library (st_value). */
  value: number;
}

/** A shared library (ELF ET_DYN) as a link input: what it exports and what it needs. */
export interface SharedObject {
  name: string;
  format: 'elf';
  arch: ArchName;
  /** DT_SONAME, or the file's base name when the library has none. */
  soname: string;
  /** DT_NEEDED entries, in order. */
  needed: string[];
  /** Defined, global or weak, exported dynamic symbols (st_shndx != SHN_UNDEF, version index not local). */
  symbols: SharedSymbol[];
  /** Names of the dynamic symbols the library references but does not define (non-weak), for --no-allow-shlib-undefined. */
  undefinedSymbols: string[];
  /** Version definitions (.gnu.version_d) by name, the base (VER_FLG_BASE) first, then in the file's order. */
  versions: string[];
}
