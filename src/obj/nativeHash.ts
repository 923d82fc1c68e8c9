/** A hash of the concatenation of `chunks`. */
export type Hasher = (chunks: readonly Uint8Array[]) => Uint8Array;

/**
 * node:crypto, taken synchronously (process.getBuiltinModule, Node 20.16 and
 * later) rather than by a top-level await, so that the hash modules also
 * bundle as CommonJS (the command line's bundle, package.json's build);
 * undefined where there is no Node (a browser: the callers use noble's
 * implementations, which give the same bytes).
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

/**
 * node:crypto's one-shot `algorithm` of one buffer (crypto.hash, Node 21.7
 * and later: about half the fixed cost of a Hash object); undefined where
 * there is none.
 */
export function nativeOneShot(algorithm: string): ((bytes: Uint8Array) => Uint8Array) | undefined {
  const hash = (nodeCrypto as unknown as { hash?: (algorithm: string, data: Uint8Array, encoding: 'buffer') => Uint8Array } | undefined)?.hash;
  if (typeof hash !== 'function') return undefined;
  return (bytes) => {
    const d = hash(algorithm, bytes, 'buffer');
    return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
  };
}
