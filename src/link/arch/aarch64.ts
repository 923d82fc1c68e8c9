/**
 * The AArch64 backend. The spec is ARM IHI 0056, "ELF for the Arm 64-bit
 * Architecture (AAELF64)", chapter "Relocation" (the types, their
 * expressions and overflow checks); the instruction encodings are from the
 * Arm ARM (DDI 0487).
 *
 * The quirks that matter to a linker:
 *
 * - Instructions are 4 bytes and 4-aligned, and an immediate is scattered over
 *   fixed bit fields of the word, so most relocations patch a field and leave
 *   the opcode and registers alone. In practice relocations are RELA, so
 *   the field's contents in the input are ignored (cleared before writing,
 *   which also makes re-applying a relocation in place safe).
 * - Addresses are built in two halves. ADRP yields the 4 KiB page of a target,
 *   PC-relative (Page(S+A) - Page(P), +-4 GiB), and an ADD or a load/store
 *   supplies the low 12 bits (an absolute `_LO12_NC` relocation). A load or
 *   store scales its offset by the access size, so the low 12 bits must be
 *   aligned to it. The GOT and TLS initial-exec forms follow the same pattern.
 * - The `_NC` ("no check") variants skip the overflow check: they carry a part
 *   of a value whose other part is checked elsewhere.
 * - MOVZ/MOVK with the MOVW_* relocations build a value 16 bits at a time; the
 *   `Gn` group selects bits [16n, 16n+16).
 * - B and BL reach +-128 MiB; beyond that the linker must route the branch
 *   through a veneer (a thunk), which may clobber x16/x17 (IP0/IP1) by the
 *   procedure call standard (AAPCS64).
 * - TLS uses variant I: the thread pointer (TPIDR_EL0) points at a 16-byte
 *   thread control block, and the executable's TLS block follows it, aligned
 *   to the segment's alignment. Thread-pointer offsets are therefore positive.
 * - Type 256 is a withdrawn code that the ABI says to treat as R_AARCH64_NONE.
 */
import { LinkError, hex } from '../../obj/LinkError.js';
import {
  type Arch,
  type RelocSite,
  RelExpr,
  checkAlignment,
  checkIntN,
  checkRange,
  read32,
  write16,
  write32,
  write64,
} from './Arch.js';
import { alignTo } from '../align.js';

/** AAELF64 relocation codes (the numbers match glibc's elf.h). */
export const enum RelocType {
  R_AARCH64_NONE = 0,
  /** Withdrawn; treated as R_AARCH64_NONE. */
  R_AARCH64_NONE_WITHDRAWN = 256,

  R_AARCH64_ABS64 = 257,
  R_AARCH64_ABS32 = 258,
  R_AARCH64_ABS16 = 259,
  R_AARCH64_PREL64 = 260,
  R_AARCH64_PREL32 = 261,
  R_AARCH64_PREL16 = 262,

  R_AARCH64_MOVW_UABS_G0 = 263,
  R_AARCH64_MOVW_UABS_G0_NC = 264,
  R_AARCH64_MOVW_UABS_G1 = 265,
  R_AARCH64_MOVW_UABS_G1_NC = 266,
  R_AARCH64_MOVW_UABS_G2 = 267,
  R_AARCH64_MOVW_UABS_G2_NC = 268,
  R_AARCH64_MOVW_UABS_G3 = 269,
  R_AARCH64_MOVW_SABS_G0 = 270,
  R_AARCH64_MOVW_SABS_G1 = 271,
  R_AARCH64_MOVW_SABS_G2 = 272,

  R_AARCH64_LD_PREL_LO19 = 273,
  R_AARCH64_ADR_PREL_LO21 = 274,
  R_AARCH64_ADR_PREL_PG_HI21 = 275,
  R_AARCH64_ADR_PREL_PG_HI21_NC = 276,
  R_AARCH64_ADD_ABS_LO12_NC = 277,
  R_AARCH64_LDST8_ABS_LO12_NC = 278,
  R_AARCH64_TSTBR14 = 279,
  R_AARCH64_CONDBR19 = 280,
  R_AARCH64_JUMP26 = 282,
  R_AARCH64_CALL26 = 283,
  R_AARCH64_LDST16_ABS_LO12_NC = 284,
  R_AARCH64_LDST32_ABS_LO12_NC = 285,
  R_AARCH64_LDST64_ABS_LO12_NC = 286,
  R_AARCH64_LDST128_ABS_LO12_NC = 299,

  R_AARCH64_GOT_LD_PREL19 = 309,
  R_AARCH64_ADR_GOT_PAGE = 311,
  R_AARCH64_LD64_GOT_LO12_NC = 312,
  R_AARCH64_LD64_GOTPAGE_LO15 = 313,

  R_AARCH64_TLSGD_ADR_PAGE21 = 513,
  R_AARCH64_TLSGD_ADD_LO12_NC = 514,
  R_AARCH64_TLSLD_ADR_PAGE21 = 518,
  R_AARCH64_TLSLD_ADD_LO12_NC = 519,
  R_AARCH64_TLSLD_ADD_DTPREL_HI12 = 528,
  R_AARCH64_TLSLD_ADD_DTPREL_LO12 = 529,
  R_AARCH64_TLSLD_ADD_DTPREL_LO12_NC = 530,

  R_AARCH64_TLSIE_ADR_GOTTPREL_PAGE21 = 541,
  R_AARCH64_TLSIE_LD64_GOTTPREL_LO12_NC = 542,

  R_AARCH64_TLSLE_MOVW_TPREL_G2 = 544,
  R_AARCH64_TLSLE_MOVW_TPREL_G1 = 545,
  R_AARCH64_TLSLE_MOVW_TPREL_G1_NC = 546,
  R_AARCH64_TLSLE_MOVW_TPREL_G0 = 547,
  R_AARCH64_TLSLE_MOVW_TPREL_G0_NC = 548,
  R_AARCH64_TLSLE_ADD_TPREL_HI12 = 549,
  R_AARCH64_TLSLE_ADD_TPREL_LO12 = 550,
  R_AARCH64_TLSLE_ADD_TPREL_LO12_NC = 551,
  R_AARCH64_TLSLE_LDST8_TPREL_LO12 = 552,
  R_AARCH64_TLSLE_LDST8_TPREL_LO12_NC = 553,
  R_AARCH64_TLSLE_LDST16_TPREL_LO12 = 554,
  R_AARCH64_TLSLE_LDST16_TPREL_LO12_NC = 555,
  R_AARCH64_TLSLE_LDST32_TPREL_LO12 = 556,
  R_AARCH64_TLSLE_LDST32_TPREL_LO12_NC = 557,
  R_AARCH64_TLSLE_LDST64_TPREL_LO12 = 558,
  R_AARCH64_TLSLE_LDST64_TPREL_LO12_NC = 559,

  R_AARCH64_TLSDESC_ADR_PAGE21 = 562,
  R_AARCH64_TLSDESC_LD64_LO12 = 563,
  R_AARCH64_TLSDESC_ADD_LO12 = 564,
  R_AARCH64_TLSDESC_CALL = 569,

  R_AARCH64_TLSLE_LDST128_TPREL_LO12 = 570,
  R_AARCH64_TLSLE_LDST128_TPREL_LO12_NC = 571,

  // Dynamic relocations: never valid in a relocatable input.
  R_AARCH64_COPY = 1024,
  R_AARCH64_GLOB_DAT = 1025,
  R_AARCH64_JUMP_SLOT = 1026,
  R_AARCH64_RELATIVE = 1027,
  R_AARCH64_TLS_DTPMOD = 1028,
  R_AARCH64_TLS_DTPREL = 1029,
  R_AARCH64_TLS_TPREL = 1030,
  R_AARCH64_TLSDESC = 1031,
  R_AARCH64_IRELATIVE = 1032,
}

