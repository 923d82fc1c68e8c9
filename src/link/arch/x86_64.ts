import {
  RelExpr, checkRange, checkIntN, write16, write32, write64,
  type Arch, type RelocSite,
} from './Arch.js';
import { LinkError, hex } from '../../obj/LinkError.js';
import { alignTo } from '../align.js';

/**
 * x86-64 (System V AMD64 psABI, "System V Application Binary Interface,
 * AMD64 Architecture Processor Supplement", chapter 4.4 for relocations).
 *
 * Quirks that matter to a linker:
 * - PC-relative fields are 32 bits: everything an executable references
 *   PC-relatively must lie within +-2 GiB of the place. The small code model
 *   also puts absolute addresses in 32-bit fields (R_X86_64_32 zero-extended,
 *   R_X86_64_32S sign-extended), so a non-PIE image must sit below 2 GiB.
 * - The addend of a PC-relative reference to the next instruction is usually
 *   -4: the field is 4 bytes before the end of the instruction.
 * - GOTPCRELX/REX_GOTPCRELX mark GOT loads the linker may rewrite to direct
 *   references (`mov foo@GOTPCREL(%rip)` -> `lea foo(%rip)`), which it does
 *   whenever the symbol's address is a link-time constant.
 * - TLS is variant II: the thread pointer (%fs:0) points just past the TLS
 *   block, so offsets of TLS variables are negative. Initial-exec accesses
 *   (GOTTPOFF) are rewritten to local-exec in an executable.
 * - Code padding is int3 (0xcc); there are no range-extension thunks.
 */

const enum R {
  NONE = 0,
  X86_64_64 = 1,
  PC32 = 2,
  GOT32 = 3,
  PLT32 = 4,
  GOTPCREL = 9,
  X86_64_32 = 10,
  X86_64_32S = 11,
  X86_64_16 = 12,
  PC16 = 13,
  X86_64_8 = 14,
  PC8 = 15,
  TLSGD = 19,
  TLSLD = 20,
  DTPOFF32 = 21,
  GOTTPOFF = 22,
  TPOFF32 = 23,
  PC64 = 24,
  DTPOFF64 = 17,
  TPOFF64 = 18,
  SIZE32 = 32,
  SIZE64 = 33,
  GOTPCRELX = 41,
  REX_GOTPCRELX = 42,
}

const NAMES: Record<number, string> = {
  0: 'R_X86_64_NONE', 1: 'R_X86_64_64', 2: 'R_X86_64_PC32', 3: 'R_X86_64_GOT32', 4: 'R_X86_64_PLT32',
  5: 'R_X86_64_COPY', 6: 'R_X86_64_GLOB_DAT', 7: 'R_X86_64_JUMP_SLOT', 8: 'R_X86_64_RELATIVE',
  9: 'R_X86_64_GOTPCREL', 10: 'R_X86_64_32', 11: 'R_X86_64_32S', 12: 'R_X86_64_16', 13: 'R_X86_64_PC16',
  14: 'R_X86_64_8', 15: 'R_X86_64_PC8', 16: 'R_X86_64_DTPMOD64', 17: 'R_X86_64_DTPOFF64',
  18: 'R_X86_64_TPOFF64', 19: 'R_X86_64_TLSGD', 20: 'R_X86_64_TLSLD', 21: 'R_X86_64_DTPOFF32',
  22: 'R_X86_64_GOTTPOFF', 23: 'R_X86_64_TPOFF32', 24: 'R_X86_64_PC64', 25: 'R_X86_64_GOTOFF64',
  26: 'R_X86_64_GOTPC32', 27: 'R_X86_64_GOT64', 28: 'R_X86_64_GOTPCREL64', 29: 'R_X86_64_GOTPC64',
  30: 'R_X86_64_GOTPLT64', 31: 'R_X86_64_PLTOFF64', 32: 'R_X86_64_SIZE32', 33: 'R_X86_64_SIZE64',
  34: 'R_X86_64_GOTPC32_TLSDESC', 35: 'R_X86_64_TLSDESC_CALL', 36: 'R_X86_64_TLSDESC',
  37: 'R_X86_64_IRELATIVE', 41: 'R_X86_64_GOTPCRELX', 42: 'R_X86_64_REX_GOTPCRELX',
};

