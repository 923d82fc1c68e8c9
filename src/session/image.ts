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
 * A small read (at most SMALL_READ bytes) from a chunk not read yet reads
 * the 4 KiB page it lies in, and keeps it apart from the chunks: a patch
 * looks at a few records scattered over large tables (a changed object's
 * globals in .symtab, the binary searches of .rela.dyn): at 200k functions
 * a one-function relink read 3.08 MB of the previous output in 47 chunks,
 * and reads 553 kB in 93 reads with pages. (Reading each record on its own
 * took 5,000 reads.) A chunk is read whole before a write goes into it and a read
 * looks at the chunk first, so a page is never read where the image has
 * changed.
 *
 * The lazy form keeps the chunks it has read, each in its own buffer: a
 * buffer of the image's full size would cost nothing in pages never
 * touched, but V8 counts it as external memory, and a large program's
 * image (tens of megabytes) sets off a full garbage collection.
 */

const CHUNK = 64 * 1024;
/** The largest read of a chunk not read yet that reads only its page. */
const SMALL_READ = 256;
const PAGE = 4096;

export class SessionImage implements ImageView {
  /** The whole image (null while it is read in chunks). */
  private buffer: Uint8Array | null;
  /** The chunks read so far (the lazy form). */
  private readonly chunks: (Uint8Array | undefined)[];
  /** Pages read for small reads of chunks not read, by page number. */
  private readonly pages = new Map<number, Uint8Array>();
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
      if (length <= SMALL_READ && !this.chunks[first]) return this.fromPage(offset, length);
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
    this.pages.clear();
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
      const got = this.readExactly(from, to - from);
      for (let k = c; k <= end; k++) chunks[k] = got.slice((k - c) * CHUNK, Math.min(got.length, (k - c + 1) * CHUNK));
      c = end;
    }
  }

  /** A small read from a chunk not read: from its page (read now if need be); one across two pages, on its own. */
  private fromPage(offset: number, length: number): Uint8Array {
    const p = Math.floor(offset / PAGE);
    if (offset + length > (p + 1) * PAGE) return this.readExactly(offset, length);
    let page = this.pages.get(p);
    if (!page) this.pages.set(p, (page = this.readExactly(p * PAGE, Math.min(PAGE, this.length - p * PAGE))));
    return page.subarray(offset - p * PAGE, offset - p * PAGE + length);
  }

  private readExactly(offset: number, length: number): Uint8Array {
    const got = this.reader!(offset, length);
    if (got.length !== length) throw new LinkError(`the previous output gave ${got.length} bytes at offset ${offset}, not ${length}: it changed while it was read`);
    this.read += length;
    return got;
  }
}
