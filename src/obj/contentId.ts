import { blake2b512, blake2b512One } from './blake2b.js';
import { sameBytes } from './bytes.js';
import { SymPlace, SymType, type Atom, type ObjectFile } from './model.js';
import { ROW, type Relocs } from './relocs.js';

/**
 * Content identity (DESIGN.md section 2). An atom's id is the first 32 bytes
 * of BLAKE2b-512 over its kind, section flags, section type, entry size,
 * alignment, size, bytes, and its relocations
 * written as (offset, type, target symbol name, addend). Names rather than
 * symbol indices, so the id does not depend on the order of the object's
 * symbol table. Ids are computed lazily and cached on the atom.
 */

const encoder = new TextEncoder();

/**
 * The name a relocation target contributes to an id: section symbols by
 * their section's name. COFF objects often have several sections of one
 * name (`.text`, `.pdata` of COMDAT functions), so there the section's
 * index is part of it: a reference that switches between two `.text`
 * sections is a change.
 */
function targetName(file: ObjectFile, symIndex: number): string {
  const s = file.symbols[symIndex];
  if (s.type === SymType.Section) {
    const name = s.atom >= 0 ? file.atoms[s.atom].name : s.name;
    return file.format === 'coff' ? `\u00a7${s.atom}:${name}` : '\u00a7' + name;
  }
  return s.name;
}

/**
 * Each symbol's target name, once per object (relocations name the same
 * symbols over and over): the string when it is ASCII (written into the
 * hashed bytes as it is), else its UTF-8 bytes.
 */
const targetNames = new WeakMap<ObjectFile, Array<string | Uint8Array | undefined>>();

function cachedName(file: ObjectFile, symIndex: number): string | Uint8Array {
  let names = targetNames.get(file);
  if (!names) {
    names = new Array<string | Uint8Array | undefined>(file.symbols.length);
    targetNames.set(file, names);
  }
  let name = names[symIndex];
  if (name === undefined) {
    const text = targetName(file, symIndex);
    name = /^[\x00-\x7f]*$/.test(text) ? text : encoder.encode(text);
    names[symIndex] = name;
  }
  return name;
}

/** Bytes of the fixed part: kind, align, size, reloc count, has-data, flags, type, entry size. */
const HEADER = 40;

/** One buffer for the bytes each id hashes, grown as needed (no allocation per atom). */
let scratch = new Uint8Array(1 << 16);
let scratchView = new DataView(scratch.buffer);

export function atomContentId(file: ObjectFile, atom: Atom): Uint8Array {
  if (atom.id) return atom.id;
  const relocs = atom.relocs;
  // Fixed part (HEADER bytes); then per relocation 24 bytes + name; then the atom's bytes: hashed in one call.
  let nameBytes = 0;
  for (let i = 0; i < relocs.length; i++) nameBytes += cachedName(file, relocs.sym(i)).length;
  const metaSize = HEADER + relocs.length * 24 + nameBytes;
  const total = metaSize + (atom.data ? atom.data.length : 0);
  if (scratch.length < total) {
    scratch = new Uint8Array(Math.max(total, scratch.length * 2));
    scratchView = new DataView(scratch.buffer);
  }
  const meta = scratch;
  const dv = scratchView;
  dv.setUint32(0, atom.kind, true);
  dv.setUint32(4, atom.align, true);
  dv.setFloat64(8, atom.size, true);
  dv.setUint32(16, relocs.length, true);
  dv.setUint32(20, atom.data ? 1 : 0, true);
  // What decides where and how the atom is linked besides its bytes: a change there is a change of the atom.
  dv.setUint32(24, atom.flags, true);
  dv.setUint32(28, atom.rawType, true);
  dv.setFloat64(32, atom.entSize, true);
  let p = HEADER;
  for (let i = 0; i < relocs.length; i++) {
    const name = cachedName(file, relocs.sym(i));
    dv.setFloat64(p, relocs.offset(i), true);
    dv.setUint32(p + 8, relocs.type(i), true);
    dv.setFloat64(p + 12, relocs.addend(i), true);
    dv.setUint32(p + 20, name.length, true);
    p += 24;
    if (typeof name === 'string') {
      for (let k = 0; k < name.length; k++) meta[p + k] = name.charCodeAt(k);
    } else {
      meta.set(name, p);
    }
    p += name.length;
  }
  if (atom.data) meta.set(atom.data, metaSize);
  atom.id = blake2b512One(meta.subarray(0, total)).slice(0, 32);
  return atom.id;
}

