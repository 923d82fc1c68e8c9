import { blake2b as nobleBlake2b } from '@noble/hashes/blake2.js';
import { nativeHasher, nativeOneShot, type Hasher } from './nativeHash.js';

/*
 * BLAKE2b-512, truncated by callers to the 32-byte content id (DESIGN.md
 * section 2). Node's native hash is ~25x faster than the pure-JavaScript one
 * and gives the same bytes, so it is used wherever it exists; noble's serves
 * where there is no node:crypto (a browser).
 */

const hasher: Hasher = nativeHasher('blake2b512') ?? blake2b512Portable;

/** BLAKE2b-512 of the concatenation of `chunks`. */
export function blake2b512(chunks: readonly Uint8Array[]): Uint8Array {
  return hasher(chunks);
}

/**
 * BLAKE2b-512 of one buffer: the same bytes as blake2b512([bytes]), in one
 * call (Node's one-shot crypto.hash where it exists: about half the fixed
 * cost per hash, which counts over hundreds of thousands of small atoms).
 */
export function blake2b512One(bytes: Uint8Array): Uint8Array {
  return oneShot(bytes);
}

const oneShot = nativeOneShot('blake2b512') ?? ((bytes: Uint8Array): Uint8Array => hasher([bytes]));

/** The portable implementation, exposed so tests can check both agree. */
export function blake2b512Portable(chunks: readonly Uint8Array[]): Uint8Array {
  const h = nobleBlake2b.create({ dkLen: 64 });
  for (const c of chunks) h.update(c);
  return h.digest();
}

export function toHex(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += bytes[i].toString(16).padStart(2, '0');
  return s;
}
