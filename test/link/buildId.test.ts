import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { BUILD_ID_CHUNK, DIGEST_GROUP, buildIdFromChunks, chunkDigests, digestTop, setChunkDigest } from '../../src/link/buildId.js';
import { sha256, sha256Portable } from '../../src/obj/sha256.js';

/** Deterministic bytes: an image of `chunks` chunks (the last one short). */
function image(chunks: number): Uint8Array {
  const out = new Uint8Array(chunks * BUILD_ID_CHUNK - 100);
  let x = 1;
  for (let i = 0; i < out.length; i += 64) out[i] = x = (x * 1103515245 + 12345) >>> 0 & 0xff;
  return out;
}

/** The tree as doc/elf-output.md describes it, written out without the kept group digests. */
function topByHand(digests: readonly Uint8Array[]): Uint8Array {
  const groups: Uint8Array[] = [];
  for (let g = 0; g < digests.length; g += DIGEST_GROUP) groups.push(sha256(digests.slice(g, g + DIGEST_GROUP)));
  return sha256(groups);
}

describe('build id: the two-level digest tree', () => {
  it('is the hash of the group digests of the chunk digests', () => {
    const digests = chunkDigests(image(3 * DIGEST_GROUP + 5));
    expect(digests.length).to.equal(3 * DIGEST_GROUP + 5);
    expect(Buffer.from(digestTop(digests))).to.deep.equal(Buffer.from(topByHand(digests)));
    expect(Buffer.from(buildIdFromChunks(digests, 20))).to.deep.equal(Buffer.from(topByHand(digests).subarray(0, 20)));
  });

  it('with replaced chunks, equals the tree of the changed image, and leaves the list alone', () => {
    const bytes = image(2 * DIGEST_GROUP + 1);
    const digests = chunkDigests(bytes);
    const before = Buffer.from(digestTop(digests)); // keeps the group digests
    const changed = bytes.slice();
    changed[5] ^= 1; // group 0
    changed[DIGEST_GROUP * 2 * BUILD_ID_CHUNK + 7] ^= 1; // the last, short group
    const after = chunkDigests(changed);
    const replaced = new Map([[0, after[0]], [DIGEST_GROUP * 2, after[DIGEST_GROUP * 2]]]);
    expect(Buffer.from(digestTop(digests, replaced))).to.deep.equal(Buffer.from(topByHand(after)));
    expect(Buffer.from(digestTop(digests))).to.deep.equal(before);
  });

  it('forgets a kept group digest when a chunk digest is set', () => {
    const bytes = image(DIGEST_GROUP + 3);
    const digests = chunkDigests(bytes);
    digestTop(digests);
    const changed = bytes.slice();
    changed[DIGEST_GROUP * BUILD_ID_CHUNK + 1] ^= 0x80;
    setChunkDigest(digests, DIGEST_GROUP, chunkDigests(changed)[DIGEST_GROUP]);
    expect(Buffer.from(digestTop(digests))).to.deep.equal(Buffer.from(topByHand(chunkDigests(changed))));
  });

  it('each chunk digest is SHA-256 of the chunk; Node\'s SHA-256 and the portable one agree', () => {
    const bytes = image(2);
    const digests = chunkDigests(bytes);
    expect(Buffer.from(digests[1])).to.deep.equal(Buffer.from(createHash('sha256').update(bytes.subarray(BUILD_ID_CHUNK)).digest()));
    const parts = [bytes.subarray(0, 1000), bytes.subarray(1000, 1001), bytes.subarray(1001, BUILD_ID_CHUNK)];
    expect(Buffer.from(sha256Portable(parts))).to.deep.equal(Buffer.from(digests[0]));
    expect(Buffer.from(sha256(parts))).to.deep.equal(Buffer.from(digests[0]));
  });
});
