import { expect } from 'chai';
import { ByteReader, decodeName, latin1String } from '../../src/obj/ByteReader.js';
import { StringTable } from '../../src/formats/elf/writeElf.js';

// The fast paths of reading names and addends and of building .strtab give what the plain ones gave.

describe('names and string tables', () => {
  it('decodes ASCII, Latin-1 and UTF-8 names as before', () => {
    const enc = new TextEncoder();
    for (const name of ['', 'main', '_ZN3foo3barEv', 'caf\u00e9', '\u4e2d\u6587', 'x'.repeat(10000)]) {
      const b = enc.encode(`\0${name}\0`);
      expect(decodeName(b, 1, b.length - 1)).to.equal(name);
    }
    const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
    expect(latin1String(bytes, 0, 256)).to.equal(String.fromCharCode(...bytes));
  });

  it('reads signed 64-bit fields exactly within 2^53 and rejects the rest', () => {
    const at = (v: bigint) => {
      const b = new Uint8Array(8);
      new DataView(b.buffer).setBigInt64(0, v, true);
      return new ByteReader(b, 'x.o');
    };
    // Both sides of the int32 fast path: -2^31, 2^31 - 1, and one past each.
    const edges = [-(2n ** 31n) - 1n, -(2n ** 31n), 2n ** 31n - 1n, 2n ** 31n, 2n ** 32n - 1n];
    for (const v of [0n, -1n, 1n, 2n ** 32n, -(2n ** 32n) - 1n, 2n ** 53n - 1n, -(2n ** 53n - 1n), ...edges]) expect(at(v).i64(0)).to.equal(Number(v));
    for (const v of [2n ** 53n, -(2n ** 53n), 2n ** 63n - 1n, -(2n ** 63n)]) expect(() => at(v).i64(0)).to.throw(/out of the supported range/);
  });

  it('reads unsigned 64-bit fields exactly below 2^53 and rejects the rest', () => {
    const at = (v: bigint) => {
      const b = new Uint8Array(8);
      new DataView(b.buffer).setBigUint64(0, v, true);
      return new ByteReader(b, 'x.o');
    };
    for (const v of [0n, 1n, 2n ** 31n - 1n, 2n ** 31n, 2n ** 32n - 1n, 2n ** 32n, 2n ** 53n - 1n]) expect(at(v).u64(0)).to.equal(Number(v));
    for (const v of [2n ** 53n, 2n ** 64n - 1n]) expect(() => at(v).u64(0, 'size')).to.throw(/size 0x[0-9a-f]+ is too large/);
  });

  it('a string table: offsets by UTF-8 length, each name once, NUL-terminated', () => {
    const t = new StringTable();
    const names = ['a', 'caf\u00e9', '\u{1f600}x', 'a', '', 'last'];
    const offsets = names.map((n) => t.add(n));
    const bytes = t.bytes();
    expect(bytes.length).to.equal(t.size);
    expect(offsets[3]).to.equal(offsets[0]);
    expect(offsets[4]).to.equal(0);
    names.forEach((n, i) => {
      const end = bytes.indexOf(0, offsets[i]);
      expect(new TextDecoder().decode(bytes.subarray(offsets[i], end))).to.equal(n);
    });
  });
});
