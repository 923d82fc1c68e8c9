import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import { nativeHasher, type Hasher } from './nativeHash.js';

/**
 * SHA-256: the build id's tree of chunk digests (src/link/buildId.ts), which
 * hashes the whole image on every full link, and the incremental state's
 * checksums and input hashes (session/state.ts hashBytes). On a CPU with SHA
 * extensions Node's native SHA-256 runs at about twice BLAKE2b-512's speed
 * (1.6 against 0.9 GB/s on this project's machine: at 200k functions, 136
 * MB of image). Content ids stay BLAKE2b (contentId.ts). Node's native hash
 * where there is one, noble's elsewhere: the same bytes.
 */
export function sha256(chunks: readonly Uint8Array[]): Uint8Array {
  return hasher(chunks);
}

/** The portable implementation, exposed so tests can check both agree. */
export function sha256Portable(chunks: readonly Uint8Array[]): Uint8Array {
  const h = nobleSha256.create();
  for (const c of chunks) h.update(c);
  return h.digest();
}

const hasher: Hasher = nativeHasher('sha256') ?? sha256Portable;