/** The numbers of the AArch64 ABI the code below is written in terms of. */
const Traits = {
  /** ELF e_machine: EM_AARCH64. */
  eMachine: 183,
  /** lld's default -z max-page-size on AArch64 (kernels may use 64 KiB pages). */
  maxPageSize: 65536,
  imageBase: 0x200000,
  /** ADRP's granule: Page(x) = x & ~0xfff, whatever the kernel's page size. */
  adrpPage: 4096,
  /** B and BL: a signed 26-bit word offset, so +-128 MiB. */
  branchRange: 2 ** 27,
  /** Variant I TLS: TP points at a TCB of two pointers preceding the TLS block. */
  tcbSize: 16,
  /** Islands and thunks are three instructions (see writePageJump). */
  islandSize: 12,
  thunkSize: 12,
} as const;

/**
 * Instruction templates (immediate fields zero). Islands and thunks use x16,
 * IP0, the register AAPCS64 leaves to veneers.
 */
const enum Insn {
  /** brk #0 */
  BRK_0 = 0xd4200000,
  /** b <imm26> */
  B = 0x14000000,
  /** adrp x16, 0 */
  ADRP_X16 = 0x90000010,
  /** add x16, x16, #0 */
  ADD_X16_X16 = 0x91000210,
  /** br x16 */
  BR_X16 = 0xd61f0200,
  /** ldr x17, [x16, #0] */
  LDR_X17_X16 = 0xf9400211,
  /** br x17 */
  BR_X17 = 0xd61f0220,
  NOP = 0xd503201f,
  /** stp x16, x30, [sp, #-16]! */
  STP_X16_X30_PRE = 0xa9bf7bf0,
  /** movz xd, #0, lsl #16 */
  MOVZ_X_LSL16 = 0xd2a00000,
  /** movk xd, #0 */
  MOVK_X = 0xf2800000,
  /** Mask and value that identify ADRP (any register). */
  ADRP_MASK = 0x9f000000,
  ADRP = 0x90000000,
  /** Mask and value that identify `ldr xt, [xn, #imm]` (unsigned offset). */
  LDR_X_UIMM_MASK = 0xffc00000,
  LDR_X_UIMM = 0xf9400000,
}

interface RelocInfo {
  readonly name: string;
  /** undefined: known to the ABI, not supported by tslink. */
  readonly expr: RelExpr | undefined;
}