const EXPR: Record<number, RelExpr> = {
  [R.NONE]: RelExpr.None,
  [R.X86_64_64]: RelExpr.Abs,
  [R.X86_64_32]: RelExpr.Abs,
  [R.X86_64_32S]: RelExpr.Abs,
  [R.X86_64_16]: RelExpr.Abs,
  [R.X86_64_8]: RelExpr.Abs,
  [R.PC32]: RelExpr.PC,
  [R.PC64]: RelExpr.PC,
  [R.PC16]: RelExpr.PC,
  [R.PC8]: RelExpr.PC,
  [R.PLT32]: RelExpr.Branch,
  [R.GOTPCREL]: RelExpr.GotPC,
  [R.GOTPCRELX]: RelExpr.GotPC,
  [R.REX_GOTPCRELX]: RelExpr.GotPC,
  [R.TPOFF32]: RelExpr.TPRel,
  [R.TPOFF64]: RelExpr.TPRel,
  [R.GOTTPOFF]: RelExpr.GotTPRelPC,
  [R.TLSGD]: RelExpr.TlsGd,
  [R.TLSLD]: RelExpr.TlsLd,
  [R.DTPOFF32]: RelExpr.DTPRel,
  [R.DTPOFF64]: RelExpr.DTPRel,
  [R.SIZE32]: RelExpr.Size,
  [R.SIZE64]: RelExpr.Size,
};

const JMP_REL32 = 0xe9;

function relName(type: number): string {
  return NAMES[type] ?? `unknown relocation (${type})`;
}

