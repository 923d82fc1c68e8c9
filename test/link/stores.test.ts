import { expect } from 'chai';
import { write64 } from '../../src/link/arch/Arch.js';

// write64 splits a number into halves without BigInt; it must store what
// the BigInt form stores, two's complement for negative values.
describe('64-bit little-endian stores', () => {
  it('store what setBigUint64 stores, across the 32-bit and sign boundaries', () => {
    const values = [0, 1, 0x7fffffff, 0x80000000, 0xffffffff, 2 ** 32, 2 ** 32 + 5, 0x123456789abc, 2 ** 53 - 1,
      -1, -4, -(2 ** 31), -(2 ** 31) - 1, -(2 ** 32), -(2 ** 32) - 1, -(2 ** 53 - 1)];
    for (const v of values) {
      const got = new Uint8Array(10).fill(0xaa);
      write64(got, 1, v);
      const want = new Uint8Array(10).fill(0xaa);
      new DataView(want.buffer).setBigUint64(1, BigInt.asUintN(64, BigInt(v)), true);
      expect([...got], String(v)).to.deep.equal([...want]);
    }
  });
});
