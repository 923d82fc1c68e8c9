import { LinkError } from '../obj/LinkError.js';
import type { ImageView } from './patch.js';

/**
 * The image a LinkSession holds: either whole in memory (after a full link,
 * or a prior image given as bytes), or the previous output read on demand,
 * 64 KiB at a time, through the caller's reader (a prior image whose file
 * identity matches the state's: LinkSession.setPriorState). A patch reads
 * only what it looks at (patch.ts ImageView) and writes its ranges; the
 * rest is read only if the whole image is asked for (image(), or emit()
 * after a full link).
 *
 * The lazy form keeps the chunks it has read, each in its own buffer: a
 * buffer of the image's full size would cost nothing in pages never
 * touched, but V8 counts it as external memory, and a large program's
 * image (tens of megabytes) sets off a full garbage collection.
 */

const CHUNK = 64 * 1024;

export class SessionImage implements ImageView {
  /** The whole image (null while it is read in chunks). */
  private buffer: Uint8Array | null;
  /** The chunks read so far (the lazy form). */
  private readonly chunks: (Uint8Array | undefined)[];
  /** Bytes read through the reader since the last call of takeBytesRead(). */
  private read = 0;

  private constructor(
    readonly length: number,
    buffer: Uint8Array | null,
    private readonly reader: ((offset: number, length: number) => Uint8Array) | null,
  ) {
    this.buffer = buffer;
    this.chunks = buffer ? [] : new Array<Uint8Array | undefined>(Math.ceil(length / CHUNK));
  }

  static whole(bytes: Uint8Array): SessionImage {
    return new SessionImage(bytes.length, bytes, null);
  }

  static lazy(size: number, reader: (offset: number, length: number) => Uint8Array): SessionImage {
    return new SessionImage(size, null, reader);
  }

  /** The `length` bytes at `offset`: a view of the image when they lie in one chunk or it is whole, else a copy. */
  bytes(offset: number, length: number): Uint8Array {
    this.check(offset, length);
    if (this.buffer) return this.buffer.subarray(offset, offset + length);
    if (length === 0) return new Uint8Array(0);
    const first = Math.floor(offset / CHUNK);
    if (offset + length <= (first + 1) * CHUNK) {
      this.ensure(first, first);
      return this.chunks[first]!.subarray(offset - first * CHUNK, offset - first * CHUNK + length);
    }
    const out = new Uint8Array(length);
    this.eachChunk(offset, length, (chunk, at, from, n) => out.set(chunk.subarray(at, at + n), from));
    return out;
  }

  /** Writes `bytes` at `offset` (the chunks they fall in are read first, so the rest of each stays right). */
  set(bytes: Uint8Array, offset: number): void {
    this.check(offset, bytes.length);
    if (this.buffer) this.buffer.set(bytes, offset);
    else this.eachChunk(offset, bytes.length, (chunk, at, from, n) => chunk.set(bytes.subarray(from, from + n), at));
  }

  /** The whole image, read in full if it was not. */
  whole(): Uint8Array {
    if (this.buffer) return this.buffer;
    if (this.chunks.length) this.ensure(0, this.chunks.length - 1);
    const out = new Uint8Array(this.length);
    this.chunks.forEach((c, i) => out.set(c!, i * CHUNK));
    this.buffer = out;
    this.chunks.length = 0;
    return out;
  }

  takeBytesRead(): number {
    const n = this.read;
    this.read = 0;
    return n;
  }

  private check(offset: number, length: number): void {
    if (!Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length < 0 || offset + length > this.length) {
      throw new LinkError(`a read of ${length} bytes at offset ${offset} lies outside the ${this.length}-byte image`);
    }
  }

  /**
   * Calls `fn` for each chunk the `length` bytes at `offset` fall in, read first: the chunk, where in it
   * they start, where that is from `offset`, and how many bytes of them it holds.
   */
  private eachChunk(offset: number, length: number, fn: (chunk: Uint8Array, at: number, from: number, n: number) => void): void {
    if (length === 0) return;
    const first = Math.floor(offset / CHUNK);
    const last = Math.floor((offset + length - 1) / CHUNK);
    this.ensure(first, last);
    for (let c = first; c <= last; c++) {
      const start = Math.max(offset, c * CHUNK);
      const end = Math.min(offset + length, (c + 1) * CHUNK);
      fn(this.chunks[c]!, start - c * CHUNK, start - offset, end - start);
    }
  }

  /** Reads chunks `first`..`last` that are not read yet, each run of them in one read. */
  private ensure(first: number, last: number): void {
    const chunks = this.chunks;
    for (let c = first; c <= last; c++) {
      if (chunks[c]) continue;
      let end = c;
      while (end + 1 <= last && !chunks[end + 1]) end++;
      const from = c * CHUNK;
      const to = Math.min(this.length, (end + 1) * CHUNK);
      const got = this.reader!(from, to - from);
      if (got.length !== to - from) throw new LinkError(`the previous output gave ${got.length} bytes at offset ${from}, not ${to - from}: it changed while it was read`);
      for (let k = c; k <= end; k++) chunks[k] = got.slice((k - c) * CHUNK, Math.min(got.length, (k - c + 1) * CHUNK));
      this.read += got.length;
      c = end;
    }
  }
}