const RELOCS: ReadonlyMap<number, RelocInfo> = new Map<number, RelocInfo>([
  [RelocType.R_AARCH64_NONE, { name: 'R_AARCH64_NONE', expr: RelExpr.None }],
  [RelocType.R_AARCH64_NONE_WITHDRAWN, { name: 'R_AARCH64_NONE', expr: RelExpr.None }],

  [RelocType.R_AARCH64_ABS64, { name: 'R_AARCH64_ABS64', expr: RelExpr.Abs }],
  [RelocType.R_AARCH64_ABS32, { name: 'R_AARCH64_ABS32', expr: RelExpr.Abs }],
  [RelocType.R_AARCH64_ABS16, { name: 'R_AARCH64_ABS16', expr: RelExpr.Abs }],
  [RelocType.R_AARCH64_PREL64, { name: 'R_AARCH64_PREL64', expr: RelExpr.PC }],
  [RelocType.R_AARCH64_PREL32, { name: 'R_AARCH64_PREL32', expr: RelExpr.PC }],
  [RelocType.R_AARCH64_PREL16, { name: 'R_AARCH64_PREL16', expr: RelExpr.PC }],

  [RelocType.R_AARCH64_MOVW_UABS_G0, { name: 'R_AARCH64_MOVW_UABS_G0', expr: RelExpr.Abs }],
  [RelocType.R_AARCH64_MOVW_UABS_G0_NC, { name: 'R_AARCH64_MOVW_UABS_G0_NC', expr: RelExpr.Abs }],
  [RelocType.R_AARCH64_MOVW_UABS_G1, { name: 'R_AARCH64_MOVW_UABS_G1', expr: RelExpr.Abs }],
  [RelocType.R_AARCH64_MOVW_UABS_G1_NC, { name: 'R_AARCH64_MOVW_UABS_G1_NC', expr: RelExpr.Abs }],
  [RelocType.R_AARCH64_MOVW_UABS_G2, { name: 'R_AARCH64_MOVW_UABS_G2', expr: RelExpr.Abs }],
  [RelocType.R_AARCH64_MOVW_UABS_G2_NC, { name: 'R_AARCH64_MOVW_UABS_G2_NC', expr: RelExpr.Abs }],
  [RelocType.R_AARCH64_MOVW_UABS_G3, { name: 'R_AARCH64_MOVW_UABS_G3', expr: RelExpr.Abs }],
  [RelocType.R_AARCH64_MOVW_SABS_G0, { name: 'R_AARCH64_MOVW_SABS_G0', expr: undefined }],
  [RelocType.R_AARCH64_MOVW_SABS_G1, { name: 'R_AARCH64_MOVW_SABS_G1', expr: undefined }],
  [RelocType.R_AARCH64_MOVW_SABS_G2, { name: 'R_AARCH64_MOVW_SABS_G2', expr: undefined }],

  [RelocType.R_AARCH64_LD_PREL_LO19, { name: 'R_AARCH64_LD_PREL_LO19', expr: undefined }],
  [RelocType.R_AARCH64_ADR_PREL_LO21, { name: 'R_AARCH64_ADR_PREL_LO21', expr: RelExpr.PC }],
  [RelocType.R_AARCH64_ADR_PREL_PG_HI21, { name: 'R_AARCH64_ADR_PREL_PG_HI21', expr: RelExpr.PagePC }],
  [RelocType.R_AARCH64_ADR_PREL_PG_HI21_NC, { name: 'R_AARCH64_ADR_PREL_PG_HI21_NC', expr: RelExpr.PagePC }],
  [RelocType.R_AARCH64_ADD_ABS_LO12_NC, { name: 'R_AARCH64_ADD_ABS_LO12_NC', expr: RelExpr.Abs }],
  [RelocType.R_AARCH64_LDST8_ABS_LO12_NC, { name: 'R_AARCH64_LDST8_ABS_LO12_NC', expr: RelExpr.Abs }],
  [RelocType.R_AARCH64_TSTBR14, { name: 'R_AARCH64_TSTBR14', expr: RelExpr.PC }],
  [RelocType.R_AARCH64_CONDBR19, { name: 'R_AARCH64_CONDBR19', expr: RelExpr.PC }],
  [RelocType.R_AARCH64_JUMP26, { name: 'R_AARCH64_JUMP26', expr: RelExpr.Branch }],
  [RelocType.R_AARCH64_CALL26, { name: 'R_AARCH64_CALL26', expr: RelExpr.Branch }],
  [RelocType.R_AARCH64_LDST16_ABS_LO12_NC, { name: 'R_AARCH64_LDST16_ABS_LO12_NC', expr: RelExpr.Abs }],
  [RelocType.R_AARCH64_LDST32_ABS_LO12_NC, { name: 'R_AARCH64_LDST32_ABS_LO12_NC', expr: RelExpr.Abs }],
  [RelocType.R_AARCH64_LDST64_ABS_LO12_NC, { name: 'R_AARCH64_LDST64_ABS_LO12_NC', expr: RelExpr.Abs }],
  [RelocType.R_AARCH64_LDST128_ABS_LO12_NC, { name: 'R_AARCH64_LDST128_ABS_LO12_NC', expr: RelExpr.Abs }],

  [RelocType.R_AARCH64_GOT_LD_PREL19, { name: 'R_AARCH64_GOT_LD_PREL19', expr: undefined }],
  [RelocType.R_AARCH64_ADR_GOT_PAGE, { name: 'R_AARCH64_ADR_GOT_PAGE', expr: RelExpr.GotPagePC }],
  [RelocType.R_AARCH64_LD64_GOT_LO12_NC, { name: 'R_AARCH64_LD64_GOT_LO12_NC', expr: RelExpr.Got }],
  [RelocType.R_AARCH64_LD64_GOTPAGE_LO15, { name: 'R_AARCH64_LD64_GOTPAGE_LO15', expr: RelExpr.GotRelPage }],

  [RelocType.R_AARCH64_TLSGD_ADR_PAGE21, { name: 'R_AARCH64_TLSGD_ADR_PAGE21', expr: undefined }],
  [RelocType.R_AARCH64_TLSGD_ADD_LO12_NC, { name: 'R_AARCH64_TLSGD_ADD_LO12_NC', expr: undefined }],
  [RelocType.R_AARCH64_TLSLD_ADR_PAGE21, { name: 'R_AARCH64_TLSLD_ADR_PAGE21', expr: undefined }],
  [RelocType.R_AARCH64_TLSLD_ADD_LO12_NC, { name: 'R_AARCH64_TLSLD_ADD_LO12_NC', expr: undefined }],
  [RelocType.R_AARCH64_TLSLD_ADD_DTPREL_HI12, { name: 'R_AARCH64_TLSLD_ADD_DTPREL_HI12', expr: undefined }],
  [RelocType.R_AARCH64_TLSLD_ADD_DTPREL_LO12, { name: 'R_AARCH64_TLSLD_ADD_DTPREL_LO12', expr: undefined }],
  [RelocType.R_AARCH64_TLSLD_ADD_DTPREL_LO12_NC, { name: 'R_AARCH64_TLSLD_ADD_DTPREL_LO12_NC', expr: undefined }],

  [RelocType.R_AARCH64_TLSIE_ADR_GOTTPREL_PAGE21, { name: 'R_AARCH64_TLSIE_ADR_GOTTPREL_PAGE21', expr: RelExpr.GotTPRelPagePC }],
  [RelocType.R_AARCH64_TLSIE_LD64_GOTTPREL_LO12_NC, { name: 'R_AARCH64_TLSIE_LD64_GOTTPREL_LO12_NC', expr: RelExpr.GotTPRel }],

  [RelocType.R_AARCH64_TLSLE_MOVW_TPREL_G2, { name: 'R_AARCH64_TLSLE_MOVW_TPREL_G2', expr: RelExpr.TPRel }],
  [RelocType.R_AARCH64_TLSLE_MOVW_TPREL_G1, { name: 'R_AARCH64_TLSLE_MOVW_TPREL_G1', expr: RelExpr.TPRel }],
  [RelocType.R_AARCH64_TLSLE_MOVW_TPREL_G1_NC, { name: 'R_AARCH64_TLSLE_MOVW_TPREL_G1_NC', expr: RelExpr.TPRel }],
  [RelocType.R_AARCH64_TLSLE_MOVW_TPREL_G0, { name: 'R_AARCH64_TLSLE_MOVW_TPREL_G0', expr: RelExpr.TPRel }],
  [RelocType.R_AARCH64_TLSLE_MOVW_TPREL_G0_NC, { name: 'R_AARCH64_TLSLE_MOVW_TPREL_G0_NC', expr: RelExpr.TPRel }],
  [RelocType.R_AARCH64_TLSLE_ADD_TPREL_HI12, { name: 'R_AARCH64_TLSLE_ADD_TPREL_HI12', expr: RelExpr.TPRel }],
  [RelocType.R_AARCH64_TLSLE_ADD_TPREL_LO12, { name: 'R_AARCH64_TLSLE_ADD_TPREL_LO12', expr: RelExpr.TPRel }],
  [RelocType.R_AARCH64_TLSLE_ADD_TPREL_LO12_NC, { name: 'R_AARCH64_TLSLE_ADD_TPREL_LO12_NC', expr: RelExpr.TPRel }],
  [RelocType.R_AARCH64_TLSLE_LDST8_TPREL_LO12, { name: 'R_AARCH64_TLSLE_LDST8_TPREL_LO12', expr: RelExpr.TPRel }],
  [RelocType.R_AARCH64_TLSLE_LDST8_TPREL_LO12_NC, { name: 'R_AARCH64_TLSLE_LDST8_TPREL_LO12_NC', expr: RelExpr.TPRel }],
  [RelocType.R_AARCH64_TLSLE_LDST16_TPREL_LO12, { name: 'R_AARCH64_TLSLE_LDST16_TPREL_LO12', expr: RelExpr.TPRel }],
  [RelocType.R_AARCH64_TLSLE_LDST16_TPREL_LO12_NC, { name: 'R_AARCH64_TLSLE_LDST16_TPREL_LO12_NC', expr: RelExpr.TPRel }],
  [RelocType.R_AARCH64_TLSLE_LDST32_TPREL_LO12, { name: 'R_AARCH64_TLSLE_LDST32_TPREL_LO12', expr: RelExpr.TPRel }],
  [RelocType.R_AARCH64_TLSLE_LDST32_TPREL_LO12_NC, { name: 'R_AARCH64_TLSLE_LDST32_TPREL_LO12_NC', expr: RelExpr.TPRel }],
  [RelocType.R_AARCH64_TLSLE_LDST64_TPREL_LO12, { name: 'R_AARCH64_TLSLE_LDST64_TPREL_LO12', expr: RelExpr.TPRel }],
  [RelocType.R_AARCH64_TLSLE_LDST64_TPREL_LO12_NC, { name: 'R_AARCH64_TLSLE_LDST64_TPREL_LO12_NC', expr: RelExpr.TPRel }],
  [RelocType.R_AARCH64_TLSLE_LDST128_TPREL_LO12, { name: 'R_AARCH64_TLSLE_LDST128_TPREL_LO12', expr: RelExpr.TPRel }],
  [RelocType.R_AARCH64_TLSLE_LDST128_TPREL_LO12_NC, { name: 'R_AARCH64_TLSLE_LDST128_TPREL_LO12_NC', expr: RelExpr.TPRel }],

  [RelocType.R_AARCH64_TLSDESC_ADR_PAGE21, { name: 'R_AARCH64_TLSDESC_ADR_PAGE21', expr: RelExpr.TlsGd }],
  [RelocType.R_AARCH64_TLSDESC_LD64_LO12, { name: 'R_AARCH64_TLSDESC_LD64_LO12', expr: RelExpr.TlsGd }],
  [RelocType.R_AARCH64_TLSDESC_ADD_LO12, { name: 'R_AARCH64_TLSDESC_ADD_LO12', expr: RelExpr.TlsGd }],
  [RelocType.R_AARCH64_TLSDESC_CALL, { name: 'R_AARCH64_TLSDESC_CALL', expr: RelExpr.TlsGd }],

  [RelocType.R_AARCH64_COPY, { name: 'R_AARCH64_COPY', expr: undefined }],
  [RelocType.R_AARCH64_GLOB_DAT, { name: 'R_AARCH64_GLOB_DAT', expr: undefined }],
  [RelocType.R_AARCH64_JUMP_SLOT, { name: 'R_AARCH64_JUMP_SLOT', expr: undefined }],
  [RelocType.R_AARCH64_RELATIVE, { name: 'R_AARCH64_RELATIVE', expr: undefined }],
  [RelocType.R_AARCH64_TLS_DTPMOD, { name: 'R_AARCH64_TLS_DTPMOD', expr: undefined }],
  [RelocType.R_AARCH64_TLS_DTPREL, { name: 'R_AARCH64_TLS_DTPREL', expr: undefined }],
  [RelocType.R_AARCH64_TLS_TPREL, { name: 'R_AARCH64_TLS_TPREL', expr: undefined }],
  [RelocType.R_AARCH64_TLSDESC, { name: 'R_AARCH64_TLSDESC', expr: undefined }],
  [RelocType.R_AARCH64_IRELATIVE, { name: 'R_AARCH64_IRELATIVE', expr: undefined }],
]);

