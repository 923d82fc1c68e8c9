import { RelExpr, checkRange, write16, write32, write64, type Arch, type RelocSite } from './Arch.js';
import { LinkError } from '../../obj/LinkError.js';
import { IMAGE_REL_AMD64 } from '../../obj/readCoff.js';
import { x86_64 } from './x86_64.js';

/**
 * x86-64 as COFF objects describe it (Microsoft "PE Format", section "Type
 * Indicators", x64 processors). The instruction set is the ELF arch's, so
 * everything but the relocation table is shared with x86_64.ts; a COFF link
 * uses this object where an ELF link uses that one.
 *
 * The differences that matter:
 * - Addends are implicit: the reader reads them out of the place
 *   (readCoff.ts), and applyReloc replaces the field with the final value.
 * - REL32_N is measured from the end of an instruction with N more bytes
 *   after the 4-byte field: S + A - (P + 4 + N). The core computes S + A - P;
 *   the 4 + N is taken off here.
 * - ADDR32NB is an RVA (S + A - ImageBase); SECREL an offset from the start
 *   of the target's output section (TLS variables, DWARF); SECTION that
 *   section's 1-based index.
 * - Nothing is relaxed: COFF has no GOT, and TLS goes through _tls_index.
 */

const NAMES: Record<number, string> = {
  [IMAGE_REL_AMD64.ABSOLUTE]: 'IMAGE_REL_AMD64_ABSOLUTE',
  [IMAGE_REL_AMD64.ADDR64]: 'IMAGE_REL_AMD64_ADDR64',
  [IMAGE_REL_AMD64.ADDR32]: 'IMAGE_REL_AMD64_ADDR32',
  [IMAGE_REL_AMD64.ADDR32NB]: 'IMAGE_REL_AMD64_ADDR32NB',
  [IMAGE_REL_AMD64.REL32]: 'IMAGE_REL_AMD64_REL32',
  [IMAGE_REL_AMD64.REL32_1]: 'IMAGE_REL_AMD64_REL32_1',
  [IMAGE_REL_AMD64.REL32_2]: 'IMAGE_REL_AMD64_REL32_2',
  [IMAGE_REL_AMD64.REL32_3]: 'IMAGE_REL_AMD64_REL32_3',
  [IMAGE_REL_AMD64.REL32_4]: 'IMAGE_REL_AMD64_REL32_4',
  [IMAGE_REL_AMD64.REL32_5]: 'IMAGE_REL_AMD64_REL32_5',
  [IMAGE_REL_AMD64.SECTION]: 'IMAGE_REL_AMD64_SECTION',
  [IMAGE_REL_AMD64.SECREL]: 'IMAGE_REL_AMD64_SECREL',
  [IMAGE_REL_AMD64.SECREL7]: 'IMAGE_REL_AMD64_SECREL7',
  [IMAGE_REL_AMD64.TOKEN]: 'IMAGE_REL_AMD64_TOKEN',
  [IMAGE_REL_AMD64.SREL32]: 'IMAGE_REL_AMD64_SREL32',
  [IMAGE_REL_AMD64.PAIR]: 'IMAGE_REL_AMD64_PAIR',
  [IMAGE_REL_AMD64.SSPAN32]: 'IMAGE_REL_AMD64_SSPAN32',
};

function relName(type: number): string {
  return NAMES[type] ?? `unknown COFF AMD64 relocation type ${type}`;
}

function relExpr(type: number): RelExpr | undefined {
  switch (type) {
    case IMAGE_REL_AMD64.ABSOLUTE: case IMAGE_REL_AMD64.PAIR: return RelExpr.None;
    case IMAGE_REL_AMD64.ADDR64: case IMAGE_REL_AMD64.ADDR32: return RelExpr.Abs;
    case IMAGE_REL_AMD64.ADDR32NB: return RelExpr.ImageRel;
    case IMAGE_REL_AMD64.REL32: case IMAGE_REL_AMD64.REL32_1: case IMAGE_REL_AMD64.REL32_2:
    case IMAGE_REL_AMD64.REL32_3: case IMAGE_REL_AMD64.REL32_4: case IMAGE_REL_AMD64.REL32_5:
      return RelExpr.PC;
    case IMAGE_REL_AMD64.SECTION: return RelExpr.SecIndex;
    case IMAGE_REL_AMD64.SECREL: case IMAGE_REL_AMD64.SECREL7: return RelExpr.SecRel;
    default: return undefined; // TOKEN (CLR), SREL32 and SSPAN32 (never emitted for x64)
  }
}

export const x86_64Coff: Arch = {
  ...x86_64,
  relExpr,
  relName,
  applyReloc(buf: Uint8Array, off: number, type: number, val: number, _P: number, site: RelocSite): void {
    switch (type) {
      case IMAGE_REL_AMD64.ADDR64: write64(buf, off, val); return;
      case IMAGE_REL_AMD64.ADDR32:
        checkRange(site, relName(type), val, 32, false);
        write32(buf, off, val);
        return;
      case IMAGE_REL_AMD64.ADDR32NB: case IMAGE_REL_AMD64.SECREL:
        checkRange(site, relName(type), val, 32, false);
        write32(buf, off, val);
        return;
      case IMAGE_REL_AMD64.REL32: case IMAGE_REL_AMD64.REL32_1: case IMAGE_REL_AMD64.REL32_2:
      case IMAGE_REL_AMD64.REL32_3: case IMAGE_REL_AMD64.REL32_4: case IMAGE_REL_AMD64.REL32_5: {
        const v = val - 4 - (type - IMAGE_REL_AMD64.REL32);
        checkRange(site, relName(type), v, 32, true);
        write32(buf, off, v);
        return;
      }
      case IMAGE_REL_AMD64.SECTION:
        checkRange(site, relName(type), val, 16, false);
        write16(buf, off, val);
        return;
      case IMAGE_REL_AMD64.SECREL7:
        checkRange(site, relName(type), val, 7, false);
        buf[off] = (buf[off] & 0x80) | val;
        return;
      default:
        throw new LinkError(`${site.describe()}: unsupported relocation ${relName(type)}`);
    }
  },
  canRelaxGot: () => false,
  canRelaxTlsIeToLe: () => false,
  tlsDynamic: () => undefined,
  tlsSequence: () => undefined,
  usesOnlyLowPageBits: () => false,
};
