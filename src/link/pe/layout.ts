import { SecFlag } from '../../obj/model.js';
import { LinkError, hex } from '../../obj/LinkError.js';
import { IMAGE_SCN } from '../../obj/readCoff.js';
import { alignTo } from '../align.js';
import { atomOffsets, sectionAlign, type Layout, type PlacementPolicy } from '../layout.js';
import type { OutputSection, SectionPlan } from '../outputSections.js';

/**
 * Address assignment for a PE image. Unlike ELF there are no segments: each
 * output section is mapped on its own, at a section-aligned (4 KiB) RVA,
 * and stored in the file at a file-aligned (512-byte) offset, holding only
 * its initialized part (a trailing zero-fill part, like a merged `.bss`, is
 * in memory only). The headers come first, in the first 4 KiB page.
 *
 * Addresses are virtual addresses at the preferred base (ImageBase + RVA),
 * as ELF's are for a non-PIE executable; the loader moves the image by the
 * base relocations (`.reloc`).
 */

export const SECTION_ALIGN = 0x1000;
export const FILE_ALIGN = 0x200;

/** One PE section: an output section, its characteristics and its extent in the file. */
export interface PeSection {
  sec: OutputSection;
  characteristics: number;
  /** Bytes of the section stored in the file (SizeOfRawData), file-aligned; 0 for all zero-fill. */
  rawSize: number;
}

export interface PeLayout extends Layout {
  peSections: PeSection[];
  /** SizeOfHeaders: the DOS stub, the PE headers and the section table, file-aligned. */
  headerSize: number;
  /** SizeOfImage: the end of the last section in memory, section-aligned, as an RVA. */
  imageSize: number;
}

const READ = IMAGE_SCN.MEM_READ;
const KNOWN: Record<string, number> = {
  '.text': IMAGE_SCN.CNT_CODE | IMAGE_SCN.MEM_EXECUTE | READ,
  '.rdata': IMAGE_SCN.CNT_INITIALIZED_DATA | READ,
  '.data': IMAGE_SCN.CNT_INITIALIZED_DATA | READ | IMAGE_SCN.MEM_WRITE,
  '.pdata': IMAGE_SCN.CNT_INITIALIZED_DATA | READ,
  '.tls': IMAGE_SCN.CNT_INITIALIZED_DATA | READ | IMAGE_SCN.MEM_WRITE,
  '.reloc': IMAGE_SCN.CNT_INITIALIZED_DATA | READ | IMAGE_SCN.MEM_DISCARDABLE,
  '.buildid': IMAGE_SCN.CNT_INITIALIZED_DATA | READ,
  '.rsrc': IMAGE_SCN.CNT_INITIALIZED_DATA | READ,
};
/** The characteristics an output section takes from its inputs (alignment and linker-only bits are not). */
const CHARACTERISTICS_MASK = IMAGE_SCN.CNT_CODE | IMAGE_SCN.CNT_INITIALIZED_DATA | IMAGE_SCN.CNT_UNINITIALIZED_DATA
  | IMAGE_SCN.MEM_DISCARDABLE | 0x10000000 /* MEM_SHARED */ | IMAGE_SCN.MEM_EXECUTE | READ | IMAGE_SCN.MEM_WRITE;

function characteristicsOf(plan: SectionPlan, sec: OutputSection): number {
  if (sec.name.startsWith('.debug_')) return IMAGE_SCN.CNT_INITIALIZED_DATA | READ | IMAGE_SCN.MEM_DISCARDABLE;
  const known = KNOWN[sec.name];
  if (known !== undefined) return known;
  let c = 0;
  for (const r of sec.atoms) {
    const a = plan.files[r.file].atoms[r.atom];
    c |= r.file === plan.internal ? 0 : a.rawType & CHARACTERISTICS_MASK;
    if (a.flags & SecFlag.NoBits) c |= IMAGE_SCN.CNT_UNINITIALIZED_DATA;
    else if (!(a.flags & SecFlag.Exec)) c |= IMAGE_SCN.CNT_INITIALIZED_DATA;
    c |= READ;
  }
  return c;
}

