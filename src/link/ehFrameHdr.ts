import { AtomKind, SecFlag } from '../obj/model.js';
import { SHT } from '../obj/elfConstants.js';
import { LinkError } from '../obj/LinkError.js';
import { write32 } from './arch/Arch.js';
import type { Layout } from './layout.js';
import { addInternalAtom, addSyntheticSection, type OutputSection, type SectionPlan } from './outputSections.js';

/**
 * .eh_frame_hdr (--eh-frame-hdr): a sorted table from function start to
 * FDE, found through PT_GNU_EH_FRAME. The unwinder (libgcc's, for C++
 * exceptions and backtraces) looks FDEs up there instead of walking
 * .eh_frame. Layout (LSB "Exception Frames"):
 *
 *   u8 version = 1
 *   u8 eh_frame_ptr_enc = DW_EH_PE_pcrel | DW_EH_PE_sdata4
 *   u8 fde_count_enc    = DW_EH_PE_udata4
 *   u8 table_enc        = DW_EH_PE_datarel | DW_EH_PE_sdata4
 *   i32 eh_frame_ptr; u32 fde_count; then (i32 initial_location, i32 fde) pairs,
 *   both relative to the start of .eh_frame_hdr, sorted by initial_location.
 *
 * FDEs whose function is not in the output (a discarded COMDAT copy, whose
 * start was written as a tombstone) are left out of the table.
 */

const DW_EH_PE_absptr = 0x00;
const DW_EH_PE_udata2 = 0x02;
const DW_EH_PE_udata4 = 0x03;
const DW_EH_PE_udata8 = 0x04;
const DW_EH_PE_sdata2 = 0x0a;
const DW_EH_PE_sdata4 = 0x0b;
const DW_EH_PE_sdata8 = 0x0c;
const DW_EH_PE_pcrel = 0x10;
const DW_EH_PE_datarel = 0x30;
const DW_EH_PE_omit = 0xff;

export interface Record {
  /** Offset of the record (its length field) in the section's bytes. */
  at: number;
  /** Offset just past it. */
  end: number;
  /** 0 for a CIE, else the CIE pointer. */
  id: number;
}

/**
 * Calls `visit` with each record of an .eh_frame byte range, in order; zero
 * terminators (crtend.o's) are skipped. Nothing is allocated per record: a
 * large link has one FDE per function (200k), read once to count them and
 * once to index them.
 */
export function eachRecord(data: Uint8Array, name: string, visit: (at: number, end: number, id: number) => void): void {
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  let at = 0;
  while (at + 4 <= data.length) {
    let len = dv.getUint32(at, true);
    if (len === 0) {
      at += 4;
      continue;
    }
    let body = at + 4;
    if (len === 0xffffffff) {
      if (at + 12 > data.length) break;
      len = Number(dv.getBigUint64(at + 4, true));
      body = at + 12;
    }
    const end = body + len;
    if (end > data.length || body + 4 > data.length) throw new LinkError(`${name}: malformed .eh_frame record at offset 0x${at.toString(16)}`);
    visit(at, end, dv.getUint32(body, true));
    at = end;
  }
}

/** The records of an .eh_frame byte range, as objects (eachRecord). */
export function records(data: Uint8Array, name: string): Record[] {
  const out: Record[] = [];
  eachRecord(data, name, (at, end, id) => out.push({ at, end, id }));
  return out;
}

/** Adds the header's atom, sized for every FDE of the live .eh_frame atoms. */
export function addEhFrameHdr(plan: SectionPlan): number {
  let fdes = 0;
  for (const sec of plan.sections) {
    if (!(sec.flags & SecFlag.EhFrame)) continue;
    for (const ref of sec.atoms) {
      const file = plan.files[ref.file];
      const atom = file.atoms[ref.atom];
      if (atom.data) eachRecord(atom.data, `${file.name}:(${atom.name})`, (_at, _end, id) => { if (id !== 0) fdes++; });
    }
  }
  const size = 12 + 8 * fdes;
  const atom = addInternalAtom(plan.files[plan.internal], {
    name: '.eh_frame_hdr', kind: AtomKind.ROData, flags: SecFlag.Alloc | SecFlag.Fixed, align: 4, size, data: new Uint8Array(size), rawType: SHT.PROGBITS,
  });
  addSyntheticSection(plan, atom);
  return atom;
}

function readEncoded(dv: DataView, at: number, enc: number, fieldAddr: number, name: string): { value: number; size: number } {
  let value: number;
  let size: number;
  switch (enc & 0x0f) {
    case DW_EH_PE_absptr: case DW_EH_PE_udata8: value = Number(dv.getBigUint64(at, true)); size = 8; break;
    case DW_EH_PE_sdata8: value = Number(dv.getBigInt64(at, true)); size = 8; break;
    case DW_EH_PE_udata4: value = dv.getUint32(at, true); size = 4; break;
    case DW_EH_PE_sdata4: value = dv.getInt32(at, true); size = 4; break;
    case DW_EH_PE_udata2: value = dv.getUint16(at, true); size = 2; break;
    case DW_EH_PE_sdata2: value = dv.getInt16(at, true); size = 2; break;
    default: throw new LinkError(`${name}: unsupported pointer encoding 0x${enc.toString(16)} in .eh_frame`);
  }
  if ((enc & 0x70) === DW_EH_PE_pcrel) value += fieldAddr;
  else if ((enc & 0x70) !== 0) throw new LinkError(`${name}: unsupported pointer application 0x${(enc & 0x70).toString(16)} in .eh_frame`);
  return { value, size };
}

