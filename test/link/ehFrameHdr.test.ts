/**
 * .eh_frame_hdr's table (src/link/ehFrameHdr.ts), from .eh_frame bytes built
 * here by hand: the unwinder binary-searches it, so it must be sorted by
 * function start whatever order the FDEs come in, and must leave out the
 * FDEs of functions that are not in the output. (The linked programs' tables
 * are compared with ld.lld's in gcSections.test.ts; there the FDEs come in
 * address order.)
 */
import { expect } from 'chai';
import { eachRecord, ehFrameHdrBytes, records } from '../../src/link/ehFrameHdr.js';
import { LinkError } from '../../src/obj/LinkError.js';

const EH_ADDR = 0x10000;
const HDR_ADDR = 0x8000;
const CODE = [{ addr: 0x1000, size: 0x2000 }];

/** A CIE ('zR', FDE pointers pc-relative sdata4), then an FDE for each start, then a zero terminator. */
function ehFrame(starts: number[]): Uint8Array {
  const bytes = new Uint8Array(24 + 20 * starts.length + 4);
  const dv = new DataView(bytes.buffer);
  dv.setUint32(0, 20, true); // length
  dv.setUint32(4, 0, true); // CIE id
  bytes.set([1, 0x7a, 0x52, 0, 1, 0x78, 16, 1, 0x1b], 8); // version, "zR", alignments, return register, augmentation
  starts.forEach((start, i) => {
    const at = 24 + 20 * i;
    dv.setUint32(at, 16, true);
    dv.setUint32(at + 4, at + 4, true); // back to the CIE at 0
    dv.setInt32(at + 8, start - (EH_ADDR + at + 8), true); // pc_begin, pc-relative
    dv.setUint32(at + 12, 0x10, true); // pc_range
  });
  return bytes;
}

/** The table's rows: [function start, FDE address], absolute. */
function rows(hdr: Uint8Array): Array<[number, number]> {
  const dv = new DataView(hdr.buffer, hdr.byteOffset, hdr.byteLength);
  const n = dv.getUint32(8, true);
  return Array.from({ length: n }, (_, i): [number, number] => [
    HDR_ADDR + dv.getInt32(12 + 8 * i, true), HDR_ADDR + dv.getInt32(16 + 8 * i, true),
  ]);
}

describe('.eh_frame_hdr', () => {
  it('reads each record once, in order, skipping zero terminators', () => {
    const bytes = ehFrame([0x2000, 0x1000]);
    const seen: number[][] = [];
    eachRecord(bytes, '.eh_frame', (at, end, id) => seen.push([at, end, id]));
    expect(seen).to.deep.equal([[0, 24, 0], [24, 44, 28], [44, 64, 48]]);
    expect(records(bytes, '.eh_frame')).to.deep.equal(seen.map(([at, end, id]) => ({ at, end, id })));
  });

  it('a record that runs past the section is an error naming it', () => {
    const bytes = ehFrame([0x2000]).subarray(0, 40);
    expect(() => eachRecord(bytes, 'a.o:(.eh_frame)', () => {})).to.throw(LinkError, 'a.o:(.eh_frame): malformed .eh_frame record at offset 0x18');
  });

  it('sorts the table by function start and leaves out FDEs of code not in the output', () => {
    const starts = [0x2800, 0x9000, 0x1000, 0x2000, 0x1800];
    const hdr = ehFrameHdrBytes({ addr: EH_ADDR, bytes: ehFrame(starts) }, HDR_ADDR, 12 + 8 * starts.length, CODE);
    expect([...hdr.subarray(0, 4)]).to.deep.equal([1, 0x1b, 0x03, 0x3b]);
    expect(new DataView(hdr.buffer).getInt32(4, true)).to.equal(EH_ADDR - (HDR_ADDR + 4));
    const fde = (i: number) => EH_ADDR + 24 + 20 * i;
    expect(rows(hdr)).to.deep.equal([[0x1000, fde(2)], [0x1800, fde(4)], [0x2000, fde(3)], [0x2800, fde(0)]]);
    expect([...hdr.subarray(12 + 8 * 4)], 'the room left by the discarded FDE').to.deep.equal(new Array(8).fill(0));
  });

  it('more FDEs than the header was sized for is an error', () => {
    expect(() => ehFrameHdrBytes({ addr: EH_ADDR, bytes: ehFrame([0x1000, 0x1800]) }, HDR_ADDR, 12 + 8, CODE))
      .to.throw(LinkError, 'more FDEs than were counted');
  });
});
