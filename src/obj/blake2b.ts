import { blake2b as nobleBlake2b } from '@noble/hashes/blake2.js';

/**
 * BLAKE2b-512, truncated by callers to the 32-byte content id (DESIGN.md
 * section 2). Node's native hash is ~25x faster than the pure-JavaScript one
 * and gives the same bytes, so it is used wherever it exists; noble's serves
 * where there is no node:crypto (a browser).
 */
export type Hasher = (chunks: readonly Uint8Array[]) => Uint8Array;

/**
 * node:crypto, taken synchronously (process.getBuiltinModule, Node 20.16 and
 * later) rather than by a top-level await, so that this module also bundles
 * as CommonJS (the command line's bundle, package.json's build); undefined
 * where there is no Node.
 */
const nodeCrypto = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } })
  .process?.getBuiltinModule?.('node:crypto') as typeof import('node:crypto') | undefined;

/** node:crypto's `algorithm` over the concatenation of its chunks; undefined where there is no node:crypto. */
export function nativeHasher(algorithm: string): Hasher | undefined {
  if (!nodeCrypto) return undefined;
  const crypto = nodeCrypto;
  return (chunks) => {
    const h = crypto.createHash(algorithm);
    for (const c of chunks) h.update(c);
    const d = h.digest();
    return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
  };
}

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

let oneShot = (bytes: Uint8Array): Uint8Array => hasher([bytes]);

const oneShotHash = (nodeCrypto as unknown as { hash?: (algorithm: string, data: Uint8Array, encoding: 'buffer') => Uint8Array } | undefined)?.hash;
if (typeof oneShotHash === 'function') {
  oneShot = (bytes) => {
    const d = oneShotHash('blake2b512', bytes, 'buffer');
    return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
  };
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
