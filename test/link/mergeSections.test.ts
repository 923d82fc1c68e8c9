import { expect } from 'chai';
import { MergedSection, bytesHash, mergedOffset, splitPieces } from '../../src/link/mergeSections.js';
import { AtomKind, SecFlag, type Atom } from '../../src/obj/model.js';
import { Relocs } from '../../src/obj/relocs.js';

// Merging SHF_MERGE atoms: pieces deduplicated across atoms, each at its
// input alignment, and every input offset mapped to its piece's copy.

function atom(bytes: number[] | string, entSize: number, align: number, strings: boolean): Atom {
  const data = typeof bytes === 'string' ? new TextEncoder().encode(bytes) : Uint8Array.from(bytes);
  return {
    index: 0, name: strings ? '.rodata.str1.1' : '.rodata.cst4', kind: AtomKind.ROData,
    flags: SecFlag.Alloc | SecFlag.Merge | (strings ? SecFlag.Strings : 0), align, size: data.length, data,
    relocs: Relocs.none, entSize, group: -1, rawType: 1,
  };
}

describe('merged sections', () => {
  it('strings: each once, at its alignment, with every offset mapped into its copy', () => {
    const m = new MergedSection('k', '.rodata', true, 1);
    const a = atom('hello\0world\0hello\0', 1, 1, true);
    const b = atom('world\0bye\0', 1, 4, true);
    const ma = m.add(a, 'a.o', 7);
    const mb = m.add(b, 'b.o', 7);
    const out = m.contents();
    expect(out.length).to.equal(m.size);
    expect(new TextDecoder().decode(out)).to.equal('hello\0world\0bye\0');
    expect(m.align).to.equal(4);
    // "bye" is new in b (aligned 4: offset 12); "world" is a's copy.
    expect([...mb.outStart]).to.deep.equal([6, 12]);
    expect([...ma.inStart]).to.deep.equal([0, 6, 12]);
    expect(mergedOffset(ma, 14, 'a.o')).to.equal(2); // inside the second "hello"
    expect(mergedOffset(mb, 2, 'b.o')).to.equal(8);
    expect(splitPieces(a, 'a.o')).to.deep.equal([[0, 6], [6, 12], [12, 18]]);
  });

  it('fixed-size entries and an alignment gap filled with zeros', () => {
    const m = new MergedSection('k', '.rodata', false, 4);
    m.add(atom([1, 2, 3, 4, 5, 6], 2, 2, false), 'a.o', 0);
    const mb = m.add(atom([9, 9, 9, 9, 1, 2, 0, 0], 4, 8, false), 'b.o', 0);
    expect([...m.contents()]).to.deep.equal([1, 2, 3, 4, 5, 6, 0, 0, 9, 9, 9, 9, 0, 0, 0, 0, 1, 2, 0, 0]);
    expect([...mb.outStart]).to.deep.equal([8, 16]);
  });

  it('many strings: each distinct one once, through the table\'s growth, the same as a dedup by value', () => {
    const m = new MergedSection('k', '.debug_str', true, 1);
    const want = new Map<string, number>();
    let expected = '';
    for (let f = 0; f < 20; f++) {
      // Names shared between atoms, prefixes of one another, and one letter apart at the same length.
      const strs = Array.from({ length: 400 }, (_, i) => [`u${(i + f * 37) % 600}_f`, `u${(i + f * 37) % 600}_fn`, `v${i}`][i % 3]);
      const map = m.add(atom(strs.map((x) => `${x}\0`).join(''), 1, 1, true), `u${f}.o`, 0);
      let off = 0;
      strs.forEach((x, k) => {
        if (!want.has(x)) {
          want.set(x, expected.length);
          expected += `${x}\0`;
        }
        expect(map.inStart[k]).to.equal(off);
        expect(map.outStart[k], x).to.equal(want.get(x));
        off += x.length + 1;
      });
    }
    expect(m.pieceCount).to.equal(want.size);
    expect(new TextDecoder().decode(m.contents())).to.equal(expected);
  });

  it('keeps apart two pieces with the same hash and length', () => {
    // 8-byte entries: among 2^17 of them two 32-bit hashes are likely the same (the birthday bound).
    const seen = new Map<number, number>();
    let pair: [number, number] | null = null;
    const entry = (i: number): number[] => {
      const a = Math.imul(i, 0x9e3779b1) >>> 0, b = Math.imul(i ^ 0x5bd1e995, 0x85ebca6b) >>> 0;
      return [a & 0xff, (a >>> 8) & 0xff, (a >>> 16) & 0xff, a >>> 24, b & 0xff, (b >>> 8) & 0xff, (b >>> 16) & 0xff, b >>> 24];
    };
    for (let i = 0; !pair && i < 1 << 20; i++) {
      const h = bytesHash(Uint8Array.from(entry(i)), 0, 8);
      const other = seen.get(h);
      if (other !== undefined) pair = [other, i];
      else seen.set(h, i);
    }
    expect(pair, 'no two entries with the same hash').to.not.equal(null);
    const m = new MergedSection('k', '.rodata', false, 8);
    const ma = m.add(atom([...entry(pair![0]), ...entry(pair![1]), ...entry(pair![0])], 8, 8, false), 'a.o', 0);
    expect([...ma.outStart]).to.deep.equal([0, 8, 0]);
    expect(m.pieceCount).to.equal(2);
  });

  it('a string without its NUL and a size not a multiple of the entry size are errors naming the file', () => {
    expect(() => new MergedSection('k', '.rodata', true, 1).add(atom('abc', 1, 1, true), 'x.o', 0)).to.throw(/x\.o:\(\.rodata\.str1\.1\): string is not null terminated at offset 0x0/);
    expect(() => new MergedSection('k', '.rodata', false, 4).add(atom([1, 2, 3], 2, 2, false), 'y.o', 0)).to.throw(/y\.o:\(\.rodata\.cst4\): section size is not a multiple of its entry size 2/);
  });
});