function relName(type: number): string {
  return RELOCS.get(type)?.name ?? `unknown relocation (${type})`;
}

/**
 * Bits [lo, lo + width) of `v` read as a two's-complement integer, for any
 * safe integer (negative, or beyond 2^32, where JS bit operators would
 * truncate). width <= 32.
 */
export function bitsOf(v: number, lo: number, width: number): number {
  const m = 2 ** width;
  const r = Math.floor(v / 2 ** lo) % m;
  return r < 0 ? r + m : r;
}

/** Replaces the `width`-bit field at bit `at` of the instruction at buf[off]. */
export function setField(buf: Uint8Array, off: number, at: number, width: number, field: number): void {
  const mask = (2 ** width - 1) * 2 ** at;
  write32(buf, off, ((read32(buf, off) & ~mask) | (field << at)) >>> 0);
}

/** ADR and ADRP: a 21-bit immediate split into immlo (bits 29-30) and immhi (bits 5-23). */
export function setAdrImm(buf: Uint8Array, off: number, imm21: number): void {
  setField(buf, off, 29, 2, imm21 & 3);
  setField(buf, off, 5, 19, imm21 >>> 2);
}

/** ADRP and friends: `val` is a page delta; the instruction holds val >> 12. */
export function applyAdrp(buf: Uint8Array, off: number, val: number): void {
  setAdrImm(buf, off, bitsOf(val, 12, 21));
}

