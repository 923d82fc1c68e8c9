import { expect } from 'chai';
import { relaDynIndex } from '../../src/session/dynamicGate.js';

// The patch reads the prior image's .rela.dyn through a sorted index over its bytes.
describe('the .rela.dyn index of a patch', () => {
  const rows: Array<[number, number, number, number]> = [
    // r_offset, type, symbol index, addend
    [0x5000, 8, 0, 0x1234],
    [0x3000, 8, 0, -16],
    [0x2000000000, 1, 2, 8],
    [0x3000, 1, 1, 0],
    [0x4000, 6, 2, 0],
  ];
  const bytes = new Uint8Array(8 + rows.length * 24);
  const dv = new DataView(bytes.buffer);
  rows.forEach(([off, type, sym, addend], i) => {
    const at = 8 + i * 24;
    dv.setBigUint64(at, BigInt(off), true);
    dv.setUint32(at + 8, type, true);
    dv.setUint32(at + 12, sym, true);
    dv.setBigInt64(at + 16, BigInt(addend), true);
  });
  const read = (offset: number, length: number) => bytes.subarray(offset, offset + length);
  const index = relaDynIndex({ offset: 8, used: rows.length * 24 }, read, ['', 'foo', 'bar']);

  it('lists the places ascending, and finds each record by its place', () => {
    expect([...index.places]).to.deep.equal([0x3000, 0x3000, 0x4000, 0x5000, 0x2000000000]);
    expect(index.relocAt(0x5000)).to.deep.equal({ type: 8, sym: '', addend: 0x1234 });
    expect(index.relocAt(0x4000)).to.deep.equal({ type: 6, sym: 'bar', addend: 0 });
    expect(index.relocAt(0x2000000000)).to.deep.equal({ type: 1, sym: 'bar', addend: 8 });
  });

  it('answers the last record at a place with two, and nothing between records', () => {
    expect(index.relocAt(0x3000)).to.deep.equal({ type: 1, sym: 'foo', addend: 0 });
    for (const place of [0, 0x2fff, 0x3001, 0x4008, 0x6000, 0x3000000000]) expect(index.relocAt(place)).to.equal(undefined);
  });

  it('decodes negative addends', () => {
    const one = relaDynIndex({ offset: 8 + 24, used: 24 }, read, ['']);
    expect(one.relocAt(0x3000)).to.deep.equal({ type: 8, sym: '', addend: -16 });
  });

  it('sorts places too large to pack with their row the slow way, with the same answers', () => {
    const far = 2 ** 51;
    const big = new Uint8Array(8 * 24);
    const bv = new DataView(big.buffer);
    const offsets = [far + 7, 16, far, 8, far + 7, 24, far - 8, 0];
    offsets.forEach((off, i) => {
      bv.setBigUint64(i * 24, BigInt(off), true);
      bv.setUint32(i * 24 + 8, 8, true);
      bv.setBigInt64(i * 24 + 16, BigInt(i), true);
    });
    const ix = relaDynIndex({ offset: 0, used: big.length }, (o, l) => big.subarray(o, o + l), ['']);
    expect([...ix.places]).to.deep.equal([...offsets].sort((a, b) => a - b));
    expect(ix.relocAt(far + 7)!.addend, 'the later of two').to.equal(4);
    expect(ix.relocAt(far - 8)!.addend).to.equal(6);
    expect(ix.relocAt(0)!.addend).to.equal(7);
  });

  it('an image without .rela.dyn has none', () => {
    const none = relaDynIndex(undefined, read, []);
    expect(none.places.length).to.equal(0);
    expect(none.relocAt(0x3000)).to.equal(undefined);
  });
});
