import type { ArchName } from '../../obj/model.js';
import { LinkError, hex } from '../../obj/LinkError.js';

/**
 * Relocations are handled in two layers (as lld's getRelExpr and wild's
 * relocation_from_raw do). An architecture maps each raw type to a generic
 * expression; the core reasons only about expressions (does this need a GOT
 * slot, is it TLS, may it be relaxed), computes the value with the ABI's own
 * names (S, A, P, G, GOT, TP), and hands it back to the architecture, which
 * only encodes bits, range-checked.
 */
export const enum RelExpr {
  /** R_*_NONE: nothing to do. */
  None,
  /** S + A */
  Abs,
  /** S + A - P */
  PC,
  /** A branch or call: S + A - P, through a thunk when out of range. */
  Branch,
  /** Page(S + A) - Page(P): AArch64 ADRP. */
  PagePC,
  /** GOT(S) + A - P: x86-64 GOTPCREL; may be relaxed to PC. */
  GotPC,
  /** Page(GOT(S) + A) - Page(P): AArch64 ADR_GOT_PAGE. */
  GotPagePC,
  /** GOT(S) + A, absolute: AArch64 LD64_GOT_LO12_NC keeps the low bits. */
  Got,
  /** GOT(S) + A - Page(GOT base): AArch64 LD64_GOTPAGE_LO15, against an adrp of _GLOBAL_OFFSET_TABLE_. */
  GotRelPage,
  /** S + A - TP: local-exec TLS. */
  TPRel,
  /** GOT slot holding S - TP, PC-relative: x86-64 GOTTPOFF (relaxed to TPRel in an executable). */
  GotTPRelPC,
  /** Page of the GOT slot holding S - TP: AArch64 ADR_GOTTPREL_PAGE21. */
  GotTPRelPagePC,
  /** The GOT slot holding S - TP, absolute: AArch64 LD64_GOTTPREL_LO12_NC. */
  GotTPRel,
  /** S + A - (start of the TLS segment): DTPOFF in debug info; in code after a relaxed local-dynamic sequence, the TP offset. */
  DTPRel,
  /** General-dynamic TLS (x86-64 TLSGD, AArch64 TLSDESC): relaxed to local-exec in an executable. */
  TlsGd,
  /** Local-dynamic TLS (x86-64 TLSLD): relaxed to reading the thread pointer in an executable. */
  TlsLd,
  /** Z + A: the symbol's size. */
  Size,
  /** S + A - ImageBase: a PE relative virtual address (COFF ADDR32NB). */
  ImageRel,
  /** S + A - (start of the output section holding S): COFF SECREL (TLS offsets, DWARF in PE). */
  SecRel,
  /** The 1-based index of the output section holding S: COFF SECTION (debug info). */
  SecIndex,
}

/**
 * The place a relocation is applied to, for messages. `describe` yields
 * `file:(section+0xoff)` as lld prints it; `symbol` is the target's name.
 */
export interface RelocSite {
  describe(): string;
  symbol(): string;
}

/** An architecture: the same small interface for every target (see x86_64.ts, aarch64.ts). */
export interface Arch {
  readonly name: ArchName;
  /** ELF e_machine. */
  readonly eMachine: number;
  /** Segments are aligned to this in memory (lld's -z max-page-size default). */
  readonly maxPageSize: number;
  /** Load address of a non-PIE executable's first segment. */
  readonly imageBase: number;
  /** Fill pattern for padding in code: a trap instruction, repeated. */
  readonly trapFill: Uint8Array;

  /** The generic expression for a raw type, or undefined if tslink does not support it. */
  relExpr(type: number): RelExpr | undefined;
  /** The ABI's name for a raw type (R_X86_64_PC32), for messages. */
  relName(type: number): string;
  /**
   * Encodes `val` into the place at `buf[off]`, range-checked. `P` is the
   * place's address (some encodings need it, e.g. for page arithmetic).
   */
  applyReloc(buf: Uint8Array, off: number, type: number, val: number, P: number, site: RelocSite): void;

