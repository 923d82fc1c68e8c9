import type { Reloc } from './model.js';

/**
 * Relocations as rows of six 32-bit words, an ELF64 RELA entry's layout
 * read on a little-endian machine: offset (low, high), type, symbol, addend
 * (low, high, signed). One table per input file, shared by its atoms.
 *
 * A large link has millions of relocations, all alive from reading to
 * writing. As objects they cost 56 bytes each and the collector traces every
 * one of them on each full collection; as rows they cost 24 bytes and
 * nothing to trace. An ELF object's table is its own bytes (`overBytes`): its
 * .rela sections are already rows, so reading them checks them and copies
 * nothing (at 200k functions, 60 MB not allocated, written or faulted in).
 */
export class RelocTable {
  /** The table `words` are: a row is ROW of them from any word index. */
  constructor(readonly words: Uint32Array) {}

  /** A table of `rows` rows of its own, filled with `set`. */
  static ofRows(rows: number): RelocTable {
    return new RelocTable(new Uint32Array(rows * ROW));
  }

  /**
   * A table over `bytes` themselves, whose rows start at 4-aligned offsets
   * (the word index of a row at byte offset `at` is at / 4); null where
   * the words cannot be read in place (a big-endian machine, bytes not
   * 4-byte aligned in their buffer): the caller then copies the rows.
   */
  static overBytes(bytes: Uint8Array): RelocTable | null {
    if (!LITTLE_ENDIAN || bytes.byteOffset % 4 !== 0) return null;
    return new RelocTable(new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >>> 2));
  }

  /** Writes row `i` (words from i * ROW). */
  set(i: number, offset: number, type: number, sym: number, addend: number): void {
    const w = this.words;
    const at = i * ROW;
    w[at] = offset >>> 0;
    w[at + 1] = Math.floor(offset / TWO32);
    w[at + 2] = type;
    w[at + 3] = sym;
    w[at + 4] = addend >>> 0;
    w[at + 5] = Math.floor(addend / TWO32); // -1 for a small negative addend: the word 0xffffffff
  }
}

/** Words per row. */
export const ROW = 6;
const TWO32 = 2 ** 32;
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

const EMPTY_TABLE = RelocTable.ofRows(0);

/**
 * One atom's relocations: `length` rows of a file's table, the first at
 * word `start`. Hot loops read the fields by index (`type(k)`, `sym(k)`,
 * ...); others may take a row as a plain object with `at(k)` or by iterating.
 * Offsets and addends beyond 2^53 never get here: the readers refuse them.
 */
export class Relocs implements Iterable<Reloc> {
  static readonly none = new Relocs(EMPTY_TABLE, 0, 0);

  constructor(readonly table: RelocTable, readonly start: number, readonly length: number) {
    if (start < 0 || start + length * ROW > table.words.length) {
      throw new RangeError(`relocations of ${length} rows from word ${start} outside a table of ${table.words.length} words`);
    }
  }

  /** Relocations given as objects, in their own table. */
  static of(list: readonly Reloc[]): Relocs {
    if (list.length === 0) return Relocs.none;
    const t = RelocTable.ofRows(list.length);
    list.forEach((r, i) => t.set(i, r.offset, r.type, r.sym, r.addend));
    return new Relocs(t, 0, list.length);
  }

  offset(k: number): number {
    const w = this.table.words;
    const i = this.start + k * ROW;
    return w[i] + w[i + 1] * TWO32;
  }
  type(k: number): number { return this.table.words[this.start + k * ROW + 2]; }
  sym(k: number): number { return this.table.words[this.start + k * ROW + 3]; }
  addend(k: number): number {
    const w = this.table.words;
    const i = this.start + k * ROW;
    return w[i + 4] + (w[i + 5] | 0) * TWO32;
  }

  at(k: number): Reloc {
    return { offset: this.offset(k), type: this.type(k), sym: this.sym(k), addend: this.addend(k) };
  }

  toArray(): Reloc[] {
    const out: Reloc[] = new Array(this.length);
    for (let k = 0; k < this.length; k++) out[k] = this.at(k);
    return out;
  }

  /** These relocations followed by `more`'s, in a new table. */
  concat(more: Relocs): Relocs {
    if (more.length === 0) return this;
    if (this.length === 0) return more;
    return Relocs.of([...this.toArray(), ...more.toArray()]);
  }

  *[Symbol.iterator](): IterableIterator<Reloc> {
    for (let k = 0; k < this.length; k++) yield this.at(k);
  }
}
