import type { Reloc } from './model.js';

/**
 * Relocations as columns: one table per input file, shared by its atoms.
 *
 * A large link has millions of relocations, all alive from reading to
 * writing. As objects they cost 56 bytes each and the collector traces every
 * one of them on each full collection; as columns they cost 24 bytes and
 * nothing to trace.
 */
export class RelocTable {
  readonly offset: Float64Array;
  readonly addend: Float64Array;
  readonly type: Uint32Array;
  readonly sym: Uint32Array;

  constructor(readonly capacity: number) {
    this.offset = new Float64Array(capacity);
    this.addend = new Float64Array(capacity);
    this.type = new Uint32Array(capacity);
    this.sym = new Uint32Array(capacity);
  }

  set(i: number, offset: number, type: number, sym: number, addend: number): void {
    this.offset[i] = offset;
    this.type[i] = type;
    this.sym[i] = sym;
    this.addend[i] = addend;
  }
}

const EMPTY_TABLE = new RelocTable(0);

/**
 * One atom's relocations: `length` rows of a file's table from `start`.
 * Hot loops read the columns by index (`type(k)`, `sym(k)`, ...); others
 * may take a row as a plain object with `at(k)` or by iterating.
 */
export class Relocs implements Iterable<Reloc> {
  static readonly none = new Relocs(EMPTY_TABLE, 0, 0);

  constructor(readonly table: RelocTable, readonly start: number, readonly length: number) {
    if (start < 0 || start + length > table.capacity) throw new RangeError(`relocations ${start}+${length} outside a table of ${table.capacity}`);
  }

  /** Relocations given as objects, in their own table. */
  static of(list: readonly Reloc[]): Relocs {
    if (list.length === 0) return Relocs.none;
    const t = new RelocTable(list.length);
    list.forEach((r, i) => t.set(i, r.offset, r.type, r.sym, r.addend));
    return new Relocs(t, 0, list.length);
  }

  offset(k: number): number { return this.table.offset[this.start + k]; }
  type(k: number): number { return this.table.type[this.start + k]; }
  sym(k: number): number { return this.table.sym[this.start + k]; }
  addend(k: number): number { return this.table.addend[this.start + k]; }

  at(k: number): Reloc {
    const i = this.start + k;
    const t = this.table;
    return { offset: t.offset[i], type: t.type[i], sym: t.sym[i], addend: t.addend[i] };
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