  /**
   * Whether a GOT-indirect reference at `off` may be rewritten to address the
   * symbol directly (the symbol is a link-time constant). Decided while
   * scanning, before GOT slots are allocated; `data` is the input atom's bytes.
   */
  canRelaxGot(data: Uint8Array, off: number, type: number, addend: number): boolean;
  /** Writes the relaxed instruction and value for a reference canRelaxGot accepted. */
  applyRelaxedGot(buf: Uint8Array, off: number, type: number, val: number, P: number, site: RelocSite): void;
  /**
   * Rewrites an initial-exec TLS access to local-exec in an executable, where
   * the thread-pointer offset `val` is a link-time constant. Returns false if
   * the instruction sequence is not one it knows (the core then keeps a GOT slot).
   */
  canRelaxTlsIeToLe(data: Uint8Array, off: number, type: number): boolean;
  applyTlsIeToLe(buf: Uint8Array, off: number, type: number, val: number, site: RelocSite): void;

  /**
   * The thread-pointer-relative offset of a TLS symbol, given its offset from
   * the start of the TLS segment and the segment's memory size and alignment
   * (variant II on x86-64: TP at the end; variant I on AArch64: TP + 16).
   */
  tpOffset(offsetInTls: number, tlsMemSize: number, tlsAlign: number): number;
  /**
   * The bytes a general- or local-dynamic sequence spans around the place of
   * its first relocation; relaxation rewrites them whole, and any other
   * relocation inside them (the call to __tls_get_addr) is dropped.
   * Undefined where each relocation is relaxed on its own (AArch64 TLSDESC).
   */
  tlsSequence(type: number): { before: number; after: number } | undefined;
  /** Rewrites a general-dynamic access to local-exec; `val` is the TP offset of S + A. */
  applyTlsGdToLe(buf: Uint8Array, off: number, type: number, val: number, site: RelocSite): void;
  /** Rewrites a local-dynamic module-base computation to reading the thread pointer. */
  applyTlsLdToLe(buf: Uint8Array, off: number, type: number, site: RelocSite): void;

  // Calls to IFUNCs in a static executable go through a PLT entry that jumps
  // through a GOT slot; an IRELATIVE relocation, applied by the C library at
  // start-up, stores the resolver's answer in the slot.
  /** The dynamic relocation type R_*_IRELATIVE. */
  readonly irelativeType: number;
  readonly ipltEntrySize: number;
  /** Writes a PLT entry at buf[off] (address `at`) that jumps through the slot at `slot`. */
  writeIpltEntry(buf: Uint8Array, off: number, at: number, slot: number): void;

  // Dynamic linking (dynamic.ts): the dynamic relocation types, and the PLT
  // through which calls to shared-library functions go: a header that calls
  // the dynamic loader's resolver, then one entry per function that jumps
  // through its .got.plt slot.
  readonly dynRel: {
    relative: number; globDat: number; jumpSlot: number; copy: number;
    /** The 64-bit absolute type (R_X86_64_64, R_AARCH64_ABS64): in writable data it becomes a dynamic relocation. */
    abs64: number;
    tpoff64: number;
    dtpmod64: number;
    dtpoff64: number;
    /** R_AARCH64_TLSDESC; 0 where tslink does not use descriptors (x86-64). */
    tlsdesc: number;
  };
  /**
   * A general- or local-dynamic reference (or a TLS descriptor's) that is
   * not relaxed: in a shared library, or to a symbol another module defines.
   * Which GOT entry it uses (a module/offset pair, the module's pair, or a
   * descriptor; two slots each) and how the place's value follows from that
   * entry's address G (G + A - P, Page(G + A) - Page(P), the low bits of
   * G + A, or nothing: the call of a descriptor).
   */
  tlsDynamic(type: number): { got: 'gd' | 'ld' | 'desc'; expr: RelExpr } | undefined;
  /**
   * Whether a type uses only the low 12 bits of S + A (AArch64's *_ABS_LO12_NC,
   * paired with an ADRP): position-independent, as a PIE's base is page-aligned.
   */
  usesOnlyLowPageBits(type: number): boolean;
  readonly pltHeaderSize: number;
  readonly pltEntrySize: number;
  writePltHeader(buf: Uint8Array, off: number, plt: number, gotPlt: number): void;
  /** Entry `index` at buf[off] (address `at`) jumps through the slot at `slot`; `plt` is the header's address. */
  writePltEntry(buf: Uint8Array, off: number, at: number, slot: number, index: number, plt: number): void;
  /** What a .got.plt slot holds until the dynamic loader binds it (lazy binding). */
  lazySlotValue(entry: number, plt: number): number;
  /** Whether .got.plt[0] holds the address of _DYNAMIC (x86-64) or 0 (AArch64). */
  readonly gotPltHoldsDynamic: boolean;

