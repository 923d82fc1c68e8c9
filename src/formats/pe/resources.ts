import { ByteReader } from '../../obj/ByteReader.js';
import { LinkError } from '../../obj/LinkError.js';
import type { ArchName, ObjectFile, ResourceEntry } from '../../obj/model.js';

/**
 * Compiled resource files (`.res`, from llvm-rc, rc.exe or `windres -O
 * res`), which lld-link and ld.lld's MinGW mode take as inputs and turn into
 * the image's resource section, as Microsoft's cvtres does. (windres's COFF
 * output, an object with `.rsrc` sections, needs none of this.)
 *
 * A `.res` file is a run of entries, each 4-byte aligned:
 *
 *      u32 DataSize, u32 HeaderSize,
 *      TYPE and NAME: 0xffff then a u16 id, or a NUL-terminated UTF-16 name,
 *      (aligned to 4) u32 DataVersion, u16 MemoryFlags, u16 LanguageId,
 *      u32 Version, u32 Characteristics, then DataSize bytes of data.
 *
 * The first entry is empty (it marks a 32-bit file). The image's resource
 * directory is a tree, type -> name -> language, of IMAGE_RESOURCE_DIRECTORY
 * tables (named entries first, sorted, then ids, ascending), leaves of
 * IMAGE_RESOURCE_DATA_ENTRY whose first field is the data's RVA, and the
 * names as counted UTF-16 strings; laid out as lld lays it out: the tables
 * breadth-first, the data entries, the strings, then the data, each 8-byte
 * aligned.
 */


const NULL_HEADER = [0, 0, 0, 0, 0x20, 0, 0, 0, 0xff, 0xff, 0, 0, 0xff, 0xff, 0, 0];

export function isWindowsResource(bytes: Uint8Array): boolean {
  return bytes.length >= 32 && NULL_HEADER.every((b, i) => bytes[i] === b);
}

export function readWindowsResources(file: string, bytes: Uint8Array): ResourceEntry[] {
  const r: ByteReader = new ByteReader(bytes, file);
  const out: ResourceEntry[] = [];
  let p = 0;
  while (p < bytes.length) {
    if (bytes.length - p < 8 && bytes.subarray(p).every((b) => b === 0)) break; // padding at the end
    r.need(p, 8, 'resource entry header');
    const dataSize = r.u32(p);
    const headerSize = r.u32(p + 4);
    if (headerSize < 24) r.fail(p + 4, `resource entry header of ${headerSize} bytes (at least 24)`);
    r.need(p, headerSize, 'resource entry header');
    let q = p + 8;
    const idOrName = (what: string): number | string => {
      r.need(q, 2, what);
      if (r.u16(q) === 0xffff) {
        r.need(q, 4, what);
        const id = r.u16(q + 2);
        q += 4;
        return id;
      }
      let s = '';
      for (;;) {
        if (q + 2 > p + headerSize) r.fail(q, `${what}: unterminated name`);
        const c = r.u16(q);
        q += 2;
        if (c === 0) break;
        s += String.fromCharCode(c);
      }
      return s;
    };
    const type = idOrName('resource type');
    const name = idOrName('resource name');
    q = p + ((q - p + 3) & ~3);
    if (q + 16 > p + headerSize) r.fail(p + 4, `resource entry header of ${headerSize} bytes is too small for its type and name`);
    const language = r.u16(q + 6);
    r.need(p + headerSize, dataSize, `data of resource ${describe(type)}/${describe(name)}`);
    const isNull = out.length === 0 && p === 0 && dataSize === 0 && type === 0 && name === 0;
    if (!isNull) out.push({ type, name, language, data: bytes.slice(p + headerSize, p + headerSize + dataSize), origin: file });
    p = p + headerSize + dataSize;
    p = (p + 3) & ~3;
  }
  return out;
}

