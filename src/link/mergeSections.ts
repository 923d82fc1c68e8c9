import { LinkError, hex } from '../obj/LinkError.js';
import { latin1String } from '../obj/ByteReader.js';
import { SecFlag, type Atom } from '../obj/model.js';
import { emptySlots, mixHash } from './nameTable.js';

/**
 * SHF_MERGE sections: string literals (`.rodata.str1.1`) and fixed-size
 * constants (`.rodata.cst8`), split into pieces and deduplicated across all
 * inputs. Every input piece maps to one piece of a merged output atom;
 * references into an input merge section are translated through that map.
 */

export interface MergeMap {
  /** The merged atom the pieces went to (an internal atom). */
  target: number;
  /** Start offsets of the input pieces, ascending. */
  inStart: Uint32Array;
  /** Offset of each piece in the merged atom. */
  outStart: Uint32Array;
  atomName: string;
}

/** One deduplicating builder per (output section, entry size, strings-or-not). */
export class MergedSection {
  /** The merged contents so far: each new piece copied in (not kept as a view of its input). */
  private buf = new Uint8Array(0);
  size = 0;
  align = 1;
  /** The pieces in `buf`, found by their bytes (a piece is never made a string). */
  private readonly pieces = new PieceTable();

  constructor(readonly key: string, readonly outputName: string, readonly strings: boolean, readonly entSize: number) {}

  /** How many distinct pieces the merged contents hold. */
  get pieceCount(): number {
    return this.pieces.size;
  }

  /** Adds an input merge atom's pieces; returns its offset map. */
  add(atom: Atom, fileName: string, target: number): MergeMap {
    const data = atom.data ?? new Uint8Array(atom.size);
    const most = Math.ceil(data.length / Math.max(1, atom.entSize));
    const starts = new Uint32Array(most);
    const outs = new Uint32Array(most);
    let n = 0;
    const pieceAlign = Math.max(1, atom.align);
    this.align = Math.max(this.align, atom.align);
    for (let off = 0; off < data.length;) {
      const end = pieceEnd(atom, data, off, fileName);
      const h = bytesHash(data, off, end);
      let out = this.pieces.find(this.buf, data, off, end, h);
      if (out < 0) {
        // Each piece keeps the input section's alignment, as the input guaranteed it.
        out = Math.ceil(this.size / pieceAlign) * pieceAlign;
        if (out + end - off > MAX_MERGED) throw new LinkError(`${fileName}:(${atom.name}): merged section ${this.outputName} would exceed ${MAX_MERGED} bytes`);
        this.reserve(out + end - off);
        this.buf.set(data.subarray(off, end), out);
        this.size = out + end - off;
        this.pieces.insert(h, out, end - off);
      }
      starts[n] = off;
      outs[n] = out;
      n++;
      off = end;
    }
    return { target, inStart: starts.slice(0, n), outStart: outs.slice(0, n), atomName: atom.name };
  }

  private reserve(size: number): void {
    if (size <= this.buf.length) return;
    const grown = new Uint8Array(Math.max(size, this.buf.length * 2, 4096));
    grown.set(this.buf.subarray(0, this.size));
    this.buf = grown;
  }

  contents(): Uint8Array {
    return this.buf.slice(0, this.size);
  }
}

/** A merged section's offsets are 31-bit (PieceTable's slots). */
const MAX_MERGED = 0x7fffffff;

/**
 * The pieces of a merged section by their bytes: open addressing with linear
 * probing, three words a slot (hash, offset in the merged contents, length;
 * offset -1 when empty); a lookup compares bytes with the merged contents
 * only when hash and length match. A Map keyed by each piece as a string
 * made one string per input piece (the 200k-function benchmark's debug
 * strings: about 600k), and its lookups dominated the merge.
 */
class PieceTable {
  private slots = emptySlots(1024, 3);
  private mask = 1023;
  size = 0;