/** ADD (immediate): imm12 at bits 10-21. */
export function applyAdd12(buf: Uint8Array, off: number, imm12: number): void {
  setField(buf, off, 10, 12, imm12);
}

/**
 * A load or store with an unsigned 12-bit offset scaled by the access size
 * 2^shift: the low 12 bits of `val` must be a multiple of it.
 */
function applyLdSt(buf: Uint8Array, off: number, val: number, shift: number, site: RelocSite, name: string): void {
  const lo12 = bitsOf(val, 0, 12);
  checkAlignment(site, name, lo12, 2 ** shift);
  setField(buf, off, 10, 12, lo12 >>> shift);
}

/** MOVZ/MOVK/MOVN: imm16 at bits 5-20 takes bits [16 * group, 16 * group + 16) of `val`. */
function applyMovw(buf: Uint8Array, off: number, val: number, group: number): void {
  setField(buf, off, 5, 16, bitsOf(val, 16 * group, 16));
}

/**
 * A checked TLSLE_MOVW_TPREL_Gn sits on a MOVZ or MOVN. The ABI lets the
 * linker pick MOVN for a negative value, but local-exec offsets are always
 * positive in variant I (the block follows the TCB), so the value is checked
 * as unsigned and the instruction made a MOVZ (opc, bits 29-30, = 0b10).
 */
function applyTprelMovz(buf: Uint8Array, off: number, val: number, group: number, site: RelocSite, name: string): void {
  checkRange(site, name, val, 16 * (group + 1), false);
  setField(buf, off, 29, 2, 0b10);
  applyMovw(buf, off, val, group);
}

/** B and BL: imm26 is a word offset. */
function encodeB(delta: number): number {
  return (Insn.B | bitsOf(delta, 2, 26)) >>> 0;
}

function inBranchRange(delta: number): boolean {
  return delta % 4 === 0 && delta >= -Traits.branchRange && delta < Traits.branchRange;
}

function page(x: number): number {
  return Math.floor(x / Traits.adrpPage) * Traits.adrpPage;
}

/**
 * `adrp x16, to; add x16, x16, :lo12:to; br x16` at address `at`: reaches any
 * target within +-4 GiB of `at`, and clobbers only IP0.
 */
function writePageJump(buf: Uint8Array, off: number, at: number, to: number): void {
  const delta = page(to) - page(at);
  if (delta < -(2 ** 32) || delta >= 2 ** 32) {
    throw new LinkError(`aarch64: a jump at ${hex(at)} cannot reach ${hex(to)} (more than 4 GiB away)`);
  }
  write32(buf, off, Insn.ADRP_X16);
  applyAdrp(buf, off, delta);
  write32(buf, off + 4, Insn.ADD_X16_X16);
  applyAdd12(buf, off + 4, bitsOf(to, 0, 12));
  write32(buf, off + 8, Insn.BR_X16);
}

/** `adrp x16, slot; ldr x17, [x16, :lo12:slot]; add x16, x16, :lo12:slot; br x17` at address `at`: a PLT entry's jump. */
function writeSlotJump(buf: Uint8Array, off: number, at: number, slot: number): void {
  write32(buf, off, Insn.ADRP_X16);
  applyAdrp(buf, off, page(slot) - page(at));
  write32(buf, off + 4, Insn.LDR_X17_X16 | ((bitsOf(slot, 0, 12) >>> 3) << 10));
  write32(buf, off + 8, Insn.ADD_X16_X16);
  applyAdd12(buf, off + 8, bitsOf(slot, 0, 12));
  write32(buf, off + 12, Insn.BR_X17);
}

