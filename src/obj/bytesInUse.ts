import type { ObjectFile } from './model.js';
import { ROW } from './relocs.js';

/**
 * How many of an ELF object's first bytes its parsed form still reads: the
 * end of the furthest section contents an atom views and of the furthest
 * relocation row an atom has (the rows are read in place, relocs.ts). The
 * section headers, symbol and string tables were read into the ObjectFile's
 * own objects and strings; in the objects compilers write they come last,
 * after everything the link goes on reading, so the rest of the buffer can
 * be given back (LinkSession's `release`: the command line's InputArena
 * reads the next input into it). A COFF object: all of it.
 */
export function bytesInUse(file: ObjectFile): number {
  const bytes = file.bytes;
  if (file.format !== 'elf') return bytes.length;
  const base = bytes.byteOffset;
  let end = 0;
  const reach = (view: ArrayBufferView, from: number, length: number) => {
    // A view of a buffer of its own (decompressed contents, rows copied) does not hold the file's bytes.
    if (view.buffer !== bytes.buffer) return;
    const at = view.byteOffset + from - base;
    if (at < 0 || at + length > bytes.length) throw new Error(`internal error: ${file.name}: a view lies outside the file's bytes`);
    end = Math.max(end, at + length);
  };
  for (const atom of file.atoms) {
    if (atom.data) reach(atom.data, 0, atom.data.byteLength);
    const r = atom.relocs;
    if (r.length) reach(r.table.words, r.start * 4, r.length * ROW * 4);
  }
  return end;
}
