import { closeSync, openSync, readSync } from 'node:fs';

/**
 * The bytes of a full link's inputs, read into one buffer.
 *
 * V8 counts a buffer's bytes as external memory and starts a full collection
 * each time that has grown by about 64 MB since the last one. Read file by
 * file, the 270 MB of inputs of a 200k-function link cost four of them, each
 * over a larger heap (about 200 ms in all, doc/architecture.md); one buffer
 * for all of them costs one, while the heap is still small.
 *
 * The buffer is made once the link has read `after` files (it is then
 * reading all of them), sized to what the inputs not yet read held when they
 * were looked at; a patch, which reads its few changed inputs, never makes
 * one. A file whose size has changed since is not read here.
 *
 * What is read here stays alive as long as any of it does: an input a
 * session replaces later (--watch) keeps its place.
 */
export class InputArena {
  private buf: Uint8Array | null = null;
  private at = 0;
  private reads = 0;

  /** `unreadSizes()`: the sizes of the inputs not read yet, when the buffer is made. */
  constructor(private readonly unreadSizes: () => readonly number[], private readonly after = 8) {}

  /** The file's bytes, if it is still `size` bytes long and fits; null when it is to be read on its own. */
  read(path: string, size: number): Uint8Array | null {
    if (++this.reads <= this.after || size <= 0) return null;
    this.buf ??= new Uint8Array(this.unreadSizes().reduce((sum, n) => sum + aligned(n), 0));
    if (this.at + size > this.buf.length) return null;
    const into = this.buf.subarray(this.at, this.at + size);
    let fd = -1;
    try {
      fd = openSync(path, 'r');
      // Shorter or longer than it was when looked at: read on its own, whatever it holds now.
      if (readFully(fd, into, 0) !== size || readSync(fd, new Uint8Array(1), 0, 1, size) !== 0) return null;
    } catch {
      return null; // read on its own, which reports the error
    } finally {
      if (fd >= 0) closeSync(fd);
    }
    this.at += aligned(size);
    return into;
  }

  /**
   * Gives back all but the first `keep` bytes of `bytes`, when they are the
   * last file read into the buffer (LinkSession's `release`, called as a
   * plain link parses each object in turn): the next file is read over the
   * rest, which the link no longer reads. Other bytes: nothing happens.
   */
  release(bytes: Uint8Array, keep: number): void {
    if (!this.buf || bytes.buffer !== this.buf.buffer || keep > bytes.length) return;
    const start = bytes.byteOffset - this.buf.byteOffset;
    if (start + aligned(bytes.length) !== this.at) return;
    this.at = start + aligned(keep);
  }
}

/** Each file starts at a multiple of this, as a buffer of its own would (a reader may view it as wider words). */
const ALIGN = 16;
const aligned = (n: number): number => Math.ceil(n / ALIGN) * ALIGN;

/**
 * Reads the file open as `fd` from `position` into `into` until it is full
 * or the file ends; returns how many bytes it read. Errors are the caller's.
 */
export function readFully(fd: number, into: Uint8Array, position: number): number {
  let n = 0;
  for (let got = -1; got !== 0 && n < into.length;) n += got = readSync(fd, into, n, into.length - n, position + n);
  return n;
}