/** The *_ABS_LO12_NC types: they take the low 12 bits of an address whose page an ADRP supplies. */
const LOW_PAGE_BITS: ReadonlySet<number> = new Set([
  RelocType.R_AARCH64_ADD_ABS_LO12_NC, RelocType.R_AARCH64_LDST8_ABS_LO12_NC, RelocType.R_AARCH64_LDST16_ABS_LO12_NC,
  RelocType.R_AARCH64_LDST32_ABS_LO12_NC, RelocType.R_AARCH64_LDST64_ABS_LO12_NC, RelocType.R_AARCH64_LDST128_ABS_LO12_NC,
]);

function applyReloc(buf: Uint8Array, off: number, type: number, val: number, _P: number, site: RelocSite): void {
  const name = relName(type);
  switch (type) {
    case RelocType.R_AARCH64_NONE:
    case RelocType.R_AARCH64_NONE_WITHDRAWN:
      return;

    // Data. The ABI accepts both signed and unsigned readings of 16 and 32
    // bits for both the absolute and the PC-relative forms.
    case RelocType.R_AARCH64_ABS64:
    case RelocType.R_AARCH64_PREL64:
      write64(buf, off, val);
      return;
    case RelocType.R_AARCH64_ABS32:
    case RelocType.R_AARCH64_PREL32:
      checkIntN(site, name, val, 32);
      write32(buf, off, val);
      return;
    case RelocType.R_AARCH64_ABS16:
    case RelocType.R_AARCH64_PREL16:
      checkIntN(site, name, val, 16);
      write16(buf, off, val);
      return;

    // PC-relative branches: a word offset in a signed field.
    case RelocType.R_AARCH64_CALL26:
    case RelocType.R_AARCH64_JUMP26:
      checkRange(site, name, val, 28, true);
      checkAlignment(site, name, val, 4);
      setField(buf, off, 0, 26, bitsOf(val, 2, 26));
      return;
    case RelocType.R_AARCH64_CONDBR19:
      checkRange(site, name, val, 21, true);
      checkAlignment(site, name, val, 4);
      setField(buf, off, 5, 19, bitsOf(val, 2, 19));
      return;
    case RelocType.R_AARCH64_TSTBR14:
      checkRange(site, name, val, 16, true);
      checkAlignment(site, name, val, 4);
      setField(buf, off, 5, 14, bitsOf(val, 2, 14));
      return;

    // ADR and ADRP.
    case RelocType.R_AARCH64_ADR_PREL_LO21:
      checkRange(site, name, val, 21, true);
      setAdrImm(buf, off, bitsOf(val, 0, 21));
      return;
    case RelocType.R_AARCH64_ADR_PREL_PG_HI21:
    case RelocType.R_AARCH64_ADR_GOT_PAGE:
    case RelocType.R_AARCH64_TLSIE_ADR_GOTTPREL_PAGE21:
    case RelocType.R_AARCH64_TLSDESC_ADR_PAGE21:
      checkRange(site, name, val, 33, true);
      applyAdrp(buf, off, val);
      return;
    case RelocType.R_AARCH64_ADR_PREL_PG_HI21_NC:
      applyAdrp(buf, off, val);
      return;

    // The low 12 bits, for ADD and for scaled loads and stores.
    case RelocType.R_AARCH64_ADD_ABS_LO12_NC:
    case RelocType.R_AARCH64_TLSLE_ADD_TPREL_LO12_NC:
    case RelocType.R_AARCH64_TLSDESC_ADD_LO12:
      applyAdd12(buf, off, bitsOf(val, 0, 12));
      return;
    case RelocType.R_AARCH64_TLSDESC_CALL:
      return;
    case RelocType.R_AARCH64_TLSLE_ADD_TPREL_LO12:
      checkRange(site, name, val, 12, false);
      applyAdd12(buf, off, val);
      return;
    case RelocType.R_AARCH64_TLSLE_ADD_TPREL_HI12:
      checkRange(site, name, val, 24, false);
      applyAdd12(buf, off, bitsOf(val, 12, 12));
      return;
    case RelocType.R_AARCH64_LDST8_ABS_LO12_NC:
    case RelocType.R_AARCH64_TLSLE_LDST8_TPREL_LO12_NC:
      applyLdSt(buf, off, val, 0, site, name);
      return;
    case RelocType.R_AARCH64_LDST16_ABS_LO12_NC:
    case RelocType.R_AARCH64_TLSLE_LDST16_TPREL_LO12_NC:
      applyLdSt(buf, off, val, 1, site, name);
      return;
    case RelocType.R_AARCH64_LDST32_ABS_LO12_NC:
    case RelocType.R_AARCH64_TLSLE_LDST32_TPREL_LO12_NC:
      applyLdSt(buf, off, val, 2, site, name);
      return;
    case RelocType.R_AARCH64_LDST64_ABS_LO12_NC:
    case RelocType.R_AARCH64_TLSLE_LDST64_TPREL_LO12_NC:
    case RelocType.R_AARCH64_LD64_GOT_LO12_NC:
    case RelocType.R_AARCH64_TLSIE_LD64_GOTTPREL_LO12_NC:
    case RelocType.R_AARCH64_TLSDESC_LD64_LO12:
      applyLdSt(buf, off, val, 3, site, name);
      return;
    // ldr xt, [x, #off] where x holds the page of _GLOBAL_OFFSET_TABLE_: a 15-bit offset, scaled by 8.
    case RelocType.R_AARCH64_LD64_GOTPAGE_LO15:
      checkRange(site, name, val, 15, false);
      checkAlignment(site, name, val, 8);
      setField(buf, off, 10, 12, val / 8);
      return;
    case RelocType.R_AARCH64_LDST128_ABS_LO12_NC:
    case RelocType.R_AARCH64_TLSLE_LDST128_TPREL_LO12_NC:
      applyLdSt(buf, off, val, 4, site, name);
      return;
    // The checked local-exec forms: the whole offset must fit the 12 bits.
    case RelocType.R_AARCH64_TLSLE_LDST8_TPREL_LO12:
      checkRange(site, name, val, 12, false);
      applyLdSt(buf, off, val, 0, site, name);
      return;
    case RelocType.R_AARCH64_TLSLE_LDST16_TPREL_LO12:
      checkRange(site, name, val, 12, false);
      applyLdSt(buf, off, val, 1, site, name);
      return;
    case RelocType.R_AARCH64_TLSLE_LDST32_TPREL_LO12:
      checkRange(site, name, val, 12, false);
      applyLdSt(buf, off, val, 2, site, name);
      return;
    case RelocType.R_AARCH64_TLSLE_LDST64_TPREL_LO12:
      checkRange(site, name, val, 12, false);
      applyLdSt(buf, off, val, 3, site, name);
      return;
    case RelocType.R_AARCH64_TLSLE_LDST128_TPREL_LO12:
      checkRange(site, name, val, 12, false);
      applyLdSt(buf, off, val, 4, site, name);
      return;

    // MOVZ/MOVK sequences. The checked groups require the whole value to fit
    // in the bits up to and including the group's.
    case RelocType.R_AARCH64_MOVW_UABS_G0:
      checkRange(site, name, val, 16, false);
      applyMovw(buf, off, val, 0);
      return;
    case RelocType.R_AARCH64_MOVW_UABS_G1:
      checkRange(site, name, val, 32, false);
      applyMovw(buf, off, val, 1);
      return;
    case RelocType.R_AARCH64_MOVW_UABS_G2:
      checkRange(site, name, val, 48, false);
      applyMovw(buf, off, val, 2);
      return;
    case RelocType.R_AARCH64_MOVW_UABS_G0_NC:
    case RelocType.R_AARCH64_TLSLE_MOVW_TPREL_G0_NC:
      applyMovw(buf, off, val, 0);
      return;
    case RelocType.R_AARCH64_MOVW_UABS_G1_NC:
    case RelocType.R_AARCH64_TLSLE_MOVW_TPREL_G1_NC:
      applyMovw(buf, off, val, 1);
      return;
    case RelocType.R_AARCH64_MOVW_UABS_G2_NC:
      applyMovw(buf, off, val, 2);
      return;
    case RelocType.R_AARCH64_MOVW_UABS_G3:
      // Bits 48-63: any 64-bit value fits.
      applyMovw(buf, off, val, 3);
      return;
    case RelocType.R_AARCH64_TLSLE_MOVW_TPREL_G0:
      applyTprelMovz(buf, off, val, 0, site, name);
      return;
    case RelocType.R_AARCH64_TLSLE_MOVW_TPREL_G1:
      applyTprelMovz(buf, off, val, 1, site, name);
      return;
    case RelocType.R_AARCH64_TLSLE_MOVW_TPREL_G2:
      applyTprelMovz(buf, off, val, 2, site, name);
      return;

    default:
      throw new LinkError(`${site.describe()}: unsupported relocation type ${name}`);
  }
}

