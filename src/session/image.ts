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
 * The lazy form keeps one buffer of the image's full size: the memory of
 * pages never read or written is not touched, so it costs address space,
 * not memory.
 */

const CHUNK = 64 * 1024;

export class SessionImage implements ImageView {
  /** Per chunk: 1 once read (null: all of it is). */
  private loaded: Uint8Array | null;
  /** Chunks not read yet. */
  private missing: number;
  /** Bytes read through the reader since the last call of takeBytesRead(). */
  private read = 0;

  private constructor(
    readonly buffer: Uint8Array,
    private readonly reader: ((offset: number, length: number) => Uint8Array) | null,
  ) {
    this.loaded = reader ? new Uint8Array(Math.ceil(buffer.length / CHUNK)) : null;
    this.missing = this.loaded ? this.loaded.length : 0;
  }

  static whole(bytes: Uint8Array): SessionImage {
    return new SessionImage(bytes, null);
  }

  static lazy(size: number, reader: (offset: number, length: number) => Uint8Array): SessionImage {
    return new SessionImage(new Uint8Array(size), reader);
  }

  get length(): number {
    return this.buffer.length;
  }

  bytes(offset: number, length: number): Uint8Array {
    this.ensure(offset, length);
    return this.buffer.subarray(offset, offset + length);
  }

  /** Writes `bytes` at `offset` (the chunks they fall in are read first, so the rest of each stays right). */
  set(bytes: Uint8Array, offset: number): void {
    this.ensure(offset, bytes.length);
    this.buffer.set(bytes, offset);
  }

  /** The whole image, read in full if it was not. */
  whole(): Uint8Array {
    this.ensure(0, this.buffer.length);
    return this.buffer;
  }

  takeBytesRead(): number {
    const n = this.read;
    this.read = 0;
    return n;
  }

  private ensure(offset: number, length: number): void {
    if (!Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length < 0 || offset + length > this.buffer.length) {
      throw new LinkError(`a read of ${length} bytes at offset ${offset} lies outside the ${this.buffer.length}-byte image`);
    }
    const loaded = this.loaded;
    if (!loaded || length === 0) return;
    const last = Math.floor((offset + length - 1) / CHUNK);
    for (let c = Math.floor(offset / CHUNK); c <= last; c++) {
      if (loaded[c]) continue;
      // A run of chunks not read yet, in one read.
      let end = c;
      while (end + 1 <= last && !loaded[end + 1]) end++;
      const from = c * CHUNK;
      const to = Math.min(this.buffer.length, (end + 1) * CHUNK);
      const got = this.reader!(from, to - from);
      if (got.length !== to - from) throw new LinkError(`the previous output gave ${got.length} bytes at offset ${from}, not ${to - from}: it changed while it was read`);
      this.buffer.set(got, from);
      this.read += got.length;
      loaded.fill(1, c, end + 1);
      this.missing -= end + 1 - c;
      c = end;
    }
    if (this.missing === 0) this.loaded = null;
  }
}
