import { RelExpr, checkRange, read32, write16, write32, write64, type Arch, type RelocSite } from './Arch.js';
import { LinkError } from '../../obj/LinkError.js';
import { IMAGE_REL_ARM64 } from '../../obj/readCoff.js';
import { aarch64, applyAdd12, applyAdrp, bitsOf, setAdrImm, setField } from './aarch64.js';

/**
 * ARM64 as COFF objects describe it (Microsoft "PE Format", "Type
 * Indicators", ARM64 processors): the ELF arch's instruction encodings
 * with COFF's relocation table, as x86_64Coff.ts is for x86-64.
 *
 * - Addends are implicit, read out of the instruction by the reader.
 * - PAGEBASE_REL21 is ADRP's page delta; PAGEOFFSET_12A the low 12 bits in
 *   an ADD, PAGEOFFSET_12L in a load or store, scaled by its access size
 *   (read from the instruction itself: COFF has one type for every size).
 * - SECREL_HIGH12A / LOW12A / LOW12L split an offset from the start of the
 *   target's output section (TLS variables: `add x8, x8, #:secrel_hi12:v`).
 * - BRANCH26/19/14 are range-checked; a BRANCH26 out of range (128 MiB) is
 *   an error: PE links do not plan range-extension thunks yet.
 */

const NAMES: Record<number, string> = {
  [IMAGE_REL_ARM64.ABSOLUTE]: 'IMAGE_REL_ARM64_ABSOLUTE',
  [IMAGE_REL_ARM64.ADDR32]: 'IMAGE_REL_ARM64_ADDR32',
  [IMAGE_REL_ARM64.ADDR32NB]: 'IMAGE_REL_ARM64_ADDR32NB',
  [IMAGE_REL_ARM64.BRANCH26]: 'IMAGE_REL_ARM64_BRANCH26',
  [IMAGE_REL_ARM64.PAGEBASE_REL21]: 'IMAGE_REL_ARM64_PAGEBASE_REL21',
  [IMAGE_REL_ARM64.REL21]: 'IMAGE_REL_ARM64_REL21',
  [IMAGE_REL_ARM64.PAGEOFFSET_12A]: 'IMAGE_REL_ARM64_PAGEOFFSET_12A',
  [IMAGE_REL_ARM64.PAGEOFFSET_12L]: 'IMAGE_REL_ARM64_PAGEOFFSET_12L',
  [IMAGE_REL_ARM64.SECREL]: 'IMAGE_REL_ARM64_SECREL',
  [IMAGE_REL_ARM64.SECREL_LOW12A]: 'IMAGE_REL_ARM64_SECREL_LOW12A',
  [IMAGE_REL_ARM64.SECREL_HIGH12A]: 'IMAGE_REL_ARM64_SECREL_HIGH12A',
  [IMAGE_REL_ARM64.SECREL_LOW12L]: 'IMAGE_REL_ARM64_SECREL_LOW12L',
  [IMAGE_REL_ARM64.TOKEN]: 'IMAGE_REL_ARM64_TOKEN',
  [IMAGE_REL_ARM64.SECTION]: 'IMAGE_REL_ARM64_SECTION',
  [IMAGE_REL_ARM64.ADDR64]: 'IMAGE_REL_ARM64_ADDR64',
  [IMAGE_REL_ARM64.BRANCH19]: 'IMAGE_REL_ARM64_BRANCH19',
  [IMAGE_REL_ARM64.BRANCH14]: 'IMAGE_REL_ARM64_BRANCH14',
  [IMAGE_REL_ARM64.REL32]: 'IMAGE_REL_ARM64_REL32',
};

function relName(type: number): string {
  return NAMES[type] ?? `unknown COFF ARM64 relocation type ${type}`;
}

function relExpr(type: number): RelExpr | undefined {
  switch (type) {
    case IMAGE_REL_ARM64.ABSOLUTE: return RelExpr.None;
    case IMAGE_REL_ARM64.ADDR64: case IMAGE_REL_ARM64.ADDR32: return RelExpr.Abs;
    case IMAGE_REL_ARM64.PAGEOFFSET_12A: case IMAGE_REL_ARM64.PAGEOFFSET_12L: return RelExpr.Abs;
    case IMAGE_REL_ARM64.ADDR32NB: return RelExpr.ImageRel;
    case IMAGE_REL_ARM64.PAGEBASE_REL21: return RelExpr.PagePC;
    case IMAGE_REL_ARM64.REL21: case IMAGE_REL_ARM64.REL32: return RelExpr.PC;
    case IMAGE_REL_ARM64.BRANCH26: case IMAGE_REL_ARM64.BRANCH19: case IMAGE_REL_ARM64.BRANCH14: return RelExpr.PC;
    case IMAGE_REL_ARM64.SECREL: case IMAGE_REL_ARM64.SECREL_LOW12A: case IMAGE_REL_ARM64.SECREL_HIGH12A:
    case IMAGE_REL_ARM64.SECREL_LOW12L:
      return RelExpr.SecRel;
    case IMAGE_REL_ARM64.SECTION: return RelExpr.SecIndex;
    default: return undefined; // TOKEN (CLR)
  }
}