/**
 * An object's id: its atoms' ids and its symbol table's shape (names,
 * binding, visibility, defined or not). Local symbol values are covered by
 * the atoms' bytes and relocations of whoever refers to them.
 */
export function objectContentId(file: ObjectFile): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const atom of file.atoms) parts.push(atomContentId(file, atom));
  const syms: string[] = [];
  for (let i = 1; i < file.symbols.length; i++) {
    const s = file.symbols[i];
    if (s.type === SymType.Section || s.type === SymType.File) continue;
    const where = s.atom === SymPlace.Undefined ? 'U' : s.atom === SymPlace.Common ? `C${s.size}/${s.value}` : s.atom >= 0 ? `D${s.atom}+${s.value}` : 'A' + s.value;
    syms.push(`${s.name}\0${s.binding}${s.visibility}${s.type}${where}`);
  }
  parts.push(encoder.encode(syms.join('\n')));
  return blake2b512(parts).slice(0, 32);
}

/**
 * Gives each atom of `after` (a new parse of an object) the id of the atom
 * at the same index of `before` (an earlier parse of it, whose ids were
 * computed) when everything atomContentId hashes is the same: kind,
 * alignment, size, flags, section type, entry size, bytes, and each
 * relocation's offset, type, addend and target name. The id is a function
 * of exactly these, so it is the one hashing would give, without hashing.
 * A live session's relink of an edited object thus hashes only the atoms
 * that differ from the object's last version (at 200k functions, the
 * hashing was a sixth of such a relink: 123 atoms, debug sections included,
 * for one function's edit). Atoms that differ are left to be hashed.
 */
export function reuseAtomIds(before: ObjectFile, after: ObjectFile): void {
  if (before.format !== after.format) return;
  // With the same target name at every symbol index, relocations that are the same rows hash alike.
  const sameNames = sameTargetNames(before, after);
  const n = Math.min(before.atoms.length, after.atoms.length);
  for (let i = 0; i < n; i++) {
    const a = before.atoms[i];
    const b = after.atoms[i];
    if (!a.id || b.id) continue;
    if (a.kind !== b.kind || a.align !== b.align || a.size !== b.size || a.flags !== b.flags || a.rawType !== b.rawType || a.entSize !== b.entSize) continue;
    if (a.data === null ? b.data !== null : b.data === null || !sameBytes(a.data, b.data)) continue;
    if (sameNames ? !sameBytes(rowBytes(a.relocs), rowBytes(b.relocs)) : !sameRelocations(before, a, after, b)) continue;
    b.id = a.id;
  }
}

/** An atom's relocation rows as bytes (offset, type, symbol index, addend: relocs.ts). */
function rowBytes(r: Relocs): Uint8Array {
  const w = r.table.words;
  return new Uint8Array(w.buffer, w.byteOffset + r.start * 4, r.length * ROW * 4);
}

/**
 * Whether both objects name the same target (targetName) at every symbol
 * index, compared without making the names: a section symbol by its
 * section's name (and, in a COFF object, its index), any other by its own.
 */
function sameTargetNames(fa: ObjectFile, fb: ObjectFile): boolean {
  if (fa.symbols.length !== fb.symbols.length) return false;
  for (let i = 0; i < fa.symbols.length; i++) {
    const a = fa.symbols[i];
    const b = fb.symbols[i];
    const section = a.type === SymType.Section;
    if (section !== (b.type === SymType.Section)) return false;
    if (!section) {
      if (a.name !== b.name) return false;
      continue;
    }
    if (fa.format === 'coff' && a.atom !== b.atom) return false;
    const na = a.atom >= 0 ? fa.atoms[a.atom].name : a.name;
    const nb = b.atom >= 0 ? fb.atoms[b.atom].name : b.name;
    if (na !== nb) return false;
  }
  return true;
}

function sameName(a: string | Uint8Array, b: string | Uint8Array): boolean {
  if (a === b) return true;
  return typeof a !== 'string' && typeof b !== 'string' && sameBytes(a, b);
}

/** Whether two atoms' relocations hash alike: offsets, types, addends, and target names (contentId's). */
function sameRelocations(fa: ObjectFile, a: Atom, fb: ObjectFile, b: Atom): boolean {
  const ra = a.relocs;
  const rb = b.relocs;
  if (ra.length !== rb.length) return false;
  for (let k = 0; k < ra.length; k++) {
    if (ra.offset(k) !== rb.offset(k) || ra.type(k) !== rb.type(k) || ra.addend(k) !== rb.addend(k)) return false;
    if (!sameName(cachedName(fa, ra.sym(k)), cachedName(fb, rb.sym(k)))) return false;
  }
  return true;
}