  /** The offset of the piece equal to data[start, end) in `merged`, or -1. */
  find(merged: Uint8Array, data: Uint8Array, start: number, end: number, h: number): number {
    const { slots, mask } = this;
    const len = end - start;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const out = slots[3 * i + 1];
      if (out < 0) return -1;
      if (slots[3 * i] === h && slots[3 * i + 2] === len && sameBytes(merged, out, data, start, len)) return out;
    }
  }

  /** Records a piece not in the table (find gave -1). */
  insert(h: number, out: number, len: number): void {
    if ((this.size + 1) * 2 > this.mask + 1) this.grow();
    this.put(h, out, len);
    this.size++;
  }

  private put(h: number, out: number, len: number): void {
    const { slots, mask } = this;
    let i = h & mask;
    while (slots[3 * i + 1] >= 0) i = (i + 1) & mask;
    slots[3 * i] = h;
    slots[3 * i + 1] = out;
    slots[3 * i + 2] = len;
  }

  private grow(): void {
    const old = this.slots;
    const cap = (this.mask + 1) * 2;
    this.slots = emptySlots(cap, 3);
    this.mask = cap - 1;
    for (let i = 0; i < old.length; i += 3) if (old[i + 1] >= 0) this.put(old[i], old[i + 1], old[i + 2]);
  }
}

function sameBytes(a: Uint8Array, at: number, b: Uint8Array, bt: number, len: number): boolean {
  for (let k = 0; k < len; k++) if (a[at + k] !== b[bt + k]) return false;
  return true;
}

/** FNV-1a over the bytes, then a finalizer that spreads the bits the mask keeps. */
export function bytesHash(data: Uint8Array, start: number, end: number): number {
  let h = 0x811c9dc5;
  for (let k = start; k < end; k++) h = Math.imul(h ^ data[k], 0x01000193);
  return mixHash(h);
}

/** The end of the piece of a merge atom that starts at `off`: a NUL-terminated string or a fixed-size entry. */
function pieceEnd(atom: Atom, data: Uint8Array, off: number, fileName: string): number {
  const es = atom.entSize;
  if (!(es > 0)) throw new LinkError(`${fileName}:(${atom.name}): a mergeable section needs an entry size`);
  if (atom.flags & SecFlag.Strings) {
    let end = off;
    while (end < data.length && !isNulEntry(data, end, es)) end += es;
    if (end >= data.length) throw new LinkError(`${fileName}:(${atom.name}): string is not null terminated at offset ${hex(off)}`);
    return end + es;
  }
  const end = off + es;
  if (end > data.length) throw new LinkError(`${fileName}:(${atom.name}): section size is not a multiple of its entry size ${es}`);
  return end;
}

/** The [start, end) of each piece of a merge atom: NUL-terminated strings or fixed-size entries. */
export function splitPieces(atom: Atom, fileName: string): Array<[number, number]> {
  const data = atom.data ?? new Uint8Array(atom.size);
  if (!(atom.entSize > 0)) throw new LinkError(`${fileName}:(${atom.name}): a mergeable section needs an entry size`);
  const out: Array<[number, number]> = [];
  for (let off = 0; off < data.length;) {
    const end = pieceEnd(atom, data, off, fileName);
    out.push([off, end]);
    off = end;
  }
  return out;
}

function isNulEntry(data: Uint8Array, at: number, es: number): boolean {
  for (let i = 0; i < es; i++) if (data[at + i] !== 0) return false;
  return true;
}

export function pieceKey(piece: Uint8Array): string {
  return latin1String(piece, 0, piece.length);
}

/** The index of the piece containing `offset`, given the pieces' ascending start offsets. */
export function pieceIndex(starts: ArrayLike<number>, offset: number): number {
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (starts[mid] <= offset) lo = mid; else hi = mid - 1;
  }
  return lo;
}

/** Translates an offset in an input merge section to an offset in its merged atom. */
export function mergedOffset(map: MergeMap, offset: number, fileName: string): number {
  if (map.inStart.length === 0 || offset < 0) throw new LinkError(`${fileName}:(${map.atomName}): offset ${hex(offset)} is outside the section`);
  const k = pieceIndex(map.inStart, offset);
  return map.outStart[k] + (offset - map.inStart[k]);
}

export function isMergeable(atom: Atom): boolean {
  return (atom.flags & SecFlag.Merge) !== 0 && atom.entSize > 0 && atom.data !== null && atom.relocs.length === 0;
}