/**
 * Assigns RVAs and file offsets. `beforeReloc` runs once every section
 * that precedes `.reloc` has its addresses, so that the base relocations,
 * which list the places of those sections, can be sized and written before
 * `.reloc` itself is placed.
 */
export function assignPeAddresses(
  plan: SectionPlan, policy: PlacementPolicy, imageBase: number, beforeReloc: (atomAddr: Float64Array[]) => void,
): PeLayout {
  const sections = plan.sections
    .map((s, i) => ({ s, i }))
    .filter(({ s }) => s.atoms.length > 0 || s.name === '.reloc')
    // lld creates the sections it does not know in name order.
    .sort((a, b) => a.s.rank - b.s.rank || (a.s.name < b.s.name ? -1 : a.s.name > b.s.name ? 1 : 0) || a.i - b.i)
    .map(({ s }) => s);
  const atomAddr = plan.files.map((f) => new Float64Array(f.atoms.length).fill(NaN));
  const headerSize = alignTo(DOS_AND_PE_HEADERS + sections.length * SECTION_HEADER_SIZE, FILE_ALIGN);

  let rva = alignTo(headerSize, SECTION_ALIGN);
  let off = headerSize;
  const peSections: PeSection[] = [];
  for (const sec of sections) {
    if (sec.name === '.reloc') beforeReloc(atomAddr);
    sec.align = sectionAlign(plan, sec);
    if (sec.align > SECTION_ALIGN) {
      throw new LinkError(`output section '${sec.name}' needs an alignment of ${sec.align}, more than the ${SECTION_ALIGN} bytes of a PE section`);
    }
    const { offsets, used } = atomOffsets(plan, sec, policy);
    let initialized = 0;
    sec.atoms.forEach((r, k) => {
      const atom = plan.files[r.file].atoms[r.atom];
      atomAddr[r.file][r.atom] = imageBase + rva + offsets[k];
      if (!(atom.flags & SecFlag.NoBits)) initialized = offsets[k] + atom.size + policy.slackAfter(atom);
    });
    sec.addr = imageBase + rva;
    sec.offset = off;
    sec.used = used;
    sec.size = used + policy.headroom(sec, used);
    // Headroom is stored in the file when the section is all initialized, so that it can grow in place.
    if (initialized === used) initialized = sec.size;
    const rawSize = alignTo(initialized, FILE_ALIGN);
    peSections.push({ sec, characteristics: characteristicsOf(plan, sec), rawSize });
    rva = alignTo(rva + Math.max(sec.size, 1), SECTION_ALIGN);
    off += rawSize;
    if (rva > 0xffffffff) throw new LinkError(`output image is too large: section '${sec.name}' ends at RVA ${hex(rva)}`);
  }
  return {
    sections, segments: [], atomAddr, tls: null, fileEnd: off, imageBase, pie: false,
    peSections, headerSize, imageSize: rva,
  };
}

/**
 * The 1-based index and start of the section holding `addr`, given the
 * sections' start addresses in increasing order (COFF SECTION and SECREL).
 */
export function sectionAt(starts: readonly number[], addr: number): { index: number; addr: number } | undefined {
  let lo = 0;
  let hi = starts.length - 1;
  if (hi < 0 || addr < starts[0]) return undefined;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (starts[mid] <= addr) lo = mid; else hi = mid - 1;
  }
  return { index: lo + 1, addr: starts[lo] };
}

/** The DOS header and stub (0x78 bytes), "PE\0\0", the COFF file header and the PE32+ optional header. */
export const DOS_STUB_SIZE = 0x78;
export const DOS_AND_PE_HEADERS = DOS_STUB_SIZE + 4 + 20 + 240;
export const SECTION_HEADER_SIZE = 40;
