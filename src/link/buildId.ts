import { sha256 } from '../obj/sha256.js';
import { LinkError } from '../obj/LinkError.js';

/**
 * The build id (`--build-id`) is a hash of the whole image, taken as a
 * two-level tree over fixed-size chunks, so that an incremental link
 * rehashes only what it wrote: the chunks it touched, their groups' digests
 * and the top. Which digest it is does not matter to anyone reading it; only
 * its length does (fast: 8, md5/uuid: 16, sha1: 20 bytes, as lld). A 0x...
 * value is used verbatim.
 *
 *   chunk digest  = SHA-256(64 KiB of the image)
 *   group digest  = SHA-256(the 64 chunk digests of a group)
 *   top           = SHA-256(every group digest)
 *   build id      = top[0, size)
 *
 * SHA-256 rather than the content ids' BLAKE2b: a full link hashes its whole
 * image, and with the CPU's SHA extensions Node's SHA-256 is about twice as
 * fast (sha256.ts).
 *
 * Without the groups, every patch of a 225 MB program hashed the 3,600 chunk
 * digests (115 kB) twice: a quarter of a live relink's time.
 */

export const BUILD_ID_CHUNK = 64 * 1024;
/** Chunk digests per group digest. */
export const DIGEST_GROUP = 64;

export type BuildIdStyle = { kind: 'none' } | { kind: 'hash'; size: number } | { kind: 'hex'; bytes: Uint8Array };

export function parseBuildId(value: string | undefined): BuildIdStyle {
  switch (value) {
    case undefined: case 'fast': return { kind: 'hash', size: 8 };
    case 'none': return { kind: 'none' };
    case 'md5': case 'uuid': return { kind: 'hash', size: 16 };
    case 'sha1': case 'tree': return { kind: 'hash', size: 20 };
  }
  if (/^0x([0-9a-fA-F]{2})+$/.test(value)) {
    const hex = value.slice(2);
    const bytes = new Uint8Array(hex.length / 2);
    for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
    return { kind: 'hex', bytes };
  }
  throw new LinkError(`unknown --build-id style: ${value}`);
}

export function buildIdSize(style: BuildIdStyle): number {
  return style.kind === 'none' ? 0 : style.kind === 'hex' ? style.bytes.length : style.size;
}

/** The digest of one chunk, given as the pieces that make it up, in order. */
export function chunkDigest(pieces: readonly Uint8Array[]): Uint8Array {
  return sha256(pieces);
}

/** Per-chunk digests of `image` (the build id's own bytes must be zero when this runs). */
export function chunkDigests(image: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let at = 0; at < image.length; at += BUILD_ID_CHUNK) {
    out.push(chunkDigest([image.subarray(at, Math.min(image.length, at + BUILD_ID_CHUNK))]));
  }
  return out;
}

export function buildIdFromChunks(digests: readonly Uint8Array[], size: number): Uint8Array {
  return digestTop(digests).slice(0, size);
}

/**
 * The group digests of a list of chunk digests, computed as they are first
 * needed and kept for as long as the list lives. A list changed in place
 * must say so through setChunkDigest.
 */
const groupCache = new WeakMap<readonly Uint8Array[], (Uint8Array | undefined)[]>();

function groupDigest(digests: readonly Uint8Array[], g: number, replaced?: ReadonlyMap<number, Uint8Array>): Uint8Array {
  const from = g * DIGEST_GROUP;
  const to = Math.min(digests.length, from + DIGEST_GROUP);
  const all = new Uint8Array((to - from) * 32);
  for (let c = from; c < to; c++) all.set(replaced?.get(c) ?? digests[c], (c - from) * 32);
  return sha256([all]);
}

/**
 * The tree's top (64 bytes) over `digests`, with the chunks in `replaced`
 * taking their new digests (without changing `digests` or what is kept of
 * its groups).
 */
export function digestTop(digests: readonly Uint8Array[], replaced?: ReadonlyMap<number, Uint8Array>): Uint8Array {
  let groups = groupCache.get(digests);
  if (!groups) groupCache.set(digests, (groups = []));
  const changedGroups = new Set<number>();
  for (const c of replaced?.keys() ?? []) changedGroups.add(Math.floor(c / DIGEST_GROUP));
  const count = Math.ceil(digests.length / DIGEST_GROUP);
  const all = new Uint8Array(count * 32);
  for (let g = 0; g < count; g++) {
    if (changedGroups.has(g)) {
      all.set(groupDigest(digests, g, replaced), g * 32);
      continue;
    }
    all.set((groups[g] ??= groupDigest(digests, g)), g * 32);
  }
  return sha256([all]);
}

/** Sets chunk `c`'s digest in `digests`, forgetting its group's kept digest. */
export function setChunkDigest(digests: Uint8Array[], c: number, digest: Uint8Array): void {
  digests[c] = digest;
  const groups = groupCache.get(digests);
  if (groups) groups[Math.floor(c / DIGEST_GROUP)] = undefined;
}
