/** Fills [start, end) of `buf` with `pattern` repeated (a trap instruction in code padding). */
export function fillPattern(buf: Uint8Array, start: number, end: number, pattern: Uint8Array): void {
  if (pattern.length === 1) {
    buf.fill(pattern[0], start, end);
    return;
  }
  for (let p = start; p < end; p += pattern.length) buf.set(pattern.subarray(0, Math.min(pattern.length, end - p)), p);
}
