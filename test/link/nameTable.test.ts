import { expect } from 'chai';
import { NameTable, nameHash } from '../../src/link/nameTable.js';

/** A deterministic generator (xorshift32), so that a failure repeats. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

describe('NameTable (resolution\'s names to ids)', () => {
  it('finds what was set, and nothing else, through growth', () => {
    const t = new NameTable(4);
    const names: string[] = [];
    for (let i = 0; i < 5000; i++) names.push(`u${String(i >> 7).padStart(4, '0')}_f${i & 127}`);
    names.forEach((n, i) => t.set(n, i * 3));
    expect(t.size).to.equal(names.length);
    names.forEach((n, i) => {
      expect(t.get(n), n).to.equal(i * 3);
      expect(t.has(n)).to.equal(true);
    });
    // Near misses: a prefix, one more character, one character changed.
    for (const n of ['u0000_f', 'u0000_f1x', 'u0000_f128', 'v0000_f1', '', 'U0000_f1']) {
      expect(t.get(n), n).to.equal(undefined);
      expect(t.has(n)).to.equal(false);
    }
  });

  it('replaces an id without adding a name; tells apart names by every code unit', () => {
    const t = new NameTable();
    t.set('_start', 0).set('main', 1).set('', 2).set('caf\u00e9', 3).set('cafe\u0301', 4).set('\u{1f600}', 5);
    t.set('main', 7);
    expect(t.size).to.equal(6);
    expect([t.get('_start'), t.get('main'), t.get(''), t.get('caf\u00e9'), t.get('cafe\u0301'), t.get('\u{1f600}')]).to.deep.equal([0, 7, 2, 3, 4, 5]);
    expect(t.get('cafe')).to.equal(undefined);
    expect(t.get('\u{1f601}')).to.equal(undefined);
  });

  it('agrees with a Map over random names, ids and lookups', () => {
    const r = rng(12345);
    const t = new NameTable(1);
    const m = new Map<string, number>();
    const alphabet = 'ab_.$Z\u00e9';
    for (let k = 0; k < 20000; k++) {
      let n = '';
      for (let len = Math.floor(r() * 6); len > 0; len--) n += alphabet[Math.floor(r() * alphabet.length)];
      if (r() < 0.5) {
        const id = Math.floor(r() * 1000);
        t.set(n, id);
        m.set(n, id);
      } else {
        expect(t.get(n), JSON.stringify(n)).to.equal(m.get(n));
      }
    }
    expect(t.size).to.equal(m.size);
    for (const [n, id] of m) expect(t.get(n)).to.equal(id);
  });

  it('keeps apart two names with the same hash', () => {
    // Among 2^17 names two 32-bit hashes are likely the same (the birthday bound); find such a pair.
    const seen = new Map<number, string>();
    let pair: [string, string] | null = null;
    for (let i = 0; !pair && i < 1 << 20; i++) {
      const n = `sym${i}`;
      const other = seen.get(nameHash(n));
      if (other !== undefined) pair = [other, n];
      else seen.set(nameHash(n), n);
    }
    expect(pair, 'no two names with the same hash').to.not.equal(null);
    const [a, b] = pair!;
    const t = new NameTable();
    t.set(a, 1);
    expect(t.get(b)).to.equal(undefined);
    t.set(b, 2);
    expect([t.get(a), t.get(b), t.size]).to.deep.equal([1, 2, 2]);
  });

  it('takes only ids that fit its slots', () => {
    const t = new NameTable();
    for (const bad of [-1, 2 ** 31, 1.5, Number.NaN]) expect(() => t.set('x', bad)).to.throw(RangeError);
    t.set('x', 2 ** 31 - 1);
    expect(t.get('x')).to.equal(2 ** 31 - 1);
  });
});
