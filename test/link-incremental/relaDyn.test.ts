import { expect } from 'chai';
import { coalesceRanges, relaDynIndex } from '../../src/session/dynamicGate.js';

const RELATIVE = 8;

/** .rela.dyn bytes from rows (r_offset, type, symbol index, addend), at offset 8 of a buffer. */
function table(rows: Array<[number, number, number, number]>): { bytes: Uint8Array; rela: { offset: number; used: number } } {
  const bytes = new Uint8Array(8 + rows.length * 24);
  const dv = new DataView(bytes.buffer);
  rows.forEach(([off, type, sym, addend], i) => {
    const at = 8 + i * 24;
    dv.setBigUint64(at, BigInt(off), true);
    dv.setUint32(at + 8, type, true);
    dv.setUint32(at + 12, sym, true);
    dv.setBigInt64(at + 16, BigInt(addend), true);
  });
  return { bytes, rela: { offset: 8, used: rows.length * 24 } };
}

// The patch reads the prior image's .rela.dyn where it looks: RELATIVE records first, then the rest, each
// group ascending by place (the full link's order, which test/support/elfcheck.ts checks of real links).
describe('the .rela.dyn index of a patch', () => {
  const { bytes, rela } = table([
    [0x3000, RELATIVE, 0, -16],
    [0x5000, RELATIVE, 0, 0x1234],
    [0x3000, 1, 1, 0],
    [0x4000, 6, 2, 0],
    [0x2000000000, 1, 2, 8],
  ]);
  const read = (offset: number, length: number) => bytes.subarray(offset, offset + length);
  const index = relaDynIndex(rela, read, ['', 'foo', 'bar'], RELATIVE);

  it('finds each record by its place, in either group', () => {
    expect(index.relocAt(0x5000)).to.deep.equal({ type: RELATIVE, sym: '', addend: 0x1234 });
    expect(index.relocAt(0x4000)).to.deep.equal({ type: 6, sym: 'bar', addend: 0 });
    expect(index.relocAt(0x2000000000)).to.deep.equal({ type: 1, sym: 'bar', addend: 8 });
  });

  it('answers the later record at a place with two (as a loader applies them), and nothing between records', () => {
    expect(index.relocAt(0x3000)).to.deep.equal({ type: 1, sym: 'foo', addend: 0 });
    for (const place of [0, 0x2fff, 0x3001, 0x4008, 0x6000, 0x3000000000]) expect(index.relocAt(place)).to.equal(undefined);
  });

  it('lists the places in a range ascending, each once, from both groups', () => {
    expect(index.placesIn(0, 2 ** 52)).to.deep.equal([0x3000, 0x4000, 0x5000, 0x2000000000]);
    expect(index.placesIn(0x3000, 0x5000)).to.deep.equal([0x3000, 0x4000]);
    expect(index.placesIn(0x3001, 0x4000)).to.deep.equal([]);
    expect(index.placesIn(0x4000, 0x4001)).to.deep.equal([0x4000]);
  });

  it('decodes negative addends, and places past 2^32 and near 2^53', () => {
    const far = 2 ** 52 + 16;
    const t = table([[0x10, RELATIVE, 0, -16], [far, RELATIVE, 0, 3], [far, 1, 0, 4]]);
    const ix = relaDynIndex(t.rela, (o, l) => t.bytes.subarray(o, o + l), [''], RELATIVE);
    expect(ix.relocAt(0x10)).to.deep.equal({ type: RELATIVE, sym: '', addend: -16 });
    expect(ix.relocAt(far)!.addend).to.equal(4);
    expect(ix.placesIn(far, far + 1)).to.deep.equal([far]);
  });

  it('of equal places in one group, answers the last', () => {
    const t = table([[0x10, RELATIVE, 0, 1], [0x10, RELATIVE, 0, 2], [0x18, RELATIVE, 0, 3], [0x18, 1, 0, 4], [0x18, 1, 0, 5]]);
    const ix = relaDynIndex(t.rela, (o, l) => t.bytes.subarray(o, o + l), [''], RELATIVE);
    expect(ix.relocAt(0x10)!.addend).to.equal(2);
    expect(ix.relocAt(0x18)!.addend).to.equal(5);
    expect(ix.placesIn(0, 0x100)).to.deep.equal([0x10, 0x18]);
  });

  it('with only RELATIVE records, or none, finds them', () => {
    const only = table([[0x10, RELATIVE, 0, 1], [0x20, RELATIVE, 0, 2]]);
    const a = relaDynIndex(only.rela, (o, l) => only.bytes.subarray(o, o + l), [''], RELATIVE);
    expect([a.relocAt(0x10)!.addend, a.relocAt(0x20)!.addend]).to.deep.equal([1, 2]);
    const none = table([[0x10, 1, 0, 1], [0x20, 6, 0, 2]]);
    const b = relaDynIndex(none.rela, (o, l) => none.bytes.subarray(o, o + l), [''], RELATIVE);
    expect([b.relocAt(0x10)!.addend, b.relocAt(0x20)!.addend]).to.deep.equal([1, 2]);
  });

  it('reads only the records its binary searches look at, a word at a time, and sorts nothing', () => {
    const rows: Array<[number, number, number, number]> = [];
    for (let i = 0; i < 20000; i++) rows.push([0x10000 + i * 8, RELATIVE, 0, i]);
    for (let i = 0; i < 4000; i++) rows.push([0x8000 + i * 8, 6, 1, 0]);
    const t = table(rows);
    const asked: Array<[number, number]> = [];
    const ix = relaDynIndex(t.rela, (o, l) => {
      asked.push([o, l]);
      return t.bytes.subarray(o, o + l);
    }, ['', 'g'], RELATIVE);
    expect(ix.relocAt(0x10000 + 777 * 8)!.addend).to.equal(777);
    expect(ix.relocAt(0x8000 + 5 * 8)).to.deep.equal({ type: 6, sym: 'g', addend: 0 });
    expect(ix.relocAt(0x10000 + 777 * 8 + 4)).to.equal(undefined);
    expect(ix.placesIn(0x10000 + 100 * 8, 0x10000 + 104 * 8)).to.deep.equal([0, 1, 2, 3].map((k) => 0x10000 + (100 + k) * 8));
    expect(ix.placesIn(0x8000 + 3998 * 8, 0x10000 + 2 * 8)).to.deep.equal([0x8000 + 3998 * 8, 0x8000 + 3999 * 8, 0x10000, 0x10000 + 8]);
    // A lazily read previous output reads the 64 KiB chunks these words lie in, not the 576 kB table.
    expect(asked.every(([, l]) => l === 4), 'words').to.equal(true);
    const touched = new Set(asked.map(([o]) => Math.floor((o - t.rela.offset) / 24)));
    // Five binary searches over 24000 rows (about 15 probes each) and the 8 rows the two ranges return.
    expect(touched.size).to.be.within(8, 120);
  });

  it('an image without .rela.dyn has none', () => {
    const none = relaDynIndex(undefined, read, [], RELATIVE);
    expect(none.relocAt(0x3000)).to.equal(undefined);
    expect(none.placesIn(0, 2 ** 40)).to.deep.equal([]);
  });
});

// The ranges a changed object's atoms cover are searched for records as their union, a few ranges.
describe('the ranges a patch searches .rela.dyn over', () => {
  it('are the union of the atoms\' ranges, disjoint and ascending', () => {
    // Slot after slot, given out of order; a moved atom's old place inside another range; a range apart.
    expect(coalesceRanges([[0x2010, 0x2030], [0x2000, 0x2010], [0x2030, 0x2040], [0x2020, 0x2021], [0x5000, 0x5008]]))
      .to.deep.equal([[0x2000, 0x2040], [0x5000, 0x5008]]);
    // A range that ends inside the one before it does not cut that one short.
    expect(coalesceRanges([[0x100, 0x200], [0x110, 0x120]])).to.deep.equal([[0x100, 0x200]]);
    // A gap of one byte keeps two ranges.
    expect(coalesceRanges([[0, 8], [9, 16]])).to.deep.equal([[0, 8], [9, 16]]);
    expect(coalesceRanges([])).to.deep.equal([]);
  });
});
