import { SecFlag, type Atom } from '../obj/model.js';
import { LinkError, hex } from '../obj/LinkError.js';
import { PF, PT, EHDR_SIZE, PHDR_SIZE } from '../obj/elfConstants.js';
import type { Arch } from './arch/Arch.js';
import { alignTo } from './align.js';
import { SegClass, segClassOf, type OutputSection, type SectionPlan } from './outputSections.js';

/**
 * Address assignment. Sections are sorted by rank and grouped into segments
 * by class (R, RX, RW, RW zero-fill). Within a segment, file offsets and
 * addresses advance together; a new segment starts on a fresh page in memory
 * at an address congruent to its file offset modulo the page size, so the
 * file needs no padding between segments (lld's default layout).
 *
 * Slack and headroom (incremental links, DESIGN.md section 3) are supplied by
 * the caller as a policy; a plain full link uses none.
 */

export interface PlacementPolicy {
  /** Bytes of slack to leave after this atom. */
  slackAfter(atom: Atom): number;
  /** Bytes of headroom to leave at the end of an allocated output section whose atoms use `used` bytes. */
  headroom(sec: OutputSection, used: number): number;
}

export const PACKED: PlacementPolicy = {
  slackAfter: () => 0,
  headroom: () => 0,
};

export interface Segment {
  type: PT;
  flags: number;
  offset: number;
  vaddr: number;
  filesz: number;
  memsz: number;
  align: number;
  cls: SegClass;
}

export interface TlsTemplate {
  addr: number;
  fileSize: number;
  memSize: number;
  align: number;
}

/** What kind of executable the layout is for. */
export interface OutputShape {
  /** Position-independent: loaded at any base, laid out from 0. */
  pie: boolean;
  /** Give what is written only at load time its own segment, made read-only after relocation (PT_GNU_RELRO). */
  relro: boolean;
}

export const STATIC_EXE: OutputShape = { pie: false, relro: true };

export interface Layout {
  /** Output sections in output order (sorted by rank). */
  sections: OutputSection[];
  segments: Segment[];
  /** Per file, per atom: the atom's address (offset in its section for non-allocated sections); NaN if not placed. */
  atomAddr: Float64Array[];
  tls: TlsTemplate | null;
  /** Where non-allocated data ends in the file: the writer appends its tables here. */
  fileEnd: number;
  imageBase: number;
  pie: boolean;
}

const SEG_FLAGS: Record<number, number> = {
  [SegClass.R]: PF.R,
  [SegClass.RX]: PF.R | PF.X,
  [SegClass.RelRo]: PF.R | PF.W,
  [SegClass.RW]: PF.R | PF.W,
  [SegClass.Bss]: PF.R | PF.W,
};

