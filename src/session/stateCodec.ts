import { LinkError } from '../obj/LinkError.js';

/**
 * Primitive encoding for the persisted state: little-endian fixed-width
 * numbers, length-prefixed byte strings and UTF-8 strings. Reads are
 * bounds-checked; a short or corrupt state is a StateError, which the session
 * answers with a full link.
 */

export class StateError extends LinkError {}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class StateWriter {
  private buf: Uint8Array;
  private dv: DataView;
  length = 0;

  constructor(capacity = 1 << 16) {
    this.buf = new Uint8Array(capacity);
    this.dv = new DataView(this.buf.buffer);
  }

  private ensure(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
    this.dv = new DataView(next.buffer);
  }
  u8(v: number): void {
    this.ensure(1);
    this.buf[this.length++] = v;
  }
  u32(v: number): void {
    this.ensure(4);
    this.dv.setUint32(this.length, v, true);
    this.length += 4;
  }
  /** Any JS number (addresses, sizes): stored as a float64, exact below 2^53. */
  num(v: number): void {
    this.ensure(8);
    this.dv.setFloat64(this.length, v, true);
    this.length += 8;
  }
  /** An unsigned 64-bit integer (file identities: device and inode numbers, sizes, times in ns). */
  u64(v: bigint): void {
    this.ensure(8);
    this.dv.setBigUint64(this.length, BigInt.asUintN(64, v), true);
    this.length += 8;
  }
  bytes(b: Uint8Array): void {
    this.u32(b.length);
    this.ensure(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }
  /** Fixed-size bytes with no length prefix. */
  raw(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }
  str(s: string): void {
    // Encoded in place (at most 3 bytes per UTF-16 unit); ASCII, the usual case, without the encoder.
    const n = s.length;
    this.ensure(4 + n * 3);
    const at = this.length + 4;
    const buf = this.buf;
    let written = 0;
    while (written < n) {
      const c = s.charCodeAt(written);
      if (c >= 0x80) break;
      buf[at + written++] = c;
    }
    if (written < n) written = encoder.encodeInto(s, buf.subarray(at)).written;
    this.dv.setUint32(this.length, written, true);
    this.length = at + written;
  }
  /** Room for a u32 written later (setU32): its position. */
  reserveU32(): number {
    this.ensure(4);
    this.length += 4;
    return this.length - 4;
  }
  setU32(at: number, v: number): void {
    this.dv.setUint32(at, v, true);
  }
  result(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
  /** What was written, without a copy: valid until the next write. */
  view(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }
}

export class StateReader {
  private readonly view: DataView;
  pos = 0;

  constructor(private readonly buf: Uint8Array) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }
  private need(n: number): void {
    if (n < 0 || this.pos + n > this.buf.length) throw new StateError(`truncated at offset ${this.pos}`);
  }
  u8(): number {
    this.need(1);
    return this.buf[this.pos++];
  }
  u32(): number {
    this.need(4);
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }
  num(): number {
    this.need(8);
    const v = this.view.getFloat64(this.pos, true);
    this.pos += 8;
    return v;
  }
  u64(): bigint {
    this.need(8);
    const v = this.view.getBigUint64(this.pos, true);
    this.pos += 8;
    return v;
  }
  /** A count of records to follow, each at least `minSize` bytes: checked before anything is allocated. */
  count(minSize: number): number {
    const n = this.u32();
    if (n * minSize > this.buf.length - this.pos) throw new StateError(`record count ${n} at offset ${this.pos - 4} exceeds the state's size`);
    return n;
  }
  bytes(): Uint8Array {
    const n = this.u32();
    this.need(n);
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }
  raw(n: number): Uint8Array {
    this.need(n);
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }
  str(): string {
    return decoder.decode(this.bytes());
  }
  get done(): boolean {
    return this.pos === this.buf.length;
  }
}