/** A `.res` file as an input: an object with no atoms, its resources for the link to lay out. */
export function readResourceFile(file: string, bytes: Uint8Array, arch: ArchName): ObjectFile {
  const resources = readWindowsResources(file, bytes);
  return {
    name: file, format: 'coff', arch, atoms: [], groups: [], bytes, resources, firstGlobal: 1,
    symbols: [{ name: '', binding: 0, type: 0, visibility: 0, atom: -1, value: 0, size: 0 }],
  };
}

/**
 * The resources of an object's own resource section (windres's output: one
 * `.rsrc` section holding the tree and the data; cvtres's: `.rsrc$01` and
 * `.rsrc$02`), read back into entries so that several can be merged into one
 * tree, as lld merges them. A data entry's first field is an ADDR32NB
 * relocation to the data: its symbol's section, at the symbol's value plus
 * the addend. Null when the object has no resource section.
 */
export function readObjectResources(file: ObjectFile): ResourceEntry[] | null {
  const tree = file.atoms.find((a) => a.name === '.rsrc$01') ?? file.atoms.find((a) => a.name === '.rsrc');
  if (!tree || !tree.data) return null;
  const bytes = tree.data;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fail = (what: string): never => {
    throw new LinkError(`${file.name}: resource section ${tree.name}: ${what}`);
  };
  const u32 = (at: number): number => (at >= 0 && at + 4 <= bytes.length ? view.getUint32(at, true) : fail(`offset ${at} is outside the section (${bytes.length} bytes)`));
  const u16 = (at: number): number => (at >= 0 && at + 2 <= bytes.length ? view.getUint16(at, true) : fail(`offset ${at} is outside the section (${bytes.length} bytes)`));
  const relocAt = new Map(tree.relocs.toArray().map((r) => [r.offset, r]));
  const out: ResourceEntry[] = [];
  const key = (field: number): number | string => {
    if (!(field & 0x80000000)) return field & 0xffff;
    const at = field & 0x7fffffff;
    const n = u16(at);
    let s = '';
    for (let i = 0; i < n; i++) s += String.fromCharCode(u16(at + 2 + 2 * i));
    return s;
  };
  const walk = (at: number, level: number, path: Array<number | string>): void => {
    const count = u16(at + 12) + u16(at + 14);
    for (let i = 0; i < count; i++) {
      const entry = at + 16 + 8 * i;
      const k = key(u32(entry));
      const child = u32(entry + 4);
      const isDir = (child & 0x80000000) !== 0;
      if (isDir !== (level < 2)) fail(`a ${isDir ? 'directory' : 'data entry'} at level ${level + 1} of the tree (type, name, language)`);
      if (isDir) {
        walk(child & 0x7fffffff, level + 1, [...path, k]);
        continue;
      }
      const r = relocAt.get(child);
      if (!r) fail(`the data entry at ${child} has no relocation to its data`);
      const sym = file.symbols[r!.sym];
      const target = sym && sym.atom >= 0 ? file.atoms[sym.atom] : undefined;
      const size = u32(child + 4);
      const from = sym ? sym.value + r!.addend : -1;
      if (!target?.data || from < 0 || from + size > target.data.length) fail(`the data entry at ${child} points outside its section`);
      out.push({ type: path[0], name: path[1], language: Number(k), data: target!.data!.slice(from, from + size), origin: file.name });
    }
  };
  walk(0, 0, []);
  return out;
}

function describe(x: number | string): string {
  return typeof x === 'number' ? String(x) : `"${x}"`;
}

export interface ResourceTree {
  /** `.rsrc$01`: the tables, data entries and strings. */
  tree: Uint8Array;
  /** `.rsrc$02`: the data. */
  data: Uint8Array;
  /** Per data entry: where its RVA goes in `tree`, and the data's offset in `data`. */
  fixups: Array<{ at: number; dataOffset: number }>;
}

type Key = number | string;

interface Dir {
  entries: Map<Key, Dir | ResourceEntry>;
}