export const x86_64: Arch = {
  name: 'x86_64',
  eMachine: 62,
  maxPageSize: 4096,
  imageBase: 0x200000,
  trapFill: new Uint8Array([0xcc]),

  relExpr: (type) => EXPR[type],
  relName,

  applyReloc(buf: Uint8Array, off: number, type: number, val: number, _P: number, site: RelocSite): void {
    const name = relName(type);
    switch (type) {
      case R.NONE:
        return;
      case R.X86_64_8:
        checkIntN(site, name, val, 8);
        buf[off] = val & 0xff;
        return;
      case R.PC8:
        checkRange(site, name, val, 8, true);
        buf[off] = val & 0xff;
        return;
      case R.X86_64_16:
        checkIntN(site, name, val, 16);
        write16(buf, off, val);
        return;
      case R.PC16:
        checkRange(site, name, val, 16, true);
        write16(buf, off, val);
        return;
      case R.X86_64_32:
        checkRange(site, name, val, 32, false);
        write32(buf, off, val);
        return;
      case R.X86_64_32S: case R.PC32: case R.PLT32: case R.GOTPCREL: case R.GOTPCRELX: case R.REX_GOTPCRELX:
      case R.GOTTPOFF: case R.TPOFF32: case R.DTPOFF32: case R.SIZE32: case R.TLSGD: case R.TLSLD:
        checkRange(site, name, val, 32, true);
        write32(buf, off, val);
        return;
      case R.X86_64_64: case R.PC64: case R.TPOFF64: case R.DTPOFF64: case R.SIZE64:
        write64(buf, off, val);
        return;
      default:
        throw new LinkError(`${site.describe()}: unsupported relocation type ${name}`);
    }
  },

  // `mov foo@GOTPCREL(%rip), %reg` -> `lea foo(%rip), %reg`;
  // `call *foo@GOTPCREL(%rip)` -> `addr32 call foo`; `jmp *foo@GOTPCREL(%rip)` -> `jmp foo; nop`.
  canRelaxGot(data: Uint8Array, off: number, type: number, addend: number): boolean {
    if (addend !== -4 || off < 2) return false;
    const op = data[off - 2];
    const modrm = data[off - 1];
    if (type === R.REX_GOTPCRELX) return op === 0x8b && off >= 3;
    if (type === R.GOTPCRELX) return op === 0x8b || (op === 0xff && (modrm === 0x15 || modrm === 0x25));
    return false;
  },

  applyRelaxedGot(buf: Uint8Array, off: number, type: number, val: number, _P: number, site: RelocSite): void {
    const op = buf[off - 2];
    const modrm = buf[off - 1];
    checkRange(site, relName(type), val, 32, true);
    if (op === 0x8b) {
      buf[off - 2] = 0x8d; // mov -> lea, same operands
      write32(buf, off, val);
    } else if (modrm === 0x15) {
      buf[off - 2] = 0x67; // addr32 prefix keeps the instruction 6 bytes long
      buf[off - 1] = 0xe8;
      write32(buf, off, val);
    } else {
      buf[off - 2] = JMP_REL32;
      write32(buf, off - 1, val + 1); // the field now starts a byte earlier
      buf[off + 3] = 0x90;
    }
  },

  canRelaxTlsIeToLe(data: Uint8Array, off: number, type: number): boolean {
    if (type !== R.GOTTPOFF || off < 3) return false;
    const rex = data[off - 3];
    const op = data[off - 2];
    return (rex === 0x48 || rex === 0x4c) && (op === 0x8b || op === 0x03) && (data[off - 1] & 0xc7) === 0x05;
  },

  // movq foo@GOTTPOFF(%rip), %reg -> movq $tpoff, %reg
  // addq foo@GOTTPOFF(%rip), %reg -> leaq tpoff(%reg), %reg (addq $tpoff for %rsp and %r12,
  // whose lea would need a SIB byte and not fit)
  applyTlsIeToLe(buf: Uint8Array, off: number, type: number, val: number, site: RelocSite): void {
    const rex = buf[off - 3];
    const op = buf[off - 2];
    const reg = (buf[off - 1] >> 3) & 7;
    const highReg = rex === 0x4c; // REX.R: %r8-%r15
    if (op === 0x8b) {
      buf[off - 3] = highReg ? 0x49 : 0x48;
      buf[off - 2] = 0xc7;
      buf[off - 1] = 0xc0 | reg;
    } else if (reg === 4) {
      buf[off - 3] = highReg ? 0x49 : 0x48;
      buf[off - 2] = 0x81;
      buf[off - 1] = 0xc4;
    } else {
      buf[off - 3] = highReg ? 0x4d : 0x48;
      buf[off - 2] = 0x8d;
      buf[off - 1] = 0x80 | (reg << 3) | reg;
    }
    // The field was PC-relative with an addend of -4 for the end of the instruction.
    const v = val + 4;
    checkRange(site, relName(type), v, 32, true);
    write32(buf, off, v);
  },

  tpOffset(offsetInTls: number, tlsMemSize: number, tlsAlign: number): number {
    return offsetInTls - alignTo(tlsMemSize, tlsAlign);
  },

  // General dynamic:   66 48 8d 3d <x@tlsgd>    data16 lea x@tlsgd(%rip), %rdi
  //                    66 66 48 e8 <plt>        data16 data16 rex64 call __tls_get_addr@PLT
  // Local dynamic:     48 8d 3d <x@tlsld>       lea x@tlsld(%rip), %rdi
  //                    e8 <plt>                 call __tls_get_addr@PLT
  tlsSequence(type: number): { before: number; after: number } | undefined {
    if (type === R.TLSGD) return { before: 4, after: 12 };
    if (type === R.TLSLD) return { before: 3, after: 9 };
    return undefined;
  },

  // -> mov %fs:0, %rax; lea x@tpoff(%rax), %rax
  applyTlsGdToLe(buf: Uint8Array, off: number, type: number, val: number, site: RelocSite): void {
    const seq = [0x66, 0x48, 0x8d, 0x3d];
    if (off < 4 || seq.some((b, i) => buf[off - 4 + i] !== b) || buf[off + 4] !== 0x66 || buf[off + 5] !== 0x66 || buf[off + 6] !== 0x48 || buf[off + 7] !== 0xe8) {
      throw new LinkError(`${site.describe()}: ${relName(type)} is not followed by the general-dynamic call sequence tslink knows how to relax`);
    }
    buf.set([0x64, 0x48, 0x8b, 0x04, 0x25, 0, 0, 0, 0, 0x48, 0x8d, 0x80, 0, 0, 0, 0], off - 4);
    // The field was PC-relative with an addend of -4.
    const v = val + 4;
    checkRange(site, relName(type), v, 32, true);
    write32(buf, off + 8, v);
  },

  // -> data16 data16 data16 mov %fs:0, %rax (the module's TLS block starts at TP minus its size,
  // and x@dtpoff after it becomes x@tpoff)
  applyTlsLdToLe(buf: Uint8Array, off: number, type: number, site: RelocSite): void {
    if (off < 3 || buf[off - 3] !== 0x48 || buf[off - 2] !== 0x8d || buf[off - 1] !== 0x3d || buf[off + 4] !== 0xe8) {
      throw new LinkError(`${site.describe()}: ${relName(type)} is not followed by the local-dynamic call sequence tslink knows how to relax`);
    }
    buf.set([0x66, 0x66, 0x66, 0x64, 0x48, 0x8b, 0x04, 0x25, 0, 0, 0, 0], off - 3);
  },

  irelativeType: 37, // R_X86_64_IRELATIVE
  ipltEntrySize: 16,
  // jmp *slot(%rip), then int3 padding
  writeIpltEntry(buf: Uint8Array, off: number, at: number, slot: number): void {
    buf.fill(0xcc, off, off + 16);
    buf[off] = 0xff;
    buf[off + 1] = 0x25;
    write32(buf, off + 2, slot - (at + 6));
  },

  dynRel: { relative: 8, globDat: 6, jumpSlot: 7, copy: 5, abs64: 1, tpoff64: 18, dtpmod64: 16, dtpoff64: 17, tlsdesc: 0 },
  // leaq x@tlsgd(%rip), %rdi and leaq x@tlsld(%rip), %rdi: the pair's address, PC-relative.
  tlsDynamic(type: number) {
    if (type === R.TLSGD) return { got: 'gd' as const, expr: RelExpr.GotPC };
    if (type === R.TLSLD) return { got: 'ld' as const, expr: RelExpr.GotPC };
    return undefined;
  },
  usesOnlyLowPageBits: () => false,
  pltHeaderSize: 16,
  pltEntrySize: 16,
  // pushq GOTPLT+8(%rip); jmpq *GOTPLT+16(%rip); nopl 0(%rax)
  writePltHeader(buf: Uint8Array, off: number, plt: number, gotPlt: number): void {
    buf.set([0xff, 0x35, 0, 0, 0, 0, 0xff, 0x25, 0, 0, 0, 0, 0x0f, 0x1f, 0x40, 0x00], off);
    write32(buf, off + 2, gotPlt + 8 - (plt + 6));
    write32(buf, off + 8, gotPlt + 16 - (plt + 12));
  },
  // jmpq *slot(%rip); pushq $index; jmp header
  writePltEntry(buf: Uint8Array, off: number, at: number, slot: number, index: number, plt: number): void {
    buf.set([0xff, 0x25, 0, 0, 0, 0, 0x68, 0, 0, 0, 0, 0xe9, 0, 0, 0, 0], off);
    write32(buf, off + 2, slot - (at + 6));
    write32(buf, off + 7, index);
    write32(buf, off + 12, plt - (at + 16));
  },
  lazySlotValue: (entry: number) => entry + 6,
  gotPltHoldsDynamic: true,

  islandSize: 5,
  writeIsland(buf: Uint8Array, off: number, from: number, to: number): void {
    const rel = to - (from + 5);
    if (rel < -(2 ** 31) || rel >= 2 ** 31) throw new LinkError(`jump island at ${hex(from)} cannot reach ${hex(to)}`);
    buf[off] = JMP_REL32;
    write32(buf, off + 1, rel);
  },
  branchRange: Infinity,
  thunkSize: 0,
  writeThunk(): void {
    throw new LinkError('x86-64 needs no range-extension thunks');
  },
};
