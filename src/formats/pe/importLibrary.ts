import type { ArchName } from '../../obj/model.js';

/**
 * An import library for a DLL, in the form lld-link and llvm-dlltool write
 * (and Microsoft's LIB): a GNU-layout archive holding
 *
 * - three small COFF objects that link.exe builds the DLL's import tables
 *   from: the import descriptor (`__IMPORT_DESCRIPTOR_<lib>`), the null
 *   descriptor (`__NULL_IMPORT_DESCRIPTOR`) and the null thunk
 *   (`\x7f<lib>_NULL_THUNK_DATA`); lld and tslink make their own;
 * - one short import member per export (see src/obj/coffImport.ts for the
 *   format), by name or, for NONAME exports, by ordinal;
 *
 * and a symbol index naming `__imp_NAME` (and NAME, for code) for each.
 */

export interface ImportLibraryExport {
  name: string;
  ordinal: number;
  noName: boolean;
  data: boolean;
}

const MACHINE: Record<ArchName, number> = { x86_64: 0x8664, aarch64: 0xaa64 };
const ADDR32NB: Record<ArchName, number> = { x86_64: 3, aarch64: 2 };

const SCN_DATA_RW = 0x40 | 0x40000000 | 0x80000000; // initialized data, read, write
const ALIGN_2 = 0x00200000;
const ALIGN_4 = 0x00300000;
const ALIGN_8 = 0x00400000;
const CLASS_EXTERNAL = 2;
const CLASS_STATIC = 3;
const CLASS_SECTION = 0x68;

interface Member {
  name: string;
  bytes: Uint8Array;
  symbols: string[];
}

export function writeImportLibrary(dllName: string, exports: readonly ImportLibraryExport[], arch: ArchName): Uint8Array {
  const lib = dllName.replace(/\.[^.]*$/, '');
  const members: Member[] = [
    { name: dllName, bytes: importDescriptor(lib, dllName, arch), symbols: [`__IMPORT_DESCRIPTOR_${lib}`] },
    { name: dllName, bytes: nullImportDescriptor(arch), symbols: ['__NULL_IMPORT_DESCRIPTOR'] },
    { name: dllName, bytes: nullThunk(lib, arch), symbols: [`\x7f${lib}_NULL_THUNK_DATA`] },
  ];
  for (const e of exports) {
    members.push({ name: dllName, bytes: shortImport(e, dllName, arch), symbols: e.data ? [`__imp_${e.name}`] : [`__imp_${e.name}`, e.name] });
  }
  return gnuArchive(members);
}

function shortImport(e: ImportLibraryExport, dllName: string, arch: ArchName): Uint8Array {
  const enc = new TextEncoder();
  const sym = enc.encode(e.name);
  const dll = enc.encode(dllName);
  const out = new Uint8Array(20 + sym.length + 1 + dll.length + 1);
  const v = new DataView(out.buffer);
  v.setUint16(2, 0xffff, true);
  v.setUint16(6, MACHINE[arch], true);
  v.setUint32(12, sym.length + 1 + dll.length + 1, true);
  v.setUint16(16, e.ordinal, true);
  // Type: 0 code, 1 data; name type: 0 by ordinal, 1 by the symbol's name.
  v.setUint16(18, (e.data ? 1 : 0) | ((e.noName ? 0 : 1) << 2), true);
  out.set(sym, 20);
  out.set(dll, 20 + sym.length + 1);
  return out;
}

interface Section {
  name: string;
  data: Uint8Array;
  characteristics: number;
  relocs: Array<{ offset: number; sym: number; type: number }>;
}
interface Symbol {
  name: string;
  value: number;
  /** 1-based section number, 0 undefined. */
  section: number;
  storageClass: number;
}

/** `.idata$2`: the descriptor, its lookup table, name and address table RVAs relocated; `.idata$6`: the DLL's name. */
function importDescriptor(lib: string, dllName: string, arch: ArchName): Uint8Array {
  const name = new TextEncoder().encode(dllName);
  const nameData = new Uint8Array((name.length + 2) & ~1);
  nameData.set(name);
  const nb = ADDR32NB[arch];
  return coffObject(arch, [
    { name: '.idata$2', data: new Uint8Array(20), characteristics: SCN_DATA_RW | ALIGN_4, relocs: [{ offset: 12, sym: 2, type: nb }, { offset: 0, sym: 3, type: nb }, { offset: 16, sym: 4, type: nb }] },
    { name: '.idata$6', data: nameData, characteristics: SCN_DATA_RW | ALIGN_2, relocs: [] },
  ], [
    { name: `__IMPORT_DESCRIPTOR_${lib}`, value: 0, section: 1, storageClass: CLASS_EXTERNAL },
    { name: '.idata$2', value: 0, section: 1, storageClass: CLASS_SECTION },
    { name: '.idata$6', value: 0, section: 2, storageClass: CLASS_STATIC },
    { name: '.idata$4', value: 0, section: 0, storageClass: CLASS_SECTION },
    { name: '.idata$5', value: 0, section: 0, storageClass: CLASS_SECTION },
    { name: '__NULL_IMPORT_DESCRIPTOR', value: 0, section: 0, storageClass: CLASS_EXTERNAL },
    { name: `\x7f${lib}_NULL_THUNK_DATA`, value: 0, section: 0, storageClass: CLASS_EXTERNAL },
  ]);
}

function nullImportDescriptor(arch: ArchName): Uint8Array {
  return coffObject(arch, [{ name: '.idata$3', data: new Uint8Array(20), characteristics: SCN_DATA_RW | ALIGN_4, relocs: [] }],
    [{ name: '__NULL_IMPORT_DESCRIPTOR', value: 0, section: 1, storageClass: CLASS_EXTERNAL }]);
}

