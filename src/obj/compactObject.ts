import type { ObjectFile } from './model.js';
import { ROW, Relocs, type RelocTable } from './relocs.js';

/**
 * What a link that keeps no state still reads of an ELF object once it has
 * parsed it: its atoms' section contents and relocation rows (read in
 * place, relocs.ts). The section headers, symbol and string tables are in
 * the ObjectFile's own objects and strings by then. In the objects clang
 * writes, the relocation sections come after all contents and the symbol
 * table, and the string table and section headers last: compactObject
 * moves the rows down over the symbol table, and what follows them is given
 * back (LinkSession's `release`: the command line's InputArena reads the
 * next input over it). At 200k functions that is 67 of the 256 MB of
 * objects.
 */

/** How many of the object's first bytes its parsed form still reads (a COFF object: all of them). */
export function bytesInUse(file: ObjectFile): number {
  const bytes = file.bytes;
  if (file.format !== 'elf') return bytes.length;
  let end = 0;
  for (const atom of file.atoms) {
    if (atom.data) end = Math.max(end, reach(file, atom.data, 0, atom.data.byteLength));
    const r = atom.relocs;
    if (r.length) end = Math.max(end, reach(file, r.table.words, r.start * 4, r.length * ROW * 4));
  }
  return end;
}

/**
 * Moves the relocation rows an ELF object reads in place down to the end of
 * its furthest section contents, when they all lie beyond it (what lies in
 * between, the symbol table, is not read again), and points its atoms'
 * relocations at them there; returns bytesInUse after the move. The
 * object's bytes are changed: only a link that keeps no state may do this.
 */
export function compactObject(file: ObjectFile): number {
  const bytes = file.bytes;
  if (file.format !== 'elf') return bytes.length;
  let contentsEnd = 0;
  let rowsFrom = Infinity;
  let rowsTo = 0;
  let table: RelocTable | null = null;
  for (const atom of file.atoms) {
    if (atom.data) contentsEnd = Math.max(contentsEnd, reach(file, atom.data, 0, atom.data.byteLength));
    const r = atom.relocs;
    if (!r.length || r.table.words.buffer !== bytes.buffer) continue;
    if (table && r.table !== table) return bytesInUse(file);
    table = r.table;
    const from = r.table.words.byteOffset - bytes.byteOffset + r.start * 4;
    rowsFrom = Math.min(rowsFrom, from);
    rowsTo = Math.max(rowsTo, from + r.length * ROW * 4);
  }
  if (!table || rowsFrom < contentsEnd) return bytesInUse(file);
  // Rows are read as 32-bit words of the table, which views the whole file: they move by whole words.
  const shift = Math.floor((rowsFrom - contentsEnd) / 4) * 4;
  if (shift === 0) return bytesInUse(file);
  bytes.copyWithin(rowsFrom - shift, rowsFrom, rowsTo);
  for (const atom of file.atoms) {
    const r = atom.relocs;
    if (r.length && r.table === table) atom.relocs = new Relocs(table, r.start - shift / 4, r.length);
  }
  return bytesInUse(file);
}

/** The end, from the start of the object's bytes, of `length` bytes at `from` in `view`; 0 for a view of another buffer. */
function reach(file: ObjectFile, view: ArrayBufferView, from: number, length: number): number {
  const bytes = file.bytes;
  // A view of a buffer of its own (decompressed contents, rows copied) does not hold the file's bytes.
  if (view.buffer !== bytes.buffer) return 0;
  const at = view.byteOffset + from - bytes.byteOffset;
  if (at < 0 || at + length > bytes.length) throw new Error(`internal error: ${file.name}: a view lies outside the file's bytes`);
  return at + length;
}
