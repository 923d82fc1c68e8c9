/**
 * The session's image read on demand (src/session/image.ts): in 64 KiB
 * chunks through the caller's reader, each chunk read once (a small read
 * from a chunk not read yet reads its 4 KiB page), reads and
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

  it('reads only the chunks asked for, each once, a run of them in one read; a small read its page', function () {
    const { image, reads } = lazy();
    expect([...image.bytes(10, 5)]).to.deep.equal([...prior.subarray(10, 15)]);
    expect([...image.bytes(100, 20)]).to.deep.equal([...prior.subarray(100, 120)]);
    expect([...image.bytes(4090, 10)]).to.deep.equal([...prior.subarray(4090, 4100)]);
    expect([...image.bytes(5000, 256)]).to.deep.equal([...prior.subarray(5000, 5256)]);
    expect(reads, 'the first page, once; a read across pages as asked; the second page').to.deep.equal([[0, 4096], [4090, 10], [4096, 4096]]);
    expect([...image.bytes(1000, 257)]).to.deep.equal([...prior.subarray(1000, 1257)]);
    expect([...image.bytes(10, 5)]).to.deep.equal([...prior.subarray(10, 15)]);
    expect([...image.bytes(2000, 300)]).to.deep.equal([...prior.subarray(2000, 2300)]);
    expect(reads.slice(3), 'then the first chunk, once').to.deep.equal([[0, CHUNK]]);
    expect(image.takeBytesRead()).to.equal(4096 + 10 + 4096 + CHUNK);
    reads.splice(0, 4);
    const last = size - 10; // the last page is short
    expect([...image.bytes(last, 10)]).to.deep.equal([...prior.subarray(last, size)]);
    expect(reads).to.deep.equal([[Math.floor(last / 4096) * 4096, size - Math.floor(last / 4096) * 4096]]);
    reads.splice(0, 1);
    image.takeBytesRead();
    const across = image.bytes(2 * CHUNK - 7, CHUNK + 20);
    expect(Buffer.from(across).equals(Buffer.from(prior.subarray(2 * CHUNK - 7, 3 * CHUNK + 13))), 'bytes across chunks').to.equal(true);
    expect(reads, 'chunks 1 to 3 in one read; the last one short').to.deep.equal([[CHUNK, size - CHUNK]]);
    expect(image.takeBytesRead()).to.equal(size - CHUNK);
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
    // Small reads of written chunks come from the chunks (read whole before the writes), not the file.
    expect([...image.bytes(3 * CHUNK + 998, 2)]).to.deep.equal([prior[3 * CHUNK + 998], 0xee]);
    expect([...image.bytes(CHUNK - 1, 1)]).to.deep.equal([3]);
    expect(reads.map(([o]) => o / CHUNK), 'nothing more read').to.deep.equal([0, 3]);
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