/** Named entries first, by their UTF-16 code units, then ids ascending. */
function sortedKeys(d: Dir): Key[] {
  const keys = [...d.entries.keys()];
  const names = keys.filter((k): k is string => typeof k === 'string').sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const ids = keys.filter((k): k is number => typeof k === 'number').sort((a, b) => a - b);
  return [...names, ...ids];
}

export function buildResourceTree(entries: readonly ResourceEntry[]): ResourceTree {
  const root: Dir = { entries: new Map() };
  for (const e of entries) {
    let types = root.entries.get(e.type) as Dir | undefined;
    if (!types) root.entries.set(e.type, (types = { entries: new Map() }));
    let names = types.entries.get(e.name) as Dir | undefined;
    if (!names) types.entries.set(e.name, (names = { entries: new Map() }));
    const had = names.entries.get(e.language) as ResourceEntry | undefined;
    if (had) {
      throw new LinkError(`duplicate resource: type ${describe(e.type)}, name ${describe(e.name)}, language ${hex4(e.language)}, in ${had.origin} and in ${e.origin}`);
    }
    names.entries.set(e.language, e);
  }

  // Sizes: the tables level by level, then the data entries, then the strings.
  const levels: Dir[][] = [[root]];
  for (let l = 0; l < 2; l++) levels.push(levels[l].flatMap((d) => sortedKeys(d).map((k) => d.entries.get(k) as Dir)));
  const leaves: ResourceEntry[] = levels[2].flatMap((d) => sortedKeys(d).map((k) => d.entries.get(k) as ResourceEntry));
  const dirOffset = new Map<Dir, number>();
  let size = 0;
  for (const level of levels) {
    for (const d of level) {
      dirOffset.set(d, size);
      size += 16 + 8 * d.entries.size;
    }
  }
  const leafOffset = new Map<ResourceEntry, number>();
  for (const e of leaves) {
    leafOffset.set(e, size);
    size += 16;
  }
  const stringOffset = new Map<string, number>();
  for (const level of levels) {
    for (const d of level) {
      for (const k of d.entries.keys()) {
        if (typeof k !== 'string' || stringOffset.has(k)) continue;
        stringOffset.set(k, size);
        size += 2 + 2 * k.length;
      }
    }
  }
  const tree = new Uint8Array((size + 7) & ~7);
  const tv = new DataView(tree.buffer);
  for (const level of levels) {
    for (const d of level) {
      const at = dirOffset.get(d)!;
      const keys = sortedKeys(d);
      tv.setUint16(at + 12, keys.filter((k) => typeof k === 'string').length, true);
      tv.setUint16(at + 14, keys.filter((k) => typeof k === 'number').length, true);
      keys.forEach((k, i) => {
        const e = at + 16 + 8 * i;
        tv.setUint32(e, typeof k === 'number' ? k : (0x80000000 | stringOffset.get(k)!) >>> 0, true);
        const child = d.entries.get(k)!;
        tv.setUint32(e + 4, 'entries' in child ? (0x80000000 | dirOffset.get(child)!) >>> 0 : leafOffset.get(child)!, true);
      });
    }
  }
  for (const [s, at] of stringOffset) {
    tv.setUint16(at, s.length, true);
    for (let i = 0; i < s.length; i++) tv.setUint16(at + 2 + 2 * i, s.charCodeAt(i), true);
  }
  let dataSize = 0;
  const dataOffset = new Map<ResourceEntry, number>();
  for (const e of leaves) {
    dataOffset.set(e, dataSize);
    dataSize = (dataSize + e.data.length + 7) & ~7;
  }
  const data = new Uint8Array(dataSize);
  const fixups: ResourceTree['fixups'] = [];
  for (const e of leaves) {
    const at = leafOffset.get(e)!;
    data.set(e.data, dataOffset.get(e)!);
    tv.setUint32(at + 4, e.data.length, true);
    fixups.push({ at, dataOffset: dataOffset.get(e)! });
  }
  return { tree, data, fixups };
}

function hex4(v: number): string {
  return `0x${v.toString(16).padStart(4, '0')}`;
}
