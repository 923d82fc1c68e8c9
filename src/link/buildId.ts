import { blake2b512 } from '../obj/blake2b.js';
import { LinkError } from '../obj/LinkError.js';

/**
 * The build id (`--build-id`) is a hash of the whole image, taken as a hash
 * of the hashes of fixed-size chunks, so that an incremental link can rehash
 * only the chunks it wrote. Which digest it is does not matter to anyone
 * reading it; only its length does (fast: 8, md5/uuid: 16, sha1: 20 bytes,
 * as lld). A 0x... value is used verbatim.
 */

export const BUILD_ID_CHUNK = 64 * 1024;

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

/** Per-chunk digests of `image` (the build id's own bytes must be zero when this runs). */
export function chunkDigests(image: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let at = 0; at < image.length; at += BUILD_ID_CHUNK) {
    out.push(blake2b512([image.subarray(at, Math.min(image.length, at + BUILD_ID_CHUNK))]).subarray(0, 32));
  }
  return out;
}

export function buildIdFromChunks(digests: readonly Uint8Array[], size: number): Uint8Array {
  return blake2b512(digests).slice(0, size);
}
