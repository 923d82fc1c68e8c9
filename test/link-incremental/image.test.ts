/**
 * The session's image read on demand (src/session/image.ts): in 64 KiB
 * chunks through the caller's reader, each chunk read once, reads and
 * writes that cross chunks, and the whole image at the end equal to the
 * prior image with the writes applied, as a whole image given as bytes
 * gives.
 */
import { expect } from 'chai';
import { SessionImage } from '../../src/session/image.js';

const CHUNK = 64 * 1024;

/** A deterministic image of `size` bytes. */
function pattern(size: number): Uint8Array {
  const b = new Uint8Array(size);
  let x = 0x12345678;
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

describe('the session image read on demand', function () {
  const size = 3 * CHUNK + 1000;
  const prior = pattern(size);

  /** A lazy image of `prior`, recording each read. */
  function lazy() {
    const reads: Array<[number, number]> = [];
    const image = SessionImage.lazy(size, (offset, length) => {
      reads.push([offset, length]);
      return prior.slice(offset, offset + length);
    });
    return { image, reads };
  }

  it('reads only the chunks asked for, each once, a run of them in one read', function () {
    const { image, reads } = lazy();
    expect([...image.bytes(10, 5)]).to.deep.equal([...prior.subarray(10, 15)]);
    expect([...image.bytes(100, 20)]).to.deep.equal([...prior.subarray(100, 120)]);
    expect(reads, 'the first chunk, once').to.deep.equal([[0, CHUNK]]);
    const across = image.bytes(2 * CHUNK - 7, CHUNK + 20);
    expect(Buffer.from(across).equals(Buffer.from(prior.subarray(2 * CHUNK - 7, 3 * CHUNK + 13))), 'bytes across chunks').to.equal(true);
    expect(reads.slice(1), 'chunks 1 to 3 in one read; the last one short').to.deep.equal([[CHUNK, size - CHUNK]]);
    expect(image.takeBytesRead()).to.equal(size);
    expect(image.takeBytesRead(), 'counted since the last call').to.equal(0);
  });

  it('writes across chunks land where a whole image puts them, and the whole image is the prior one with them', function () {
    const { image, reads } = lazy();
    const whole = SessionImage.whole(prior.slice());
    const writes: Array<[number, Uint8Array]> = [
      [CHUNK - 3, Uint8Array.of(1, 2, 3, 4, 5, 6)],
      [3 * CHUNK + 999, Uint8Array.of(0xee)],
      [5, new Uint8Array(0)],
    ];
    for (const [at, bytes] of writes) {
      image.set(bytes, at);
      whole.set(bytes, at);
    }
    expect(reads.map(([o]) => o / CHUNK), 'only the chunks written to are read').to.deep.equal([0, 3]);
    expect([...image.bytes(CHUNK - 4, 8)]).to.deep.equal([prior[CHUNK - 4], 1, 2, 3, 4, 5, 6, prior[CHUNK + 3]]);
    expect(Buffer.from(image.whole()).equals(Buffer.from(whole.whole())), 'the whole image').to.equal(true);
    expect(image.whole().length).to.equal(size);
  });

  it('refuses a range outside the image, and a reader that gives short', function () {
    const { image } = lazy();
    expect(() => image.bytes(size - 2, 3)).to.throw(/a read of 3 bytes at offset \d+ lies outside the \d+-byte image/);
    const short = SessionImage.lazy(size, (offset, length) => prior.slice(offset, offset + length - 1));
    expect(() => short.bytes(0, 1)).to.throw(/it changed while it was read/);
  });
});