/**
 * Initial-exec TLS is `adrp xN, :gottprel:v` + `ldr xN, [xN, #:gottprel_lo12:v]`
 * (then `mrs`/`add` with the thread pointer). In an executable the offset is a
 * constant, and the pair becomes `movz xN, #hi16, lsl #16` + `movk xN, #lo16`,
 * with no GOT slot. Compilers emit the ldr with Rt = Rn = the adrp's Rd; the
 * rewrite keeps each instruction's own destination register.
 */
function canRelaxTlsIeToLe(data: Uint8Array, off: number, type: number): boolean {
  if (off < 0 || off + 4 > data.length) return false;
  const insn = read32(data, off);
  switch (type) {
    case RelocType.R_AARCH64_TLSIE_ADR_GOTTPREL_PAGE21:
      return (insn & Insn.ADRP_MASK) >>> 0 === Insn.ADRP;
    case RelocType.R_AARCH64_TLSIE_LD64_GOTTPREL_LO12_NC:
      return (insn & Insn.LDR_X_UIMM_MASK) >>> 0 === Insn.LDR_X_UIMM;
    default:
      return false;
  }
}

function applyTlsIeToLe(buf: Uint8Array, off: number, type: number, val: number, site: RelocSite): void {
  const name = relName(type);
  checkRange(site, name, val, 32, false);
  const reg = read32(buf, off) & 0x1f;
  switch (type) {
    case RelocType.R_AARCH64_TLSIE_ADR_GOTTPREL_PAGE21:
      write32(buf, off, (Insn.MOVZ_X_LSL16 | (bitsOf(val, 16, 16) << 5) | reg) >>> 0);
      return;
    case RelocType.R_AARCH64_TLSIE_LD64_GOTTPREL_LO12_NC:
      write32(buf, off, (Insn.MOVK_X | (bitsOf(val, 0, 16) << 5) | reg) >>> 0);
      return;
    default:
      throw new Error(`unreachable: aarch64 cannot relax ${name} from initial-exec to local-exec`);
  }
}