export function assignAddresses(plan: SectionPlan, arch: Arch, policy: PlacementPolicy, shape: OutputShape = STATIC_EXE): Layout {
  const sections = plan.sections
    .map((s, i) => ({ s, i }))
    .filter(({ s }) => s.atoms.length > 0)
    .sort((a, b) => a.s.rank - b.s.rank || a.i - b.i)
    .map(({ s }) => s);
  const atomAddr = plan.files.map((f) => new Float64Array(f.atoms.length).fill(NaN));

  // Without RELRO, what it would hold joins the writable segment.
  const classOf = (rank: number): SegClass => {
    const c = segClassOf(rank);
    return c === SegClass.RelRo && !shape.relro ? SegClass.RW : c;
  };
  const alloc = sections.filter((s) => s.flags & SecFlag.Alloc);
  const classes = new Set(alloc.map((s) => classOf(s.rank)));
  classes.add(SegClass.R); // the headers are always mapped
  const hasTls = alloc.some((s) => s.flags & SecFlag.TLS);
  const notes = sections.filter((s) => (s.flags & (SecFlag.Note | SecFlag.Alloc)) === (SecFlag.Note | SecFlag.Alloc));
  const ehFrameHdr = sections.find((s) => s.name === '.eh_frame_hdr' && s.flags & SecFlag.Alloc);
  const interp = alloc.find((s) => s.name === '.interp');
  const dynamic = alloc.find((s) => s.name === '.dynamic');
  const hasRelro = classes.has(SegClass.RelRo);
  // PT_PHDR and PT_INTERP (a dynamic executable), the loads, PT_TLS, PT_DYNAMIC, PT_GNU_RELRO, notes,
  // PT_GNU_EH_FRAME, PT_GNU_STACK.
  const phnum = (interp || dynamic ? 1 : 0) + (interp ? 1 : 0) + classes.size + (hasTls ? 1 : 0) + (dynamic ? 1 : 0)
    + (hasRelro ? 1 : 0) + notes.length + (ehFrameHdr ? 1 : 0) + 1;
  const base = shape.pie ? 0 : arch.imageBase;

  const segments: Segment[] = [];
  let off = EHDR_SIZE + phnum * PHDR_SIZE;
  let va = base + off;
  let cur: Segment | null = {
    type: PT.LOAD, flags: PF.R, offset: 0, vaddr: base, filesz: 0, memsz: 0, align: arch.maxPageSize, cls: SegClass.R,
  };
  segments.push(cur);
  let tls: TlsTemplate | null = null;

  const closeSegment = (seg: Segment): void => {
    seg.memsz = va - seg.vaddr;
    seg.filesz = seg.cls === SegClass.Bss ? 0 : off - seg.offset;
  };

  for (const sec of sections) {
    if (!(sec.flags & SecFlag.Alloc)) continue;
    const cls = classOf(sec.rank);
    sec.align = sectionAlign(plan, sec);
    if (cur.cls !== cls) {
      closeSegment(cur);
      const segAlign = Math.max(arch.maxPageSize, sec.align);
      va = alignTo(va, segAlign) + (off % segAlign);
      cur = { type: PT.LOAD, flags: SEG_FLAGS[cls], offset: off, vaddr: va, filesz: 0, memsz: 0, align: arch.maxPageSize, cls };
      segments.push(cur);
    }
    const tbss = (sec.flags & (SecFlag.TLS | SecFlag.NoBits)) === (SecFlag.TLS | SecFlag.NoBits);
    // .tbss occupies no address space of its own: what follows it overlaps it.
    const start: number = tbss ? alignTo(tls ? tls.addr + tls.memSize : va, sec.align) : alignTo(va, sec.align);
    if (!tbss) {
      if (cls !== SegClass.Bss && !(sec.flags & SecFlag.NoBits)) off += start - va;
      va = start;
    }
    sec.addr = start;
    sec.offset = off;
    sec.used = placeAtoms(plan, sec, start, atomAddr, policy);
    sec.size = sec.used + (tbss ? 0 : policy.headroom(sec, sec.used));
    if (sec.flags & SecFlag.TLS) {
      if (!tls) tls = { addr: start, fileSize: 0, memSize: 0, align: 1 };
      tls.align = Math.max(tls.align, sec.align);
      tls.memSize = start + sec.size - tls.addr;
      if (!tbss) tls.fileSize = tls.memSize;
    }
    if (!tbss) {
      va += sec.size;
      if (!(sec.flags & SecFlag.NoBits)) off += sec.size;
      else if (cls !== SegClass.Bss) {
        const first = sec.atoms[0];
        const where = first ? `${plan.files[first.file].name}:(${plan.files[first.file].atoms[first.atom].name}): ` : '';
        throw new LinkError(`${where}a zero-fill (SHT_NOBITS) section that is ${sec.flags & SecFlag.Exec ? 'executable' : 'read-only'} is not supported: output section '${sec.name}' lies among file-backed sections`);
      }
    }
    if (va > 2 ** 47) throw new LinkError(`output image is too large: section '${sec.name}' ends at ${hex(va)}`);
  }
  closeSegment(cur);

  // The program headers themselves, and the dynamic loader's path: both before any load (gABI).
  const loads = segments.splice(0);
  if (interp || dynamic) {
    const size = phnum * PHDR_SIZE;
    segments.push({ type: PT.PHDR, flags: PF.R, offset: EHDR_SIZE, vaddr: base + EHDR_SIZE, filesz: size, memsz: size, align: 8, cls: SegClass.None });
  }
  if (interp) {
    segments.push({ type: PT.INTERP, flags: PF.R, offset: interp.offset, vaddr: interp.addr, filesz: interp.size, memsz: interp.size, align: 1, cls: SegClass.None });
  }
  segments.push(...loads);
  if (tls) {
    segments.push({
      type: PT.TLS, flags: PF.R, offset: fileOffsetOf(segments, tls.addr), vaddr: tls.addr,
      filesz: tls.fileSize, memsz: tls.memSize, align: tls.align, cls: SegClass.None,
    });
  }
  if (dynamic) {
    segments.push({ type: PT.DYNAMIC, flags: PF.R | PF.W, offset: dynamic.offset, vaddr: dynamic.addr, filesz: dynamic.size, memsz: dynamic.size, align: 8, cls: SegClass.None });
  }
  // Made read-only once the loader has relocated it; it ends on a page boundary, where the next load starts.
  const relro = loads.find((l) => l.cls === SegClass.RelRo);
  if (relro) {
    const memsz = alignTo(relro.vaddr + relro.memsz, 4096) - relro.vaddr;
    segments.push({ type: PT.GNU_RELRO, flags: PF.R, offset: relro.offset, vaddr: relro.vaddr, filesz: relro.filesz, memsz, align: 1, cls: SegClass.None });
  }
  // Each allocated note (the build id) gets a PT_NOTE, so tools that read program headers find it.
  for (const n of notes) {
    segments.push({ type: PT.NOTE, flags: PF.R, offset: n.offset, vaddr: n.addr, filesz: n.size, memsz: n.size, align: n.align, cls: SegClass.None });
  }
  // The unwinder finds the FDE index through PT_GNU_EH_FRAME.
  if (ehFrameHdr) {
    segments.push({ type: PT.GNU_EH_FRAME, flags: PF.R, offset: ehFrameHdr.offset, vaddr: ehFrameHdr.addr, filesz: ehFrameHdr.used, memsz: ehFrameHdr.used, align: 4, cls: SegClass.None });
  }
  segments.push({ type: PT.GNU_STACK, flags: PF.R | PF.W, offset: 0, vaddr: 0, filesz: 0, memsz: 0, align: 0, cls: SegClass.None });

  // Non-allocated sections (.comment, .debug_*) follow in the file at address 0.
  for (const sec of sections) {
    if (sec.flags & SecFlag.Alloc) continue;
    sec.align = sectionAlign(plan, sec);
    off = alignTo(off, sec.align);
    sec.addr = 0;
    sec.offset = off;
    sec.used = placeAtoms(plan, sec, 0, atomAddr, PACKED);
    sec.size = sec.used + policy.headroom(sec, sec.used);
    // A zero-fill section takes no file space, allocated or not.
    if (!(sec.flags & SecFlag.NoBits)) off += sec.size;
  }

  if (segments.length !== phnum) throw new LinkError(`internal error: ${segments.length} program headers, ${phnum} reserved`);
  return { sections, segments, atomAddr, tls, fileEnd: off, imageBase: base, pie: shape.pie };
}