  // The move primitive (DESIGN.md section 4) and range-extension thunks.
  /** Bytes an island at an atom's old address needs. */
  readonly islandSize: number;
  /** Writes a jump from `from` to `to` at buf[off]. */
  writeIsland(buf: Uint8Array, off: number, from: number, to: number): void;
  /** Reach of a direct branch (+-), or Infinity where no thunks are needed. */
  readonly branchRange: number;
  readonly thunkSize: number;
  /** Writes a range-extension thunk at buf[off] (address `at`) that jumps to `to`. */
  writeThunk(buf: Uint8Array, off: number, at: number, to: number): void;
}

/** 2 ** i for i in 0..64: the range checks below run for every relocation, and `**` of a variable calls pow. */
const POW2 = Float64Array.from({ length: 65 }, (_, i) => 2 ** i);

/** The error lld gives for a value that does not fit its field. */
export function checkRange(site: RelocSite, name: string, val: number, bits: number, signed: boolean): void {
  const min = signed ? -POW2[bits - 1] : 0;
  const max = signed ? POW2[bits - 1] - 1 : POW2[bits] - 1;
  if (val < min || val > max) {
    throw new LinkError(
      `${site.describe()}: relocation ${name} out of range: ${val} is not in [${min}, ${max}]; references '${site.symbol()}'`,
    );
  }
}

/** A field that accepts both signed and unsigned readings of `bits` bits (R_X86_64_32 is not one; ABS32 on AArch64 is). */
export function checkIntN(site: RelocSite, name: string, val: number, bits: number): void {
  const min = -POW2[bits - 1];
  const max = POW2[bits] - 1;
  if (val < min || val > max) {
    throw new LinkError(
      `${site.describe()}: relocation ${name} out of range: ${val} is not in [${min}, ${max}]; references '${site.symbol()}'`,
    );
  }
}

export function checkAlignment(site: RelocSite, name: string, val: number, align: number): void {
  if (val % align !== 0) {
    throw new LinkError(
      `${site.describe()}: improper alignment for relocation ${name}: ${hex(val)} is not aligned to ${align} bytes`,
    );
  }
}

/** Little-endian stores on a Uint8Array (values already range-checked). */
export function write32(buf: Uint8Array, off: number, v: number): void {
  buf[off] = v & 0xff;
  buf[off + 1] = (v >>> 8) & 0xff;
  buf[off + 2] = (v >>> 16) & 0xff;
  buf[off + 3] = (v >>> 24) & 0xff;
}
export function read32(buf: Uint8Array, off: number): number {
  return (buf[off] | (buf[off + 1] << 8) | (buf[off + 2] << 16) | (buf[off + 3] << 24)) >>> 0;
}
export function write16(buf: Uint8Array, off: number, v: number): void {
  buf[off] = v & 0xff;
  buf[off + 1] = (v >>> 8) & 0xff;
}
/** Stores the low 64 bits of `v` (negative values in two's complement). */
export function write64(buf: Uint8Array, off: number, v: number): void {
  // Two halves by division, exact for |v| < 2^53; no BigInt per store (a large link makes millions).
  const hi = Math.floor(v / 0x100000000);
  write32(buf, off, v - hi * 0x100000000);
  write32(buf, off + 4, hi);
}