function uleb(data: Uint8Array, at: number): [number, number] {
  let v = 0;
  let shift = 0;
  let p = at;
  for (;;) {
    const b = data[p++];
    v += (b & 0x7f) * 2 ** shift;
    shift += 7;
    if (!(b & 0x80) || p >= data.length) return [v, p];
  }
}

/** The FDE pointer encoding a CIE declares with its 'R' augmentation (absptr without one). */
function fdeEncoding(data: Uint8Array, dv: DataView, cieAt: number, cieEnd: number, sectionAddr: number, name: string): number {
  let p = cieAt + 8; // length, id
  const version = data[p++];
  let aug = '';
  while (p < cieEnd && data[p] !== 0) aug += String.fromCharCode(data[p++]);
  p++;
  if (!aug.startsWith('z')) return DW_EH_PE_absptr;
  [, p] = uleb(data, p); // code alignment
  [, p] = uleb(data, p); // data alignment (sleb: only skipped)
  if (version === 1) p++; else [, p] = uleb(data, p); // return register
  [, p] = uleb(data, p); // augmentation length
  for (const c of aug.slice(1)) {
    if (c === 'R') return data[p];
    if (c === 'L') p++;
    else if (c === 'P') {
      const enc = data[p++];
      if (enc !== DW_EH_PE_omit) p += readEncoded(dv, p, enc, sectionAddr + p, name).size;
    } else if (c !== 'S' && c !== 'B' && c !== 'G') return DW_EH_PE_absptr;
  }
  return DW_EH_PE_absptr;
}

/**
 * The FDEs of a run of whole .eh_frame records (one input section's) at
 * `addr`: each FDE's address and the address of the code it describes. Null
 * when an FDE's CIE is not in the run. (An incremental patch updates the
 * .eh_frame_hdr table from the FDEs it rewrote: src/session/patch.ts.)
 */
export function fdeStarts(data: Uint8Array, addr: number, name: string): Array<{ fde: number; start: number }> | null {
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const encodings = new Map<number, number>();
  const out: Array<{ fde: number; start: number }> = [];
  for (const r of records(data, name)) {
    if (r.id === 0) {
      encodings.set(r.at, fdeEncoding(data, dv, r.at, r.end, addr, name));
      continue;
    }
    const enc = encodings.get(r.at + 4 - r.id);
    if (enc === undefined) return null;
    out.push({ fde: addr + r.at, start: readEncoded(dv, r.at + 8, enc, addr + r.at + 8, name).value });
  }
  return out;
}

/** The header's bytes for the relocated .eh_frame `eh` (null: none), given where code lies. */
export function ehFrameHdrBytes(eh: { addr: number; bytes: Uint8Array } | null, hdrAddr: number, hdrSize: number, code: ReadonlyArray<{ addr: number; size: number }>): Uint8Array {
  const out = new Uint8Array(hdrSize);
  const odv = new DataView(out.buffer);
  out.set([1, DW_EH_PE_pcrel | DW_EH_PE_sdata4, DW_EH_PE_udata4, DW_EH_PE_datarel | DW_EH_PE_sdata4]);
  // Each FDE's function start and address, in .eh_frame's order, then sorted by start (ties in that order).
  const room = Math.max(0, Math.floor((hdrSize - 12) / 8));
  const starts = new Float64Array(room);
  const fdes = new Float64Array(room);
  let n = 0;
  if (eh) {
    const data = eh.bytes;
    const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
    const encodings = new Map<number, number>();
    eachRecord(data, '.eh_frame', (at, end, id) => {
      if (id === 0) {
        encodings.set(at, fdeEncoding(data, dv, at, end, eh.addr, '.eh_frame'));
        return;
      }
      const enc = encodings.get(at + 4 - id) ?? DW_EH_PE_absptr;
      const start = readEncoded(dv, at + 8, enc, eh.addr + at + 8, '.eh_frame').value;
      if (!code.some((s) => start >= s.addr && start < s.addr + s.size)) return; // a discarded function's FDE
      if (n === room) throw new LinkError('.eh_frame_hdr: more FDEs than were counted');
      starts[n] = start;
      fdes[n++] = eh.addr + at;
    });
    write32(out, 4, eh.addr - (hdrAddr + 4));
  }
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  order.sort((a, b) => starts[a] - starts[b] || a - b);
  odv.setUint32(8, n, true);
  for (let i = 0; i < n; i++) {
    odv.setInt32(12 + i * 8, starts[order[i]] - hdrAddr, true);
    odv.setInt32(16 + i * 8, fdes[order[i]] - hdrAddr, true);
  }
  return out;
}

/** Writes the header from the relocated .eh_frame in `image`. */
export function writeEhFrameHdr(image: Uint8Array, layout: Layout, hdr: OutputSection): void {
  const eh = ehFrameSection(layout);
  image.set(ehFrameHdrOf(layout, hdr, eh ? image.subarray(eh.offset, eh.offset + eh.used) : null), hdr.offset);
}

/** The output's .eh_frame, which .eh_frame_hdr indexes. */
export function ehFrameSection(layout: Layout): OutputSection | undefined {
  return layout.sections.find((s) => s.flags & SecFlag.EhFrame && s.flags & SecFlag.Alloc);
}

/** The header's bytes, from .eh_frame's relocated bytes (the `used` part of ehFrameSection). */
export function ehFrameHdrOf(layout: Layout, hdr: OutputSection, ehBytes: Uint8Array | null): Uint8Array {
  const eh = ehFrameSection(layout);
  const code = layout.sections.filter((s) => s.flags & SecFlag.Exec);
  return ehFrameHdrBytes(eh && ehBytes ? { addr: eh.addr, bytes: ehBytes } : null, hdr.addr, hdr.used, code);
}
