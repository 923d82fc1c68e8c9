/**
 * Node's Buffer.compare (memcmp), which takes any Uint8Array; absent outside
 * Node. Worth its call from a few dozen bytes on (the comparisons of whole
 * sections that let a live relink skip hashing them: contentId.ts).
 */
const nativeCompare = (globalThis as { Buffer?: { compare?: (a: Uint8Array, b: Uint8Array) => number } }).Buffer?.compare;

/** Whether `a` and `b` hold the same bytes. */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  if (nativeCompare && a.length > 64) return nativeCompare(a, b) === 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