/** The access size of a load or store with an unsigned 12-bit offset, as a shift: bits 30-31, 4 for a 128-bit SIMD access. */
function accessShift(insn: number): number {
  let shift = insn >>> 30;
  if ((insn & 0x4800000) === 0x4800000) shift += 4;
  return shift;
}

function applyLow12Load(buf: Uint8Array, off: number, val: number, site: RelocSite, name: string): void {
  const shift = accessShift(read32(buf, off));
  const lo12 = bitsOf(val, 0, 12);
  if (lo12 % 2 ** shift !== 0) throw new LinkError(`${site.describe()}: ${name} against ${site.symbol()}: ${lo12} is not a multiple of the access size ${2 ** shift}`);
  setField(buf, off, 10, 12, lo12 / 2 ** shift);
}

function branch(buf: Uint8Array, off: number, val: number, bits: number, at: number, site: RelocSite, name: string): void {
  checkRange(site, name, val, bits + 2, true);
  if (val % 4 !== 0) throw new LinkError(`${site.describe()}: ${name} against ${site.symbol()}: the target is not 4-byte aligned`);
  setField(buf, off, at, bits, bitsOf(val, 2, bits));
}

export const aarch64Coff: Arch = {
  ...aarch64,
  relExpr,
  relName,
  applyReloc(buf: Uint8Array, off: number, type: number, val: number, _P: number, site: RelocSite): void {
    const name = relName(type);
    switch (type) {
      case IMAGE_REL_ARM64.ABSOLUTE: return;
      case IMAGE_REL_ARM64.ADDR64: write64(buf, off, val); return;
      case IMAGE_REL_ARM64.ADDR32: case IMAGE_REL_ARM64.ADDR32NB: case IMAGE_REL_ARM64.SECREL:
        checkRange(site, name, val, 32, false);
        write32(buf, off, val);
        return;
      case IMAGE_REL_ARM64.REL32:
        checkRange(site, name, val, 32, true);
        write32(buf, off, val);
        return;
      case IMAGE_REL_ARM64.BRANCH26: branch(buf, off, val, 26, 0, site, name); return;
      case IMAGE_REL_ARM64.BRANCH19: branch(buf, off, val, 19, 5, site, name); return;
      case IMAGE_REL_ARM64.BRANCH14: branch(buf, off, val, 14, 5, site, name); return;
      case IMAGE_REL_ARM64.PAGEBASE_REL21:
        checkRange(site, name, val, 33, true);
        applyAdrp(buf, off, val);
        return;
      case IMAGE_REL_ARM64.REL21:
        checkRange(site, name, val, 21, true);
        setAdrImm(buf, off, bitsOf(val, 0, 21));
        return;
      case IMAGE_REL_ARM64.PAGEOFFSET_12A: case IMAGE_REL_ARM64.SECREL_LOW12A:
        applyAdd12(buf, off, bitsOf(val, 0, 12));
        return;
      case IMAGE_REL_ARM64.SECREL_HIGH12A:
        checkRange(site, name, val, 24, false);
        applyAdd12(buf, off, bitsOf(val, 12, 12));
        return;
      case IMAGE_REL_ARM64.PAGEOFFSET_12L: case IMAGE_REL_ARM64.SECREL_LOW12L:
        applyLow12Load(buf, off, val, site, name);
        return;
      case IMAGE_REL_ARM64.SECTION:
        checkRange(site, name, val, 16, false);
        write16(buf, off, val);
        return;
      default:
        throw new LinkError(`${site.describe()}: unsupported relocation ${name}`);
    }
  },
  canRelaxGot: () => false,
  canRelaxTlsIeToLe: () => false,
  tlsDynamic: () => undefined,
  tlsSequence: () => undefined,
  usesOnlyLowPageBits: () => false,
};
