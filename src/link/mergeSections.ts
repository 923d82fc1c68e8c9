import { LinkError, hex } from '../obj/LinkError.js';
import { latin1String } from '../obj/ByteReader.js';
import { SecFlag, type Atom } from '../obj/model.js';

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
  readonly pieces = new Map<string, number>();
  readonly chunks: Uint8Array[] = [];
  size = 0;
  align = 1;

  constructor(readonly key: string, readonly outputName: string, readonly strings: boolean, readonly entSize: number) {}

  /** Adds an input merge atom's pieces; returns its offset map. */
  add(atom: Atom, fileName: string, target: number): MergeMap {
    const data = atom.data ?? new Uint8Array(atom.size);
    const starts: number[] = [];
    const outs: number[] = [];
    const pieceAlign = Math.max(1, atom.align);
    this.align = Math.max(this.align, atom.align);
    for (const [off, end] of splitPieces(atom, fileName)) {
      const piece = data.subarray(off, end);
      const key = pieceKey(piece);
      let out = this.pieces.get(key);
      if (out === undefined) {
        // Each piece keeps the input section's alignment, as the input guaranteed it.
        const at = Math.ceil(this.size / pieceAlign) * pieceAlign;
        if (at > this.size) this.chunks.push(new Uint8Array(at - this.size));
        out = at;
        this.chunks.push(piece);
        this.size = at + piece.length;
        this.pieces.set(key, out);
      }
      starts.push(off);
      outs.push(out);
    }
    return { target, inStart: Uint32Array.from(starts), outStart: Uint32Array.from(outs), atomName: atom.name };
  }

  contents(): Uint8Array {
    const out = new Uint8Array(this.size);
    let p = 0;
    for (const c of this.chunks) {
      out.set(c, p);
      p += c.length;
    }
    return out;
  }
}

/** The [start, end) of each piece of a merge atom: NUL-terminated strings or fixed-size entries. */
export function splitPieces(atom: Atom, fileName: string): Array<[number, number]> {
  const data = atom.data ?? new Uint8Array(atom.size);
  const es = atom.entSize;
  if (!(es > 0)) throw new LinkError(`${fileName}:(${atom.name}): a mergeable section needs an entry size`);
  const strings = (atom.flags & SecFlag.Strings) !== 0;
  const out: Array<[number, number]> = [];
  let off = 0;
  while (off < data.length) {
    let end: number;
    if (strings) {
      end = off;
      while (end < data.length && !isNulEntry(data, end, es)) end += es;
      if (end >= data.length) throw new LinkError(`${fileName}:(${atom.name}): string is not null terminated at offset ${hex(off)}`);
      end += es;
    } else {
      end = off + es;
      if (end > data.length) throw new LinkError(`${fileName}:(${atom.name}): section size is not a multiple of its entry size ${es}`);
    }
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
