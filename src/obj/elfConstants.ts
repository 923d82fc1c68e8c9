/** ELF constants, named and numbered as in the System V gABI. */

export const ELFMAG = 0x464c457f; // "\x7fELF" read little-endian
export const ELFCLASS64 = 2;
export const ELFDATA2LSB = 1;
export const EV_CURRENT = 1;

export const enum ET {
  REL = 1,
  EXEC = 2,
  DYN = 3,
}

export const enum EM {
  X86_64 = 62,
  AARCH64 = 183,
}

export const enum SHT {
  NULL = 0,
  PROGBITS = 1,
  SYMTAB = 2,
  STRTAB = 3,
  RELA = 4,
  HASH = 5,
  DYNAMIC = 6,
  NOTE = 7,
  NOBITS = 8,
  REL = 9,
  DYNSYM = 11,
  INIT_ARRAY = 14,
  FINI_ARRAY = 15,
  PREINIT_ARRAY = 16,
  GROUP = 17,
  SYMTAB_SHNDX = 18,
  X86_64_UNWIND = 0x70000001,
  LLVM_ADDRSIG = 0x6fff4c03,
  LLVM_LINKER_OPTIONS = 0x6fff4c01,
  LLVM_DEPENDENT_LIBRARIES = 0x6fff4c04,
  LLVM_CALL_GRAPH_PROFILE = 0x6fff4c09,
  GNU_HASH = 0x6ffffff6,
  GNU_VERNEED = 0x6ffffffe,
  GNU_VERSYM = 0x6fffffff,
}

export const enum SHF {
  WRITE = 0x1,
  ALLOC = 0x2,
  EXECINSTR = 0x4,
  MERGE = 0x10,
  STRINGS = 0x20,
  INFO_LINK = 0x40,
  LINK_ORDER = 0x80,
  GROUP = 0x200,
  TLS = 0x400,
  COMPRESSED = 0x800,
  EXCLUDE = 0x80000000,
  GNU_RETAIN = 0x200000,
}

export const GRP_COMDAT = 1;

export const enum SHN {
  UNDEF = 0,
  LORESERVE = 0xff00,
  ABS = 0xfff1,
  COMMON = 0xfff2,
  XINDEX = 0xffff,
}

export const enum STB {
  LOCAL = 0,
  GLOBAL = 1,
  WEAK = 2,
  GNU_UNIQUE = 10,
}

export const enum STT {
  NOTYPE = 0,
  OBJECT = 1,
  FUNC = 2,
  SECTION = 3,
  FILE = 4,
  COMMON = 5,
  TLS = 6,
  GNU_IFUNC = 10,
}

export const enum STV {
  DEFAULT = 0,
  INTERNAL = 1,
  HIDDEN = 2,
  PROTECTED = 3,
}

export const enum PT {
  NULL = 0,
  LOAD = 1,
  DYNAMIC = 2,
  INTERP = 3,
  NOTE = 4,
  PHDR = 6,
  TLS = 7,
  GNU_EH_FRAME = 0x6474e550,
  GNU_STACK = 0x6474e551,
  GNU_RELRO = 0x6474e552,
}

export const enum PF {
  X = 1,
  W = 2,
  R = 4,
}

export const NT_GNU_BUILD_ID = 3;

export const EHDR_SIZE = 64;
export const PHDR_SIZE = 56;
export const SHDR_SIZE = 64;
export const SYM_SIZE = 24;
export const RELA_SIZE = 24;

// Dynamic sections and symbol versions (read from shared objects).

/** Dynamic-section tags (gABI; the GNU extensions as glibc's elf.h names them). */
export const enum DT {
  NULL = 0,
  NEEDED = 1,
  PLTRELSZ = 2,
  PLTGOT = 3,
  HASH = 4,
  STRTAB = 5,
  SYMTAB = 6,
  RELA = 7,
  RELASZ = 8,
  RELAENT = 9,
  STRSZ = 10,
  SYMENT = 11,
  INIT = 12,
  FINI = 13,
  SONAME = 14,
  RPATH = 15,
  PLTREL = 20,
  DEBUG = 21,
  JMPREL = 23,
  INIT_ARRAY = 25,
  FINI_ARRAY = 26,
  INIT_ARRAYSZ = 27,
  FINI_ARRAYSZ = 28,
  RUNPATH = 29,
  FLAGS = 30,
  PREINIT_ARRAY = 32,
  PREINIT_ARRAYSZ = 33,
  GNU_HASH = 0x6ffffef5,
  VERSYM = 0x6ffffff0,
  RELACOUNT = 0x6ffffff9,
  FLAGS_1 = 0x6ffffffb,
  VERDEF = 0x6ffffffc,
  VERDEFNUM = 0x6ffffffd,
  VERNEED = 0x6ffffffe,
  VERNEEDNUM = 0x6fffffff,
}

/** DT_FLAGS and DT_FLAGS_1 bits. */
export const DF_SYMBOLIC = 0x2;
export const DF_BIND_NOW = 0x8;
export const DF_STATIC_TLS = 0x10;
export const DF_1_NOW = 0x1;
export const DF_1_PIE = 0x08000000;

/** Section type of .gnu.version_d (SHT_GNU_versym is in elfConstants). */
export const SHT_GNU_verdef = 0x6ffffffd;
/** e_phnum's escape for counts that do not fit: the count is section 0's sh_info. */
export const PN_XNUM = 0xffff;

export const DYN_SIZE = 16;
/** Elf64_Verdef: vd_version, vd_flags, vd_ndx, vd_cnt (u16), vd_hash, vd_aux, vd_next (u32). */
export const VERDEF_SIZE = 20;
/** Elf64_Verdaux: vda_name, vda_next (u32). */
export const VERDAUX_SIZE = 8;
export const VER_DEF_CURRENT = 1;
/** Elf64_Verneed: vn_version, vn_cnt (u16), vn_file, vn_aux, vn_next (u32). */
export const VERNEED_SIZE = 16;
/** Elf64_Vernaux: vna_hash (u32), vna_flags, vna_other (u16), vna_name, vna_next (u32). */
export const VERNAUX_SIZE = 16;
export const VER_NEED_CURRENT = 1;
export const VER_FLG_BASE = 1;
export const VER_NDX_LOCAL = 0;
export const VER_NDX_GLOBAL = 1;
export const VERSYM_HIDDEN = 0x8000;
