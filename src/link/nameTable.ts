/**
 * Symbol names to ids: what resolution's `Map<string, number>` did, with
 * far less time per lookup on a large link.
 *
 * Resolution looks up every global symbol of every object by name (780k
 * lookups ending in 215k names at the benchmark's 200k functions). Each name
 * is a string just decoded from a string table; a Map hashes it and follows
 * its bucket's chain through entries scattered over the heap. In the CPU
 * profile of that link, resolution's lookups took about 570 ms with a Map,
 * 50 ms with this table: open addressing with linear probing, each slot's hash
 * and id side by side in one typed array, the hash compared before the name,
 * so that a probe that misses reads no string.
 */
export class NameTable {
  /** Per slot, two words: the name's hash and its id (-1: an empty slot). */
  private slots: Int32Array;
  private names: Array<string | undefined>;
  private mask: number;
  private count = 0;

  constructor(capacity = 1024) {
    let cap = 16;
    while (cap < capacity * 2) cap *= 2;
    this.slots = emptySlots(cap);
    this.names = new Array<string | undefined>(cap).fill(undefined);
    this.mask = cap - 1;
  }

  get size(): number {
    return this.count;
  }

  get(name: string): number | undefined {
    const slot = this.find(name, nameHash(name));
    return slot < 0 ? undefined : this.slots[2 * slot + 1];
  }

  has(name: string): boolean {
    return this.find(name, nameHash(name)) >= 0;
  }

  /** Maps `name` to `id` (an id is a non-negative 31-bit integer), replacing what it mapped to. */
  set(name: string, id: number): this {
    if (!(id >= 0 && id <= 0x7fffffff && Number.isInteger(id))) throw new RangeError(`NameTable: id ${id} is not a non-negative 31-bit integer`);
    const h = nameHash(name);
    const found = this.find(name, h);
    if (found >= 0) {
      this.slots[2 * found + 1] = id;
      return this;
    }
    if ((this.count + 1) * 2 > this.names.length) this.grow();
    this.put(name, h, id);
    this.count++;
    return this;
  }

  /** The slot holding `name`, or -1. */
  private find(name: string, h: number): number {
    const { slots, names, mask } = this;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      if (slots[2 * i + 1] < 0) return -1;
      if (slots[2 * i] === h && names[i] === name) return i;
    }
  }

  private put(name: string, h: number, id: number): void {
    const { slots, mask } = this;
    let i = h & mask;
    while (slots[2 * i + 1] >= 0) i = (i + 1) & mask;
    slots[2 * i] = h;
    slots[2 * i + 1] = id;
    this.names[i] = name;
  }

  private grow(): void {
    const { slots, names } = this;
    const cap = names.length * 2;
    this.slots = emptySlots(cap);
    this.names = new Array<string | undefined>(cap).fill(undefined);
    this.mask = cap - 1;
    for (let i = 0; i < names.length; i++) if (slots[2 * i + 1] >= 0) this.put(names[i]!, slots[2 * i], slots[2 * i + 1]);
  }
}

/**
 * Slots for an open-addressing table, `width` words each: the hash first,
 * then a non-negative value that -1 marks empty (shared with PieceTable in
 * mergeSections.ts).
 */
export function emptySlots(cap: number, width = 2): Int32Array {
  const slots = new Int32Array(width * cap);
  for (let i = 1; i < slots.length; i += width) slots[i] = -1;
  return slots;
}

/** A finalizer (MurmurHash3's, in part) for an FNV-1a hash: spreads its bits into the low ones a mask keeps. */
export function mixHash(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return h | 0;
}

/** FNV-1a over the name's UTF-16 code units, then a finalizer that spreads the bits the mask keeps. */
export function nameHash(name: string): number {
  let h = 0x811c9dc5;
  for (let k = 0; k < name.length; k++) h = Math.imul(h ^ name.charCodeAt(k), 0x01000193);
  return mixHash(h);
}