export const aarch64: Arch = {
  name: 'aarch64',
  eMachine: Traits.eMachine,
  maxPageSize: Traits.maxPageSize,
  imageBase: Traits.imageBase,
  // brk #0, little-endian. (udf #0, all zeroes, is permanently undefined and
  // would trap too; brk reads better in a disassembly than a run of zeroes.)
  trapFill: new Uint8Array([0x00, 0x00, 0x20, 0xd4]),

  relExpr(type: number): RelExpr | undefined {
    return RELOCS.get(type)?.expr;
  },
  relName,
  applyReloc,

  // tslink keeps GOT slots on AArch64 for now (no adrp+ldr -> adrp+add relaxation).
  canRelaxGot(): boolean {
    return false;
  },
  applyRelaxedGot(_buf: Uint8Array, _off: number, type: number): void {
    throw new Error(`unreachable: aarch64 does not relax GOT references (${relName(type)})`);
  },
  canRelaxTlsIeToLe,
  applyTlsIeToLe,

  // Variant I: TP -> [TCB, 16 bytes][TLS block, starting aligned to its alignment].
  tpOffset(offsetInTls: number, _tlsMemSize: number, tlsAlign: number): number {
    return offsetInTls + alignTo(Traits.tcbSize, tlsAlign);
  },

  // TLS descriptors relax one instruction at a time:
  //   adrp x0, :tlsdesc:v          -> movz x0, #:tprel_g1:v, lsl #16
  //   ldr  x1, [x0, :tlsdesc_lo12:v] -> movk x0, #:tprel_g0_nc:v
  //   add  x0, x0, :tlsdesc_lo12:v -> nop
  //   blr  x1  (.tlsdesccall v)    -> nop
  tlsSequence: () => undefined,

  applyTlsGdToLe(buf: Uint8Array, off: number, type: number, val: number, site: RelocSite): void {
    checkRange(site, relName(type), val, 32, false);
    switch (type) {
      case RelocType.R_AARCH64_TLSDESC_ADR_PAGE21:
        write32(buf, off, Insn.MOVZ_X_LSL16 | (bitsOf(val, 16, 16) << 5));
        return;
      case RelocType.R_AARCH64_TLSDESC_LD64_LO12:
        write32(buf, off, Insn.MOVK_X | (bitsOf(val, 0, 16) << 5));
        return;
      case RelocType.R_AARCH64_TLSDESC_ADD_LO12:
      case RelocType.R_AARCH64_TLSDESC_CALL:
        write32(buf, off, Insn.NOP);
        return;
      default:
        throw new LinkError(`${site.describe()}: cannot relax ${relName(type)} to local-exec`);
    }
  },

  applyTlsLdToLe(_buf: Uint8Array, _off: number, type: number, site: RelocSite): void {
    throw new LinkError(`${site.describe()}: ${relName(type)}: local-dynamic TLS is not supported on AArch64 yet`);
  },

  // An island is always 12 bytes, whichever form it takes, so that its slot is
  // predictable: a direct `b` padded with traps when in reach, otherwise the
  // adrp/add/br form.
  irelativeType: 1032, // R_AARCH64_IRELATIVE
  ipltEntrySize: 16,
  // adrp x16, slot; ldr x17, [x16, :lo12:slot]; add x16, x16, :lo12:slot; br x17
  writeIpltEntry(buf: Uint8Array, off: number, at: number, slot: number): void {
    writeSlotJump(buf, off, at, slot);
  },

  dynRel: { relative: 1027, globDat: 1025, jumpSlot: 1026, copy: 1024, abs64: 257, tpoff64: 1030, dtpmod64: 1028, dtpoff64: 1029, tlsdesc: 1031 },
  // adrp x0, :tlsdesc:v; ldr x1, [x0, :tlsdesc_lo12:v]; add x0, x0, :tlsdesc_lo12:v; blr x1
  tlsDynamic(type: number) {
    switch (type) {
      case RelocType.R_AARCH64_TLSDESC_ADR_PAGE21: return { got: 'desc' as const, expr: RelExpr.GotPagePC };
      case RelocType.R_AARCH64_TLSDESC_LD64_LO12: case RelocType.R_AARCH64_TLSDESC_ADD_LO12: return { got: 'desc' as const, expr: RelExpr.Got };
      case RelocType.R_AARCH64_TLSDESC_CALL: return { got: 'desc' as const, expr: RelExpr.None };
      default: return undefined;
    }
  },
  usesOnlyLowPageBits: (type: number) => LOW_PAGE_BITS.has(type),
  pltHeaderSize: 32,
  pltEntrySize: 16,
  // stp x16, x30, [sp,#-16]!; adrp x16, GOTPLT+16; ldr x17, [x16, :lo12:GOTPLT+16]; add x16, x16, :lo12:GOTPLT+16; br x17; nop x3
  writePltHeader(buf: Uint8Array, off: number, plt: number, gotPlt: number): void {
    write32(buf, off, Insn.STP_X16_X30_PRE);
    writeSlotJump(buf, off + 4, plt + 4, gotPlt + 16);
    for (let k = 20; k < 32; k += 4) write32(buf, off + k, Insn.NOP);
  },
  writePltEntry(buf: Uint8Array, off: number, at: number, slot: number): void {
    writeSlotJump(buf, off, at, slot);
  },
  lazySlotValue: (_entry: number, plt: number) => plt,
  gotPltHoldsDynamic: false,

  islandSize: Traits.islandSize,
  writeIsland(buf: Uint8Array, off: number, from: number, to: number): void {
    const delta = to - from;
    if (inBranchRange(delta)) {
      write32(buf, off, encodeB(delta));
      write32(buf, off + 4, Insn.BRK_0);
      write32(buf, off + 8, Insn.BRK_0);
    } else {
      writePageJump(buf, off, from, to);
    }
  },

  branchRange: Traits.branchRange,
  thunkSize: Traits.thunkSize,
  writeThunk(buf: Uint8Array, off: number, at: number, to: number): void {
    writePageJump(buf, off, at, to);
  },
};
