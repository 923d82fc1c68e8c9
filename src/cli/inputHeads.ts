import { readFileSync, statSync, type BigIntStats } from 'node:fs';
import { SETTLED_NS } from '../session/LinkSession.js';
import { hashBytes, sameBytes } from '../session/state.js';

/**
 * What the command line reads of each input before the link: its first
 * bytes, which say whether it is an ELF file, an archive or a linker script,
 * and for which machine. An incremental link keeps them beside its state,
 * by path and file identity (device, inode, size, modification and change
 * times), so that the next link learns them with one stat per input, as it
 * learns from the state that the input is unchanged, without opening it.
 *
 * Only settled identities are kept (times older than the session's settling
 * margin when the identity was taken), the same rule by which the state
 * trusts an identity: a file written twice within the clock's granularity
 * could otherwise keep its identity with new contents. Anything unexpected
 * in the file (missing, another version, a checksum that does not match)
 * leaves the cache empty: the inputs are then opened, as without one.
 *
 * Encoding: magic, version (u32), count (u32); per entry the path (u32
 * length, UTF-8), the identity (five u64), the head (u8 length, bytes); then
 * a SHA-256 checksum (state.ts hashBytes, 32 bytes) of everything before it.
 */
export class InputHeads {
  /**
   * By path: an entry, or where its identity starts in the file as read (`file`), decoded when it is
   * first looked up: a link of two thousand inputs would otherwise make ten thousand BigInts and two
   * thousand buffers for the few it uses more than once.
   */
  private readonly entries = new Map<string, HeadEntry | number>();
  private file: DataView | null = null;
  /** Whether an entry was added or replaced since the file was read: the file is then rewritten. */
  private dirty = false;
  /** The paths looked up or remembered by this link: the entries written back (others are of files no longer linked). */
  private readonly used = new Set<string>();

  private constructor(private readonly path: string) {}

  /** The cache at `path`: as written by the last link, or empty. */
  static read(path: string): InputHeads {
    const heads = new InputHeads(path);
    let bytes: Uint8Array;
    try {
      bytes = readFileSync(path);
    } catch {
      return heads;
    }
    try {
      heads.decode(bytes);
    } catch {
      heads.entries.clear();
    }
    return heads;
  }

  /** Whether it has no entries (the caller then need not stat before it opens). */
  get empty(): boolean {
    return this.entries.size === 0;
  }

  /** The head recorded for the file at `path` if it is still the file with `identity`. */
  lookup(path: string, identity: BigIntStats): Uint8Array | undefined {
    const e = this.entry(path);
    this.used.add(path);
    return e && sameIdentity(e.identity, identity) ? e.head : undefined;
  }

  private entry(path: string): HeadEntry | undefined {
    const e = this.entries.get(path);
    if (typeof e !== 'number') return e;
    // Checked to lie within the file when it was read (decode).
    const v = this.file!;
    const at = e + 40;
    const decoded: HeadEntry = {
      identity: { dev: v.getBigUint64(e, true), ino: v.getBigUint64(e + 8, true), size: v.getBigUint64(e + 16, true), mtimeNs: v.getBigUint64(e + 24, true), ctimeNs: v.getBigUint64(e + 32, true) },
      head: new Uint8Array(v.buffer, v.byteOffset + at + 1, v.getUint8(at)),
    };
    this.entries.set(path, decoded);
    return decoded;
  }

  /** Records a head read just now, if the file's identity is settled at `nowNs`. */
  remember(path: string, identity: BigIntStats, head: Uint8Array, nowNs: bigint): void {
    const newest = identity.mtimeNs > identity.ctimeNs ? identity.mtimeNs : identity.ctimeNs;
    if (newest + SETTLED_NS > nowNs) return;
    this.used.add(path);
    this.entries.set(path, { identity: pick(identity), head: head.slice() });
    this.dirty = true;
  }

  /**
   * Writes the cache if it changed, through `write` (which replaces the file
   * at once), at `path`: where it was read from, unless the output's name
   * was settled only after the inputs were read (a PE link's default name).
   */
  save(path: string, write: (path: string, bytes: Uint8Array) => void): void {
    for (const p of this.entries.keys()) {
      if (this.used.has(p)) continue;
      this.entries.delete(p);
      this.dirty = true;
    }
    if (!this.dirty && path === this.path) return;
    write(path, this.encode());
    this.dirty = false;
  }

  private encode(): Uint8Array {
    const paths = [...this.entries.keys()].map((p) => encoder.encode(p));
    const all = [...this.entries.keys()].map((p) => this.entry(p)!);
    let size = 8 + 4 + 4 + HASH;
    for (const [i, e] of all.entries()) size += 4 + paths[i].length + 40 + 1 + e.head.length;
    const out = new Uint8Array(size);
    const v = new DataView(out.buffer);
    out.set(MAGIC, 0);
    v.setUint32(8, VERSION, true);
    v.setUint32(12, this.entries.size, true);
    let at = 16;
    let i = 0;
    for (const e of all) {
      const p = paths[i++];
      v.setUint32(at, p.length, true);
      out.set(p, at + 4);
      at += 4 + p.length;
      for (const n of [e.identity.dev, e.identity.ino, e.identity.size, e.identity.mtimeNs, e.identity.ctimeNs]) {
        v.setBigUint64(at, n, true);
        at += 8;
      }
      out[at++] = e.head.length;
      out.set(e.head, at);
      at += e.head.length;
    }
    out.set(hashBytes(out.subarray(0, at)), at);
    return out;
  }

  /** Reads the entries; throws on anything malformed (the caller then keeps none). */
  private decode(bytes: Uint8Array): void {
    if (bytes.length < 16 + HASH || !sameBytes(bytes.subarray(0, 8), MAGIC)) throw new Error('not a heads cache');
    const end = bytes.length - HASH;
    if (!sameBytes(hashBytes(bytes.subarray(0, end)), bytes.subarray(end))) throw new Error('checksum');
    const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (v.getUint32(8, true) !== VERSION) throw new Error('version');
    const count = v.getUint32(12, true);
    let at = 16;
    const need = (n: number) => {
      if (at + n > end) throw new Error('truncated');
    };
    for (let k = 0; k < count; k++) {
      need(4);
      const length = v.getUint32(at, true);
      need(4 + length + 41);
      const path = text.toString('utf8', at + 4, at + 4 + length);
      at += 4 + length;
      const headLength = bytes[at + 40];
      need(41 + headLength);
      this.entries.set(path, at);
      at += 41 + headLength;
    }
    if (at !== end) throw new Error('trailing bytes');
    this.file = v;
  }
}

/** A path's identity now, as the cache compares it; undefined when there is no such file (the caller then opens it, for its error). */
export function statIdentity(path: string): BigIntStats | undefined {
  try {
    return statSync(path, { bigint: true, throwIfNoEntry: false }) ?? undefined;
  } catch {
    return undefined;
  }
}

interface HeadEntry {
  identity: HeadIdentity;
  head: Uint8Array;
}

interface HeadIdentity {
  dev: bigint;
  ino: bigint;
  size: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
}

function pick(s: BigIntStats): HeadIdentity {
  return { dev: s.dev, ino: s.ino, size: s.size, mtimeNs: s.mtimeNs, ctimeNs: s.ctimeNs };
}

function sameIdentity(a: HeadIdentity, b: BigIntStats): boolean {
  return a.dev === b.dev && a.ino === b.ino && a.size === b.size && a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs;
}

const HASH = 32;
const VERSION = 2;
const encoder = new TextEncoder();
const MAGIC = encoder.encode('TSLKHEAD');
