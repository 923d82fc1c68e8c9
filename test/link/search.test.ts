import { expect } from 'chai';
import { lowerBound, partitionPoint } from '../../src/link/search.js';

describe('binary search (partitionPoint, lowerBound)', () => {
  it('finds where a predicate turns false, as a scan does, over whole ranges and parts of them', () => {
    let x = 7;
    const next = () => (x = (Math.imul(x, 1103515245) + 12345) >>> 0) % 50;
    for (let round = 0; round < 200; round++) {
      const a = Array.from({ length: next() }, next).sort((p, q) => p - q);
      for (const v of [-1, 0, 3, 25, 49, 50, a[0] ?? 0, a[a.length - 1] ?? 0]) {
        const scan = a.findIndex((e) => e >= v);
        expect(lowerBound(a, v), `${v} in [${a}]`).to.equal(scan < 0 ? a.length : scan);
        const lo = Math.min(a.length, 2), hi = Math.max(lo, a.length - 1);
        let want = lo;
        while (want < hi && a[want] <= v) want++;
        expect(partitionPoint(lo, hi, (i) => a[i] <= v), `${v} in [${a}] from ${lo} to ${hi}`).to.equal(want);
      }
    }
  });

  it('gives hi when the predicate holds throughout, lo when it never does, and lo for an empty range', () => {
    expect(partitionPoint(3, 9, () => true)).to.equal(9);
    expect(partitionPoint(3, 9, () => false)).to.equal(3);
    expect(partitionPoint(4, 4, () => true)).to.equal(4);
    expect(lowerBound(new Float64Array(0), 1)).to.equal(0);
  });
});