export function sectionAlign(plan: SectionPlan, sec: OutputSection): number {
  let a = 1;
  for (const r of sec.atoms) a = Math.max(a, plan.files[r.file].atoms[r.atom].align);
  return a;
}

/**
 * Each atom's offset in its section, and the bytes the atoms (with their
 * slack) use. Shared with the thunk planner, which estimates before layout.
 */
export function atomOffsets(plan: SectionPlan, sec: OutputSection, policy: PlacementPolicy): { offsets: number[]; used: number } {
  const offsets: number[] = [];
  let cursor = 0;
  for (const r of sec.atoms) {
    const atom = plan.files[r.file].atoms[r.atom];
    cursor = alignTo(cursor, atom.align);
    offsets.push(cursor);
    cursor += atom.size;
    cursor += policy.slackAfter(atom);
  }
  return { offsets, used: cursor };
}

/** Lays out a section's atoms from `start`; returns the section's size. */
function placeAtoms(plan: SectionPlan, sec: OutputSection, start: number, atomAddr: Float64Array[], policy: PlacementPolicy): number {
  const { offsets, used } = atomOffsets(plan, sec, policy);
  sec.atoms.forEach((r, k) => {
    atomAddr[r.file][r.atom] = start + offsets[k];
  });
  return used;
}

function fileOffsetOf(segments: Segment[], addr: number): number {
  for (const s of segments) {
    if (s.type === PT.LOAD && addr >= s.vaddr && addr <= s.vaddr + s.memsz) return s.offset + (addr - s.vaddr);
  }
  return 0;
}
