import { blake2b as nobleBlake2b } from '@noble/hashes/blake2.js';

/**
 * BLAKE2b-512, truncated by callers to the 32-byte content id (DESIGN.md
 * section 2). Node's native hash is ~25x faster than the pure-JavaScript one
 * and gives the same bytes, so it is used wherever it exists; noble's serves
 * where there is no node:crypto (a browser).
 */
type Hasher = (chunks: readonly Uint8Array[]) => Uint8Array;

let hasher: Hasher = (chunks) => {
  const h = nobleBlake2b.create({ dkLen: 64 });
  for (const c of chunks) h.update(c);
  return h.digest();
};

try {
  const crypto = await import('node:crypto');
  hasher = (chunks) => {
    const h = crypto.createHash('blake2b512');
    for (const c of chunks) h.update(c);
    const d = h.digest();
    return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
  };
} catch {
  // no node:crypto here: keep the portable implementation
}

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

let oneShot = (bytes: Uint8Array): Uint8Array => hasher([bytes]);

try {
  const crypto = await import('node:crypto');
  const hash = (crypto as unknown as { hash?: (algorithm: string, data: Uint8Array, encoding: 'buffer') => Uint8Array }).hash;
  if (typeof hash === 'function') {
    oneShot = (bytes) => {
      const d = hash('blake2b512', bytes, 'buffer');
      return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
    };
  }
} catch {
  // no node:crypto, or no one-shot hash: blake2b512 serves
}

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
