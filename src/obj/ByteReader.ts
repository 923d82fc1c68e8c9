import { LinkError, hex } from './LinkError.js';

/**
 * A bounds-checked little-endian view over an input's bytes. Every read past
 * the end becomes a LinkError naming the file and the offset, never a
 * RangeError from deep inside a parser.
 */
export class ByteReader {
  readonly view: DataView;

  constructor(readonly bytes: Uint8Array, readonly fileName: string) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get length(): number {
    return this.bytes.length;
  }

  fail(offset: number, what: string): never {
    throw new LinkError(`${this.fileName}: ${what} at offset ${hex(offset)}`);
  }

  /** Checks that [offset, offset+size) lies inside the input. */
  need(offset: number, size: number, what: string): void {
    if (!(offset >= 0 && size >= 0 && offset + size <= this.bytes.length)) {
      this.fail(offset, `${what} (${size} bytes) extends past the end of the file (${this.bytes.length} bytes)`);
    }
  }

  u8(off: number): number {
    this.need(off, 1, 'read');
    return this.bytes[off];
  }
  u16(off: number): number {
    this.need(off, 2, 'read');
    return this.view.getUint16(off, true);
  }
  u32(off: number): number {
    this.need(off, 4, 'read');
    return this.view.getUint32(off, true);
  }
  i32(off: number): number {
    this.need(off, 4, 'read');
    return this.view.getInt32(off, true);
  }
  /** A 64-bit unsigned field; values past 2^53 are rejected as malformed. */
  u64(off: number, what = 'field'): number {
    this.need(off, 8, 'read');
    const lo = this.view.getUint32(off, true);
    const hi = this.view.getUint32(off + 4, true);
    if (hi >= 0x200000) this.fail(off, `${what} ${hex((BigInt(hi) << 32n) | BigInt(lo))} is too large`);
    // The common case as an int32, which V8 keeps unboxed: a field that ever
    // holds the product below becomes a boxed double in every object of its shape.
    if (hi === 0 && lo < 0x80000000) return lo | 0;
    return hi * 0x100000000 + lo;
  }
  /** A signed 64-bit field (addends), exact within +-2^53. */
  i64(off: number): number {
    this.need(off, 8, 'read');
    // Two 32-bit halves rather than a BigInt: no allocation per addend.
    const lo = this.view.getUint32(off, true);
    const hi = this.view.getInt32(off + 4, true);
    // |value| <= 2^53 - 1: hi in [-2^21, 2^21), except -2^53 itself (hi = -2^21, lo = 0).
    if (hi >= 0x200000 || hi < -0x200000 || (hi === -0x200000 && lo === 0)) {
      this.fail(off, `value ${this.view.getBigInt64(off, true)} is out of the supported range`);
    }
    if (hi === (lo | 0) >> 31) return lo | 0; // fits in an int32 (see u64)
    return hi * 0x100000000 + lo;
  }

  slice(off: number, size: number, what: string): Uint8Array {
    this.need(off, size, what);
    return this.bytes.subarray(off, off + size);
  }

  /**
   * Bytes of names this reader may still decode. Names may share bytes (a
   * string table's entries can overlap, and tail merging makes them), so
   * without a bound a small file whose every symbol names the same long
   * string would cost time and memory quadratic in its size. A real object
   * decodes a few times its string tables at most.
   */
  private nameBudget = -1;

  /** A NUL-terminated string starting at `off`, which must end before `end`. */
  cstring(off: number, end: number, what: string): string {
    if (off < 0 || off >= end || end > this.bytes.length) this.fail(off, `${what}: string offset out of range`);
    if (this.nameBudget < 0) this.nameBudget = NAME_BUDGET_FACTOR * this.bytes.length + 4096;
    const limit = Math.min(end, off + this.nameBudget);
    let e = off;
    while (e < limit && this.bytes[e] !== 0) e++;
    if (e >= end) this.fail(off, `${what}: unterminated string`);
    if (e >= limit) {
      this.fail(off, `${what}: the names in this file add up to more than ${NAME_BUDGET_FACTOR} times its size (its string table entries overlap)`);
    }
    this.nameBudget -= e - off + 1;
    return decodeName(this.bytes, off, e);
  }
}

/** How many times its own size in names a file may decode (see ByteReader.cstring). */
export const NAME_BUDGET_FACTOR = 8;

const decoder = new TextDecoder('utf-8');

/**
 * Node's Buffer.latin1Slice, which takes any Uint8Array as `this`: for ASCII
 * the same string as String.fromCharCode, in about half the time (no
 * subarray per name). Absent outside Node.
 */
const latin1Slice = (globalThis as { Buffer?: { prototype: { latin1Slice?: (this: Uint8Array, start: number, end: number) => string } } })
  .Buffer?.prototype.latin1Slice;

/** Decodes names; symbol names are bytes, UTF-8 in practice. */
export function decodeName(bytes: Uint8Array, start: number, end: number): string {
  // Fast path for ASCII, which nearly every symbol name is.
  let ascii = true;
  for (let i = start; i < end; i++) if (bytes[i] >= 0x80) { ascii = false; break; }
  if (!ascii) return decoder.decode(bytes.subarray(start, end));
  return latin1String(bytes, start, end);
}

/** One character per byte (U+0000 to U+00FF): for ASCII names, and as a map key for any bytes. */
export function latin1String(bytes: Uint8Array, start: number, end: number): string {
  if (latin1Slice) return latin1Slice.call(bytes, start, end);
  let s = '';
  for (let i = start; i < end; i += 4096) {
    s += String.fromCharCode.apply(null, bytes.subarray(i, Math.min(end, i + 4096)) as unknown as number[]);
  }
  return s;
}