function nullThunk(lib: string, arch: ArchName): Uint8Array {
  return coffObject(arch, [
    { name: '.idata$5', data: new Uint8Array(8), characteristics: SCN_DATA_RW | ALIGN_8, relocs: [] },
    { name: '.idata$4', data: new Uint8Array(8), characteristics: SCN_DATA_RW | ALIGN_8, relocs: [] },
  ], [{ name: `\x7f${lib}_NULL_THUNK_DATA`, value: 0, section: 1, storageClass: CLASS_EXTERNAL }]);
}

/** A COFF object: file header, section table, each section's data and relocations, symbols, string table. */
function coffObject(arch: ArchName, sections: Section[], symbols: Symbol[]): Uint8Array {
  const enc = new TextEncoder();
  let offset = 20 + 40 * sections.length;
  const placed = sections.map((s) => {
    const data = offset;
    offset += s.data.length;
    const relocs = offset;
    offset += 10 * s.relocs.length;
    return { data, relocs };
  });
  const symtab = offset;
  const strings: number[] = [];
  const stringBytes: Uint8Array[] = [];
  let stringSize = 4;
  for (const s of symbols) {
    const b = enc.encode(s.name);
    if (b.length > 8) {
      strings.push(stringSize);
      stringBytes.push(b);
      stringSize += b.length + 1;
    } else strings.push(-1);
  }
  const out = new Uint8Array(symtab + 18 * symbols.length + stringSize);
  const v = new DataView(out.buffer);
  v.setUint16(0, MACHINE[arch], true);
  v.setUint16(2, sections.length, true);
  v.setUint32(8, symtab, true);
  v.setUint32(12, symbols.length, true);
  sections.forEach((s, i) => {
    const h = 20 + 40 * i;
    out.set(enc.encode(s.name), h);
    v.setUint32(h + 16, s.data.length, true);
    v.setUint32(h + 20, placed[i].data, true);
    v.setUint32(h + 24, s.relocs.length ? placed[i].relocs : 0, true);
    v.setUint16(h + 32, s.relocs.length, true);
    v.setUint32(h + 36, s.characteristics, true);
    out.set(s.data, placed[i].data);
    s.relocs.forEach((r, k) => {
      const at = placed[i].relocs + 10 * k;
      v.setUint32(at, r.offset, true);
      v.setUint32(at + 4, r.sym, true);
      v.setUint16(at + 8, r.type, true);
    });
  });
  symbols.forEach((s, i) => {
    const at = symtab + 18 * i;
    if (strings[i] >= 0) v.setUint32(at + 4, strings[i], true);
    else out.set(enc.encode(s.name), at);
    v.setUint32(at + 8, s.value, true);
    v.setInt16(at + 12, s.section, true);
    out[at + 16] = s.storageClass;
  });
  let at = symtab + 18 * symbols.length;
  v.setUint32(at, stringSize, true);
  at += 4;
  for (const b of stringBytes) {
    out.set(b, at);
    at += b.length + 1;
  }
  return out;
}

/** A GNU-layout archive: the `/` symbol index (big-endian offsets), `//` long names when needed, the members. */
function gnuArchive(members: Member[]): Uint8Array {
  const enc = new TextEncoder();
  const longNames: string[] = [];
  const nameField = (name: string): string => {
    if (name.length < 16) return `${name}/`;
    let off = 0;
    for (const n of longNames) off += n.length + 2;
    longNames.push(name);
    return `/${off}`;
  };
  const fields = members.map((m) => nameField(m.name));
  const longTable = longNames.length ? enc.encode(longNames.map((n) => `${n}/\n`).join('')) : null;

  const symbolCount = members.reduce((n, m) => n + m.symbols.length, 0);
  const symbolNames = enc.encode(members.flatMap((m) => m.symbols.map((s) => `${s}\0`)).join(''));
  const indexSize = 4 + 4 * symbolCount + symbolNames.length;
  const padded = (n: number) => n + (n & 1);
  let offset = 8 + 60 + padded(indexSize) + (longTable ? 60 + padded(longTable.length) : 0);
  const offsets = members.map((m) => {
    const at = offset;
    offset += 60 + padded(m.bytes.length);
    return at;
  });

  const out = new Uint8Array(offset);
  out.set(enc.encode('!<arch>\n'));
  let at = 8;
  const header = (name: string, size: number) => {
    const h = `${name.padEnd(16)}${'0'.padEnd(12)}${'0'.padEnd(6)}${'0'.padEnd(6)}${'644'.padEnd(8)}${String(size).padEnd(10)}\`\n`;
    out.set(enc.encode(h), at);
    at += 60;
  };
  const body = (bytes: Uint8Array) => {
    out.set(bytes, at);
    at += bytes.length;
    if (bytes.length & 1) out[at++] = 0x0a;
  };
  const index = new Uint8Array(indexSize);
  const iv = new DataView(index.buffer);
  iv.setUint32(0, symbolCount);
  let k = 0;
  members.forEach((m, i) => {
    for (let s = 0; s < m.symbols.length; s++) iv.setUint32(4 + 4 * k++, offsets[i]);
  });
  index.set(symbolNames, 4 + 4 * symbolCount);
  header('/', indexSize);
  body(index);
  if (longTable) {
    header('//', longTable.length);
    body(longTable);
  }
  members.forEach((m, i) => {
    header(fields[i], m.bytes.length);
    body(m.bytes);
  });
  return out;
}
