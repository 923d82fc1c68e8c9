import { sha256 } from '../obj/sha256.js';
import { sameBytes } from '../obj/bytes.js';
import { atomContentId } from '../obj/contentId.js';
import { SecFlag, SymPlace, SymType, type ArchName, type ObjectFile } from '../obj/model.js';
import { BUILD_ID_CHUNK, digestTop } from '../link/buildId.js';
import type { TlsTemplate } from '../link/layout.js';
import type { OutputSection } from '../link/outputSections.js';
import type { LinkResult } from '../link/pipeline.js';
import { SymState, type Resolution } from '../link/resolve.js';
import { GotSlotKind } from '../link/scan.js';
import { StateError, StateReader, StateWriter } from './stateCodec.js';

/**
 * The persisted state of an incremental link (layout documented in
 * doc/incremental.md): everything the next link needs to decide whether it
 * can patch the image, and to patch it, without re-reading unchanged inputs:
 * where every atom sits and how much room it has (by content id), the free
 * list, the jump islands, the symbol table's shape, the GOT, the options,
 * and a hash of the image it describes.
 */

export const STATE_MAGIC = 'TSLINKST';
export const STATE_VERSION = 12;

export interface AtomRecord {
  /** Section name, `#k` appended for the k-th repeat of a name within the object. */
  key: string;
  id: Uint8Array;
  /** Index into LinkState.sections, or -1 when the atom is not placed (discarded, merged). */
  sec: number;
  /** The body's address (offset in its section for non-allocated ones). */
  addr: number;
  /** Bytes reserved from addr: the atom, its slack, up to the next atom. */
  slot: number;
  size: number;
  align: number;
  /** The address the program uses for the atom's entry: the island's when the atom moved. */
  canonical: number;
  /** For atoms merged into a deduplicated section: piece starts, where each piece lives, and in which section. */
  mergeIn?: Uint32Array;
  mergeOut?: Float64Array;
  mergeSec?: number;
}

export interface ObjectRecord {
  input: number;
  /** Archive member name, '' for a plain object. */
  member: string;
  name: string;
  /** Hash of the object's bytes. */
  hash: Uint8Array;
  /** The global symbol table's shape, one entry per symbol (see symbolShape). */
  shape: string[];
  /** Hash of the object's undefined references in symbol-table order (see referenceOrder). */
  refOrder: Uint8Array;
  /** Where the object's local symbols sit in .symtab, and a hash of their names. */
  localFirst: number;
  localCount: number;
  localHash: Uint8Array;
  /** Hash of where every local symbol is (atom, value, size, type): when it is the same, so are local targets (localPlaceHash). */
  localPlaces: Uint8Array;
  /** With --gc-sections: a hash of what decides the object's part in the collection (gcGate.ts); empty without. */
  gc: Uint8Array;
  atoms: AtomRecord[];
}

export const enum GlobalKind {
  Defined = 0,
  UndefWeak = 1,
  Synthetic = 2,
  Common = 3,
  /** Defined by a shared library; the value is its copy or PLT entry in the program, 0 when it has neither. */
  Shared = 4,
  /** Defined here, in a shared library, but preemptible: references go through the PLT or GOT. */
  Preemptible = 5,
  /** PE images: an absolute symbol, whose value the loader does not relocate (no base relocation). */
  Absolute = 6,
}

export interface GlobalRecord {
  name: string;
  kind: GlobalKind;
  /** The address the program uses (TLS symbols: their address, not their offset). */
  value: number;
  size: number;
  /** Index in .symtab, or -1. */
  symtab: number;
  /** Defining object (index into objects), or -1. */
  object: number;
  tls: boolean;
}

export interface SectionRecord {
  name: string;
  flags: number;
  addr: number;
  offset: number;
  size: number;
  used: number;
  /** Bytes of the section stored in the file from `offset`: its size, but a PE section's zero-fill tail is not. */
  fileSize: number;
}

export interface FreeRange {
  sec: number;
  addr: number;
  size: number;
}

export interface IslandRecord {
  /** The island's address (the atom's canonical address). */
  addr: number;
  object: number;
  atom: number;
}

export interface InputRecord {
  name: string;
  kind: 'object' | 'archive' | 'shared';
  hash: Uint8Array;
  /** Archives: hash of the symbol index (names and member names). */
  indexHash: Uint8Array;
  /**
   * The identity of the file the bytes were read from, when the caller gave
   * one old enough to trust (LinkSession.addInput): a later link that finds
   * the same identity takes the input as unchanged without reading it.
   */
  identity: FileIdentityRecord | null;
}

/**
 * A file's identity as a file system reports it (stat): device, inode, size,
 * and the modification and status-change times in nanoseconds. Any write to
 * the file, a rename over it, a chmod or a utimes changes it.
 */
export interface FileIdentityRecord {
  dev: bigint;
  ino: bigint;
  size: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
}

export function sameIdentity(a: FileIdentityRecord | null | undefined, b: FileIdentityRecord | null | undefined): boolean {
  return !!a && !!b && a.dev === b.dev && a.ino === b.ino && a.size === b.size && a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs;
}

export interface LinkState {
  optionsKey: string;
  arch: ArchName;
  imageSize: number;
  imageHash: Uint8Array;
  /**
   * The identity of the file the caller wrote this image to, when it said
   * (LinkSession.serializeState): a later link that finds the file with the
   * same identity uses it without reading and hashing it whole.
   */
  imageIdentity: FileIdentityRecord | null;
  /**
   * The command line's shadow of the output (doc/incremental.md, "Writing a
   * patch"): a file holding an earlier image, and where it may differ from
   * this one; null when there is none. The session only keeps it.
   */
  shadow: ShadowRecord | null;
  chunkDigests: Uint8Array[];
  buildIdOffset: number;
  buildIdSize: number;
  symtabOffset: number;
  /** File offset of the section header table; section i of `sections` has header i + 1. */
  shdrOffset: number;
  /**
   * A record that changes is replaced by a new one, never edited in place: encoding a decoded state
   * copies the bytes of the rows whose records are still the ones it decoded (writeRows).
   */
  inputs: InputRecord[];
  objects: ObjectRecord[];
  sections: SectionRecord[];
  free: FreeRange[];
  islands: IslandRecord[];
  globals: GlobalTable;
  /** GOT slot key (see gotKey) -> slot address. */
  got: Map<string, number>;
  /**
   * A symbol defined by more than one loaded object (weak definitions, COMDAT
   * groups), whose winner depends on the order archive members load in; ''
   * when there is none.
   */
  contested: string;
  tls: TlsTemplate | null;
  /** A PE image (format 'coff'): its preferred base and what it exports (for its import library); null for ELF. */
  pe: PeStateRecord | null;
}

/**
 * A file that holds the image before the last patch: its identity when
 * written (its size too), and the ranges where the image may differ from it.
 * Bringing it up to date costs those ranges, not a copy of the whole image.
 */
export interface ShadowRecord {
  identity: FileIdentityRecord;
  stale: Array<{ offset: number; length: number }>;
}

export interface PeStateRecord {
  imageBase: number;
  dllName: string;
  exports: PeExportRecord[];
}

export interface PeExportRecord {
  name: string;
  ordinal: number;
  noName: boolean;
  data: boolean;
  private: boolean;
}

export interface ObjectOrigin {
  input: number;
  member: string;
}

const encoder = new TextEncoder();

/**
 * The hash of the state's checksums and of the inputs' bytes: SHA-256, which
 * Node runs natively and, on a CPU with SHA extensions, at about twice the
 * speed of BLAKE2b-512 (4 KiB blocks: about 6 against 13 us each, creating
 * the hash included; that is what a fresh relink's lookups in the globals
 * pay per block). Content ids, which DESIGN.md fixes, stay BLAKE2b
 * (contentId.ts).
 */
export function hashBytes(b: Uint8Array): Uint8Array {
  return sha256([b]);
}

/** hashBytes of the concatenation of `parts`. */
export function hashParts(parts: readonly Uint8Array[]): Uint8Array {
  return sha256(parts);
}

export { sameBytes };

/**
 * The image's identity: the top of its chunk digests' tree (buildId.ts; the
 * build id zeroed in its chunk) and the build id's bytes.
 */
export function imageHash(digests: readonly Uint8Array[], buildId: Uint8Array): Uint8Array {
  return imageHashFromTop(digestTop(digests), buildId);
}

export function imageHashFromTop(top: Uint8Array, buildId: Uint8Array): Uint8Array {
  return hashParts([top, buildId]);
}

/**
 * The order of an object's undefined references. Archive members load in the
 * order references reach them, and when several objects define a symbol
 * (weakly, or in COMDAT groups) the first loaded wins: then this order
 * matters to resolution, though the shape does not record it.
 */
export function referenceOrder(file: ObjectFile): Uint8Array {
  const names: string[] = [];
  for (let i = file.firstGlobal; i < file.symbols.length; i++) if (file.symbols[i].atom === SymPlace.Undefined) names.push(file.symbols[i].name);
  return hashBytes(encoder.encode(names.join('\0')));
}

/**
 * A symbol or COMDAT group whose winner depends on the order archive members
 * load in, or ''. Every member that a batch of references pulls in is
 * loaded before the next input is read, whatever the references' order, so
 * only the order among members matters: a definition is contested when the
 * winner is an archive member and another member defines it differently
 * (other contents): which of several identical copies wins cannot change the
 * program. (A plain object that wins keeps winning.)
 */
function contestedName(res: Resolution, origins: Map<ObjectFile, ObjectOrigin>): string {
  const isMember = (f: number) => (origins.get(res.files[f])?.member ?? '') !== '';
  /** Name -> (file, what its definition is) for every definition in an archive member. */
  const definers = new Map<string, Array<[number, string]>>();
  const add = (name: string, fi: number, what: string) => {
    const list = definers.get(name);
    if (list) list.push([fi, what]); else definers.set(name, [[fi, what]]);
  };
  const idOf = (f: ObjectFile, a: number) => [...atomContentId(f, f.atoms[a])].map((b) => b.toString(16)).join('');
  res.files.forEach((f, fi) => {
    if (!isMember(fi)) return;
    for (let i = f.firstGlobal; i < f.symbols.length; i++) {
      const s = f.symbols[i];
      if (s.atom >= 0) add(s.name, fi, `${idOf(f, s.atom)}+${s.value}`);
      else if (s.atom === SymPlace.Absolute || s.atom === SymPlace.Common) add(s.name, fi, `${s.atom}:${s.value}:${s.size}`);
    }
    for (const g of f.groups) add(`COMDAT group ${g.signature}`, fi, g.atoms.map((a) => idOf(f, a)).join(','));
  });
  for (const [name, defs] of definers) {
    if (defs.length < 2 || defs.every(([, what]) => what === defs[0][1])) continue;
    const winner = name.startsWith('COMDAT group ')
      ? res.comdatOwners.get(name.slice('COMDAT group '.length))
      : res.symbols[res.byName.get(name)!]?.file;
    if (winner !== undefined && winner >= 0 && isMember(winner)) return name;
  }
  return '';
}

/** Keys of atoms within an object: the section name, `#k` for repeats. */
export function atomKeys(file: ObjectFile): string[] {
  const seen = new Map<string, number>();
  return file.atoms.map((a) => {
    const k = seen.get(a.name) ?? 0;
    seen.set(a.name, k + 1);
    return k === 0 ? a.name : `${a.name}#${k}`;
  });
}

/**
 * What an object contributes to symbol resolution: every global symbol's
 * name, binding, visibility, type and whether it is defined, common (with
 * size and alignment) or undefined, and its COMDAT groups, in a canonical
 * order. Two objects with the same shape resolve the same way against the
 * same other inputs.
 */
export function symbolShape(file: ObjectFile): string[] {
  const out: string[] = [];
  for (let i = file.firstGlobal; i < file.symbols.length; i++) {
    const s = file.symbols[i];
    // A symbol in a section the link does not keep resolves as a reference, not a definition (resolve.ts).
    const where = s.atom === SymPlace.Undefined || s.atom === SymPlace.Dropped ? 'U' : s.atom === SymPlace.Common ? `C${s.size}/${s.value}` : s.atom === SymPlace.Absolute ? `A${s.value}` : 'D';
    out.push(`${s.name} ${where} b${s.binding} v${s.visibility} t${s.type}`);
  }
  for (const g of file.groups) out.push(`comdat ${g.signature}`);
  // COFF's directives name exports, libraries, aliases: what the link resolves and writes.
  if (file.directives) for (const w of file.directives.split(/\s+/)) if (w) out.push(`directive ${w}`);
  // Order within the table does not change what resolves to what.
  return out.sort();
}

export function gotKey(kind: GotSlotKind, global: string | null, object: number, local: string): string {
  return global !== null ? `${kind}g:${global}` : `${kind}l:${object}:${local}`;
}

/** The names of an object's local symbols as emitted in .symtab, for the patch's equality check. */
export function localSymbolHash(file: ObjectFile, emitted: (sym: number) => boolean): Uint8Array {
  const names: string[] = [];
  for (let i = 1; i < file.firstGlobal; i++) if (emitted(i)) names.push(`${file.symbols[i].name}/${file.symbols[i].type}`);
  return hashBytes(encoder.encode(names.join('\n')));
}

/**
 * Where an object's local symbols are: each one's atom (or place: absolute,
 * undefined, ...), value, size and type. An atom's content id names its
 * relocations' targets, not where they are; with this the same, a patch
 * knows an unchanged atom's local targets did not move within their atoms.
 */
export function localPlaceHash(file: ObjectFile): Uint8Array {
  const n = Math.max(1, file.firstGlobal);
  const buf = new Uint8Array(n * 32);
  const dv = new DataView(buf.buffer);
  for (let i = 1; i < n; i++) {
    const s = file.symbols[i];
    dv.setFloat64(i * 32, s.atom, true);
    dv.setFloat64(i * 32 + 8, s.value, true);
    dv.setFloat64(i * 32 + 16, s.size, true);
    dv.setFloat64(i * 32 + 24, s.type, true);
  }
  return hashBytes(buf);
}

/** Records a full link's result as the state for the next link. */
/**
 * What captureState reads of a link's result: an ELF link's, or a PE
 * link's, which has no symbol table (`tables` null) and no GOT (`got` null).
 */
export type StateSource = Pick<LinkResult, 'res' | 'plan' | 'layout' | 'values' | 'buildIdOffset' | 'buildIdSize' | 'chunkDigests' | 'gotAddr'> & {
  /** The whole image (a link that keeps a state never streams it). */
  image: Uint8Array;
  tables: Pick<LinkResult['tables'], 'localIndex' | 'globalIndex' | 'symtabOff' | 'shoff'> | null;
  got: Pick<LinkResult['got'], 'slots'> | null;
  /** PE images: the preferred base and each section's bytes in the file. */
  pe?: PeStateRecord & { fileSizes: Map<OutputSection, number>; isAbsolute(id: number): boolean };
};

export function captureState(
  r: StateSource, arch: ArchName, optionsKey: string, inputs: InputRecord[], origins: Map<ObjectFile, ObjectOrigin>,
  inputHash: (file: ObjectFile) => Uint8Array,
): LinkState {
  const { res, plan, layout, tables } = r;
  const secIndex = new Map(layout.sections.map((s, i) => [s, i]));
  // A PE image maps every section, DWARF too: the records say so, so that a patch treats them alike.
  const sections: SectionRecord[] = layout.sections.map((s) => ({
    name: s.name, flags: r.pe ? s.flags | SecFlag.Alloc : s.flags, addr: s.addr, offset: s.offset, size: s.size, used: s.used,
    fileSize: r.pe ? r.pe.fileSizes.get(s) ?? 0 : s.flags & SecFlag.NoBits ? 0 : s.size,
  }));

  // Each atom's slot: up to the next atom in its section, the last one up to what the section uses.
  const slotOf = plan.files.map((f) => new Float64Array(f.atoms.length));
  for (const sec of layout.sections) {
    const end = sec.addr + sec.used;
    for (let k = 0; k < sec.atoms.length; k++) {
      const ref = sec.atoms[k];
      const addr = layout.atomAddr[ref.file][ref.atom];
      const next = k + 1 < sec.atoms.length ? layout.atomAddr[sec.atoms[k + 1].file][sec.atoms[k + 1].atom] : end;
      slotOf[ref.file][ref.atom] = next - addr;
    }
  }

  const objects: ObjectRecord[] = res.files.map((file, f) => {
    const origin = origins.get(file);
    if (!origin) throw new StateError(`internal error: no origin for ${file.name}`);
    const keys = atomKeys(file);
    const atoms: AtomRecord[] = file.atoms.map((atom, a) => {
      const out = plan.atomOut[f][a];
      const addr = layout.atomAddr[f][a];
      const rec: AtomRecord = {
        key: keys[a], id: atomContentId(file, atom), sec: -1, addr: 0, slot: 0, size: atom.size, align: atom.align, canonical: 0,
      };
      const merge = plan.mergeMaps[f][a];
      if (merge) {
        const base = layout.atomAddr[plan.internal][merge.target];
        rec.mergeIn = merge.inStart;
        rec.mergeOut = Float64Array.from(merge.outStart, (o) => base + o);
        rec.mergeSec = secIndex.get(plan.sections[plan.atomOut[plan.internal][merge.target]])!;
      } else if (out >= 0 && !Number.isNaN(addr)) {
        rec.sec = secIndex.get(plan.sections[out])!;
        rec.addr = rec.canonical = addr;
        rec.slot = slotOf[f][a];
      }
      return rec;
    });
    const li = tables?.localIndex[f] ?? new Int32Array(0);
    let localFirst = -1;
    let localCount = 0;
    for (let i = 0; i < li.length; i++) {
      if (li[i] < 0) continue;
      if (localFirst < 0) localFirst = li[i];
      localCount++;
    }
    return {
      input: origin.input, member: origin.member, name: file.name, hash: inputHash(file), shape: symbolShape(file),
      refOrder: referenceOrder(file),
      localFirst, localCount, localHash: localSymbolHash(file, (i) => i < li.length && li[i] >= 0), localPlaces: localPlaceHash(file), gc: new Uint8Array(0), atoms,
    };
  });

  const globals: GlobalRecord[] = [];
  res.symbols.forEach((g, id) => {
    let kind: GlobalKind;
    let value = 0;
    let size = 0;
    let tls = false;
    let object = -1;
    if (g.state === SymState.Defined || g.state === SymState.Common) {
      const s = res.files[g.file].symbols[g.sym];
      // What the program uses: an IFUNC's PLT entry rather than its resolver.
      const addr = r.values.programAddress(g);
      if (addr === undefined) return;
      kind = g.state === SymState.Common ? GlobalKind.Common : res.preemptible?.[id] ? GlobalKind.Preemptible
        : r.pe?.isAbsolute(id) ? GlobalKind.Absolute : GlobalKind.Defined;
      value = addr;
      size = s.size;
      tls = s.type === SymType.TLS;
      object = g.file;
    } else if (g.state === SymState.Synthetic) {
      kind = GlobalKind.Synthetic;
      value = r.values.synthetic.get(g.name) ?? 0;
    } else if (g.state === SymState.Shared) {
      kind = GlobalKind.Shared;
      value = r.values.sharedAddress(id) ?? 0;
      size = res.shared[g.file].symbols[g.sym].size;
    } else {
      kind = GlobalKind.UndefWeak;
    }
    globals.push({ name: g.name, kind, value, size, symtab: tables ? tables.globalIndex[id] : -1, object, tls });
  });

  const got = new Map<string, number>();
  r.got?.slots.forEach((slot, i) => {
    const file = plan.files[slot.file];
    const isGlobal = slot.sym >= file.firstGlobal && slot.file !== plan.internal;
    const name = isGlobal ? res.symbols[res.globalIds[slot.file][slot.sym]].name : null;
    got.set(gotKey(slot.kind, name, slot.file, file.symbols[slot.sym].name), r.gotAddr + i * 8);
  });

  const buildId = r.buildIdOffset >= 0 ? r.image.slice(r.buildIdOffset, r.buildIdOffset + r.buildIdSize) : new Uint8Array(0);
  return {
    optionsKey, arch, imageSize: r.image.length, imageHash: imageHash(r.chunkDigests, buildId), imageIdentity: null, shadow: null,
    chunkDigests: r.chunkDigests, buildIdOffset: r.buildIdOffset, buildIdSize: r.buildIdSize,
    symtabOffset: tables?.symtabOff ?? 0, shdrOffset: tables?.shoff ?? 0, inputs, objects, sections, free: [], islands: [], globals: GlobalTable.of(globals), got, tls: layout.tls,
    contested: contestedName(res, origins),
    pe: r.pe ? { imageBase: r.pe.imageBase, dllName: r.pe.dllName, exports: r.pe.exports } : null,
  };
}

/** What a patch needs of the globals: a record by name. */
export interface GlobalLookup {
  get(name: string): GlobalRecord | undefined;
}

/**
 * The globals of a state, kept as encoded: the records (name str, kind u8,
 * value, size, .symtab index, object (num each), tls u8) back to back, then
 * a hash table of their offsets (a power-of-two count of u32 slots, at least
 * twice the records: 0 empty, else a record's offset + 1; open addressing on
 * FNV-1a of the name's UTF-16 units). A record is decoded (and checked) when
 * it is first looked up; a patch changes a record's size only (setSize),
 * never adds or removes one, and the encoding writes the changed records
 * over the stored bytes. The bytes are in the state itself, or (a split
 * state) in its records file, read and checked in blocks of GLOBAL_BLOCK
 * bytes as lookups reach them; then the state lists each block's checksum
 * and the records changed since the bytes were written (`overrides`).
 */
export class GlobalTable implements GlobalLookup {
  /** Records decoded so far, by offset, and each one's offset. */
  private readonly byOffset = new Map<number, GlobalRecord>();
  private readonly offsetOf = new Map<GlobalRecord, number>();
  /** Names looked up: their record, or null when there is none. */
  private readonly byName = new Map<string, GlobalRecord | null>();
  /** Offsets of the records whose values differ from the bytes (setSize, or a stored state's overrides). */
  private readonly overridden = new Set<number>();

  private constructor(
    readonly length: number,
    /** Bytes of the records, then the table. */
    private readonly recordsLength: number,
    private readonly slots: number,
    private bytes: GlobalBytes,
    private readonly check: (g: GlobalRecord) => void,
  ) {}

  /** A link's globals: encoded now; the records given are the ones lookups return. */
  static of(records: GlobalRecord[]): GlobalTable {
    const w = new StateWriter(1 << 16);
    const offsets = records.map((g) => {
      const at = w.length;
      writeGlobal(w, g);
      return at;
    });
    const recordsLength = w.length;
    let slots = 2;
    while (slots < records.length * 2) slots *= 2;
    const table = new Uint32Array(slots);
    records.forEach((g, i) => {
      let k = nameHash(g.name) & (slots - 1);
      while (table[k] !== 0) k = (k + 1) & (slots - 1);
      table[k] = offsets[i] + 1;
    });
    w.raw(new Uint8Array(table.buffer));
    const t = new GlobalTable(records.length, recordsLength, slots, new GlobalBytes(w.result(), null), () => undefined);
    records.forEach((g, i) => t.adopt(offsets[i], g));
    return t;
  }

  /** Decodes the globals of a state (`store`: its records file, where a split state keeps their bytes). */
  static read(r: StateReader, store: RecordStore | null, check: (g: GlobalRecord) => void): GlobalTable {
    const where = r.u8();
    const count = r.u32();
    const recordsLength = r.u32();
    const slots = r.u32();
    if (slots < count * 2 || (slots & (slots - 1)) !== 0) throw new StateError(`a table of ${slots} slots for ${count} globals`);
    if (count * 38 > recordsLength) throw new StateError(`${count} globals in ${recordsLength} bytes`);
    const length = recordsLength + slots * 4;
    let t: GlobalTable;
    if (where === 0) {
      t = new GlobalTable(count, recordsLength, slots, new GlobalBytes(r.raw(length), null), check);
    } else if (where === 1) {
      const at = r.num();
      // One view of all the blocks' checksums: a large program has thousands, and a patch checks the few it reads.
      const sums = r.raw(Math.ceil(length / GLOBAL_BLOCK) * 32);
      if (!store) throw new StateError('its records file is missing (it holds the globals)');
      if (!Number.isInteger(at) || at < 0 || at + length > store.size) throw new StateError('the globals lie outside the records file');
      t = new GlobalTable(count, recordsLength, slots, new GlobalBytes(null, { store, at, length, sums }), check);
      for (let n = r.count(39); n > 0; n--) {
        const offset = r.u32();
        const g: GlobalRecord = { name: r.str(), kind: r.u8() as GlobalKind, value: r.num(), size: r.num(), symtab: r.num(), object: r.num(), tls: r.u8() === 1 };
        if (offset >= recordsLength) throw new StateError(`a changed global (${g.name}) lies outside the globals`);
        t.adopt(offset, g);
        t.overridden.add(offset);
      }
    } else {
      throw new StateError(`the globals have marker ${where}`);
    }
    return t;
  }

  private adopt(at: number, g: GlobalRecord): void {
    this.byOffset.set(at, g);
    this.offsetOf.set(g, at);
  }

  get(name: string): GlobalRecord | undefined {
    const known = this.byName.get(name);
    if (known !== undefined) return known ?? undefined;
    const mask = this.slots - 1;
    let found: GlobalRecord | null = null;
    // Names compared as bytes: a probe that misses decodes nothing.
    const want = utf8(name);
    for (let k = nameHash(name) & mask, probes = 0; probes <= mask; k = (k + 1) & mask, probes++) {
      const slot = this.u32At(this.recordsLength + k * 4);
      if (slot === 0) break;
      const at = slot - 1;
      if (at >= this.recordsLength) throw new StateError(`a global's slot points outside the records (${at})`);
      if (this.u32At(at) !== want.length || !sameBytes(this.bytes.at(at + 4, want.length), want)) continue;
      found = this.decodeAt(at);
      break;
    }
    this.byName.set(name, found);
    return found ?? undefined;
  }

  /** A patch's change to a global: its size (the only value a patch changes). */
  setSize(g: GlobalRecord, size: number): void {
    g.size = size;
    this.changed(g);
  }

  /** Says that a record's values changed (not its name): the encoding writes them. */
  changed(g: GlobalRecord): void {
    const at = this.offsetOf.get(g);
    if (at === undefined) throw new StateError(`internal error: ${g.name} is not a record of this state`);
    this.overridden.add(at);
  }

  /** Every record (decodes them all). */
  all(): GlobalRecord[] {
    const out: GlobalRecord[] = [];
    for (let n = 0, at = 0; n < this.length; n++) {
      out.push(this.decodeAt(at));
      at += 4 + this.u32At(at) + GLOBAL_FIXED;
    }
    return out;
  }

  /** How many of `store`'s bytes these globals are (0 if they are not there). */
  bytesIn(store: RecordStore): number {
    const stored = this.bytes.stored;
    return stored && stored.store === store ? stored.length : 0;
  }

  /** The records decoded so far. */
  loaded(): Iterable<GlobalRecord> {
    return this.byOffset.values();
  }

  private u32At(at: number): number {
    const b = this.bytes.at(at, 4);
    return (b[0] | (b[1] << 8) | (b[2] << 16) | (b[3] << 24)) >>> 0;
  }

  /** The record at `at`, decoded and checked once. */
  private decodeAt(at: number): GlobalRecord {
    let g = this.byOffset.get(at);
    if (g) return g;
    const n = this.u32At(at);
    const r = new StateReader(this.bytes.at(at, 4 + n + GLOBAL_FIXED));
    g = { name: r.str(), kind: r.u8() as GlobalKind, value: r.num(), size: r.num(), symtab: r.num(), object: r.num(), tls: r.u8() === 1 };
    this.check(g);
    this.adopt(at, g);
    return g;
  }

  /** The records and the table, with the changed records' values written over them. */
  private current(): Uint8Array {
    const out = this.bytes.at(0, this.recordsLength + this.slots * 4).slice();
    const w = new StateWriter(64);
    for (const at of this.overridden) {
      const g = this.byOffset.get(at)!;
      w.length = 0;
      writeGlobalFields(w, g);
      out.set(w.view(), at + 4 + this.u32At(at));
    }
    return out;
  }

  /**
   * Encodes the globals: in the state (`records` null), or in the records
   * file, by reference when their bytes are already there (with the changed
   * records listed), else added to it (and kept as these bytes from then on).
   */
  encode(w: StateWriter, records: RecordSink | null): void {
    const stored = this.bytes.stored;
    const inStore = records !== null && stored !== null && stored.store === records.store && !records.fresh;
    w.u8(records ? 1 : 0);
    w.u32(this.length);
    w.u32(this.recordsLength);
    w.u32(this.slots);
    if (!records) {
      w.raw(this.current());
      return;
    }
    if (!inStore) {
      const bytes = this.current();
      const at = records.add(bytes);
      this.bytes = new GlobalBytes(bytes, { store: records.store, at, length: bytes.length, sums: blockSums(bytes) });
      this.overridden.clear();
    }
    const home = this.bytes.stored!;
    w.num(home.at);
    w.raw(home.sums);
    w.u32(this.overridden.size);
    for (const at of this.overridden) {
      w.u32(at);
      writeGlobal(w, this.byOffset.get(at)!);
    }
  }
}

/** Block size of the globals' bytes in a records file: each block is read and checked when a lookup first reaches it. */
const GLOBAL_BLOCK = 4096;

function blockSums(bytes: Uint8Array): Uint8Array {
  const sums = new Uint8Array(Math.ceil(bytes.length / GLOBAL_BLOCK) * 32);
  for (let at = 0; at < bytes.length; at += GLOBAL_BLOCK) sums.set(hashBytes(bytes.subarray(at, Math.min(bytes.length, at + GLOBAL_BLOCK))), (at / GLOBAL_BLOCK) * 32);
  return sums;
}

/**
 * The globals' bytes: in memory (`whole`: the state's own, or written by
 * this process), or in a records file (`stored`), read a block at a time and
 * checked against its checksum.
 */
class GlobalBytes {
  private readonly blocks = new Map<number, Uint8Array>();

  constructor(
    private readonly whole: Uint8Array | null,
    /** `sums`: each block's checksum, 32 bytes each, in block order. */
    readonly stored: { store: RecordStore; at: number; length: number; sums: Uint8Array } | null,
  ) {}

  at(offset: number, length: number): Uint8Array {
    if (this.whole) {
      if (offset + length > this.whole.length) throw new StateError(`the globals end before offset ${offset + length}`);
      return this.whole.subarray(offset, offset + length);
    }
    const s = this.stored!;
    if (offset + length > s.length) throw new StateError(`the globals end before offset ${offset + length}`);
    const first = Math.floor(offset / GLOBAL_BLOCK);
    const last = Math.floor((offset + Math.max(length, 1) - 1) / GLOBAL_BLOCK);
    if (first === last) return this.block(first).subarray(offset - first * GLOBAL_BLOCK, offset - first * GLOBAL_BLOCK + length);
    const out = new Uint8Array(length);
    for (let b = first; b <= last; b++) {
      const block = this.block(b);
      const from = Math.max(offset, b * GLOBAL_BLOCK);
      const to = Math.min(offset + length, b * GLOBAL_BLOCK + block.length);
      out.set(block.subarray(from - b * GLOBAL_BLOCK, to - b * GLOBAL_BLOCK), from - offset);
    }
    return out;
  }

  private block(b: number): Uint8Array {
    let bytes = this.blocks.get(b);
    if (bytes) return bytes;
    const s = this.stored!;
    const length = Math.min(GLOBAL_BLOCK, s.length - b * GLOBAL_BLOCK);
    bytes = s.store.read(s.at + b * GLOBAL_BLOCK, length);
    if (bytes.length !== length || !sameBytes(hashBytes(bytes), s.sums.subarray(b * 32, b * 32 + 32))) {
      throw new StateError(`the globals in the records file are corrupt (checksum mismatch in block ${b})`);
    }
    this.blocks.set(b, bytes);
    return bytes;
  }
}

const GLOBAL_FIXED = 1 + 8 * 4 + 1;

/** A name's UTF-8 bytes (an ASCII name without the encoder). */
function utf8(name: string): Uint8Array {
  const out = new Uint8Array(name.length);
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c >= 0x80) return encoder.encode(name);
    out[i] = c;
  }
  return out;
}

function nameHash(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

function writeGlobal(w: StateWriter, g: GlobalRecord): void {
  w.str(g.name);
  writeGlobalFields(w, g);
}

function writeGlobalFields(w: StateWriter, g: GlobalRecord): void {
  w.u8(g.kind);
  w.num(g.value);
  w.num(g.size);
  w.num(g.symtab);
  w.num(g.object);
  w.u8(g.tls ? 1 : 0);
}

/**
 * Where the objects' records live when not in the state itself: a file the
 * caller keeps beside it and only appends to (the command line's
 * `STATE.records`), read where a patch looks. `size`: the bytes in
 * it; the caller keeps it true after each write (see encodeStateSplit).
 */
export interface RecordStore {
  readonly size: number;
  read(offset: number, length: number): Uint8Array;
}

/** The records a split encoding adds: at the end of the store, or as a new store (`fresh`). */
interface RecordSink {
  store: RecordStore;
  fresh: boolean;
  add(bytes: Uint8Array): number;
}

/** A state whose records are all in it: one self-contained file. */
export function encodeState(s: LinkState): Uint8Array {
  return encodeStateWith(s, null);
}

/**
 * A state whose objects' records are in `store`: those already there, by
 * reference; the others (new, changed, or only in memory) in `records`, for
 * the caller to append at `store.size`, or, when `fresh`, to write as the
 * store's whole new content (when fewer than half of the store's bytes are
 * still referenced: after a full link, or after many patches).
 */
export function encodeStateSplit(s: LinkState, store: RecordStore): { state: Uint8Array; records: Uint8Array; fresh: boolean } {
  let reused = s.globals.bytesIn(store);
  for (const o of s.objects) {
    const stored = storedAt.get(o);
    if (stored && stored.store === store) reused += stored.length;
  }
  const fresh = store.size === 0 || reused < store.size / 2;
  const out = new StateWriter(1 << 16);
  const base = fresh ? 0 : store.size;
  const sink: RecordSink = {
    store, fresh, add: (bytes) => {
      const at = base + out.length;
      out.raw(bytes);
      return at;
    },
  };
  const state = encodeStateWith(s, sink);
  return { state, records: out.view(), fresh };
}

/** Where an object's bulk was last stored: valid while the record object is the same (a patch replaces the records it changes). */
const storedAt = new WeakMap<ObjectRecord, { store: RecordStore; at: number; length: number; sum: Uint8Array }>();

/** An object's bulk and its checksum: as read, if it was not decoded; encoded anew otherwise. */
function bulkOf(o: ObjectRecord): { bytes: Uint8Array; sum: Uint8Array } {
  const raw = undecoded.get(o);
  if (raw) return { bytes: raw.bulk ?? readStored(o), sum: raw.sum };
  const w = new StateWriter(4096);
  w.u32(o.shape.length);
  for (const e of o.shape) w.str(e);
  w.raw(o.refOrder);
  w.num(o.localFirst);
  w.u32(o.localCount);
  w.raw(o.localHash);
  w.raw(o.localPlaces);
  w.bytes(o.gc);
  w.u32(o.atoms.length);
  for (const a of o.atoms) {
    w.str(a.key);
    w.raw(a.id);
    w.num(a.sec);
    w.num(a.addr);
    w.num(a.slot);
    w.num(a.size);
    w.u32(a.align);
    w.num(a.canonical);
    if (a.mergeIn && a.mergeOut) {
      w.u32(a.mergeIn.length);
      w.u32(a.mergeSec ?? 0);
      w.raw(new Uint8Array(a.mergeIn.buffer, a.mergeIn.byteOffset, a.mergeIn.byteLength));
      w.raw(new Uint8Array(a.mergeOut.buffer, a.mergeOut.byteOffset, a.mergeOut.byteLength));
    } else {
      w.u32(0xffffffff);
    }
  }
  const bytes = w.view();
  return { bytes, sum: hashBytes(bytes) };
}

function encodeStateWith(s: LinkState, records: RecordSink | null): Uint8Array {
  // Sized for what was read (most of it is copied back as it was), and the header written last in place.
  const w = new StateWriter(Math.max(1 << 20, Math.ceil((sizeRead.get(s) ?? 0) * 1.05)));
  const magic = encoder.encode(STATE_MAGIC);
  const headerSize = magic.length + 4 + 32 + 4;
  for (let i = 0; i < headerSize; i++) w.u8(0);
  /** Where the objects' bulk lies: each has its own checksum, which the state's covers. */
  const bulks: Array<[number, number]> = [];
  w.str(s.optionsKey);
  w.str(s.arch);
  w.num(s.imageSize);
  w.raw(s.imageHash);
  w.u32(s.chunkDigests.length);
  for (const d of s.chunkDigests) w.raw(d);
  w.num(s.buildIdOffset);
  w.u32(s.buildIdSize);
  w.num(s.symtabOffset);
  w.num(s.shdrOffset);
  writeIdentity(w, s.imageIdentity);
  w.u8(s.shadow ? 1 : 0);
  if (s.shadow) {
    writeIdentity(w, s.shadow.identity);
    w.u32(s.shadow.stale.length);
    for (const r of s.shadow.stale) {
      w.num(r.offset);
      w.num(r.length);
    }
  }
  // The rows of a decoded state that are the records it was decoded into are copied back as they were:
  // a patch replaces the few records it changes (patch.ts commit), and writing two thousand unchanged
  // inputs field by field is a good part of a fresh process's relink.
  const rows = decodedRows.get(s);
  w.u32(s.inputs.length);
  writeRows(w, s.inputs, rows?.inputs, (i) => {
    w.str(i.name);
    w.u8(i.kind === 'object' ? 0 : i.kind === 'archive' ? 1 : 2);
    w.raw(i.hash);
    w.raw(i.indexHash);
    writeIdentity(w, i.identity);
  });
  w.u32(s.objects.length);
  // An object's row says where its bulk is in the records file: copied only into the same, not rewritten, file.
  const sameStore = records !== null && rows !== undefined && rows.store === records.store && !records.fresh;
  writeRows(w, s.objects, sameStore ? rows.objects : undefined, (o) => {
    w.u32(o.input);
    w.str(o.member);
    w.str(o.name);
    w.raw(o.hash);
    // The rest (the bulk), after its own checksum and length, so that a decode can leave it for later
    // (lazyObject) and the state's checksum need not cover it: in the state (marker 0, then its bytes), or
    // in the records file (marker 1, then its offset there). Written back as read when it was not decoded.
    const stored = storedAt.get(o);
    if (records && stored && stored.store === records.store && !records.fresh) {
      w.u8(1);
      w.raw(stored.sum);
      w.u32(stored.length);
      w.num(stored.at);
      return;
    }
    const { bytes, sum } = bulkOf(o);
    if (records) {
      const at = records.add(bytes);
      // From now on (once the caller has written it) its place, also for a record not decoded yet.
      storedAt.set(o, { store: records.store, at, length: bytes.length, sum });
      w.u8(1);
      w.raw(sum);
      w.u32(bytes.length);
      w.num(at);
      return;
    }
    w.u8(0);
    w.raw(sum);
    w.u32(bytes.length);
    bulks.push([w.length, w.length + bytes.length]);
    w.raw(bytes);
  });
  w.u32(s.sections.length);
  for (const x of s.sections) {
    w.str(x.name);
    w.u32(x.flags);
    w.num(x.addr);
    w.num(x.offset);
    w.num(x.size);
    w.num(x.used);
    w.num(x.fileSize);
  }
  w.u32(s.free.length);
  for (const f of s.free) {
    w.u32(f.sec);
    w.num(f.addr);
    w.num(f.size);
  }
  w.u32(s.islands.length);
  for (const i of s.islands) {
    w.num(i.addr);
    w.u32(i.object);
    w.u32(i.atom);
  }
  s.globals.encode(w, records);
  w.u32(s.got.size);
  for (const [k, v] of s.got) {
    w.str(k);
    w.num(v);
  }
  w.str(s.contested);
  w.u8(s.tls ? 1 : 0);
  if (s.tls) {
    w.num(s.tls.addr);
    w.num(s.tls.fileSize);
    w.num(s.tls.memSize);
    w.num(s.tls.align);
  }
  w.u8(s.pe ? 1 : 0);
  if (s.pe) {
    w.num(s.pe.imageBase);
    w.str(s.pe.dllName);
    w.u32(s.pe.exports.length);
    for (const e of s.pe.exports) {
      w.str(e.name);
      w.num(e.ordinal);
      w.u8((e.noName ? 1 : 0) | (e.data ? 2 : 0) | (e.private ? 4 : 0));
    }
  }
  const bytes = w.view();
  const payload = bytes.subarray(headerSize);
  bytes.set(magic, 0);
  w.setU32(magic.length, STATE_VERSION);
  bytes.set(checksum(bytes, headerSize, bulks), magic.length + 4);
  w.setU32(magic.length + 36, payload.length);
  return bytes;
}

/**
 * Rows of a decoded state: its records (null where a row is not to be copied), where each row starts (and
 * the last ends) in `bytes`, and whether row i still says what its record would (`holds`: an object's row
 * names where its bulk is, which a records file written anew moves).
 */
interface DecodedRows<T> {
  records: ReadonlyArray<T | null>;
  at: Uint32Array;
  bytes: Uint8Array;
  holds?: (i: number) => boolean;
}

/** What encodeStateWith may copy from the bytes a state was decoded from. */
const decodedRows = new WeakMap<LinkState, { inputs: DecodedRows<InputRecord>; objects: DecodedRows<ObjectRecord>; store: RecordStore | null }>();

/** Writes `now`: runs of the records a state was decoded into, still in their places, as their bytes; the others with `write`. */
function writeRows<T>(w: StateWriter, now: readonly T[], was: DecodedRows<T> | undefined, write: (record: T) => void): void {
  const same = (i: number) => was !== undefined && i < was.records.length && now[i] === was.records[i] && (!was.holds || was.holds(i));
  for (let i = 0; i < now.length;) {
    if (!same(i)) {
      write(now[i++]);
      continue;
    }
    let j = i + 1;
    while (j < now.length && same(j)) j++;
    w.raw(was!.bytes.subarray(was!.at[i], was!.at[j]));
    i = j;
  }
}

/** The state's checksum: of its payload (from `from`) but the objects' bulk, which has its own. */
function checksum(bytes: Uint8Array, from: number, bulks: ReadonlyArray<readonly [number, number]>): Uint8Array {
  const parts: Uint8Array[] = [];
  let at = from;
  for (const [start, end] of bulks) {
    parts.push(bytes.subarray(at, start));
    at = end;
  }
  parts.push(bytes.subarray(at));
  return hashParts(parts);
}

/** The size of the bytes a state was decoded from: the next encoding's buffer size. */
const sizeRead = new WeakMap<LinkState, number>();

function writeIdentity(w: StateWriter, id: FileIdentityRecord | null): void {
  w.u8(id ? 1 : 0);
  if (!id) return;
  for (const v of [id.dev, id.ino, id.size, id.mtimeNs, id.ctimeNs]) w.u64(v);
}

function readIdentity(r: StateReader): FileIdentityRecord | null {
  const present = r.u8();
  if (present === 0) return null;
  if (present !== 1) throw new StateError(`a file identity has marker ${present}`);
  return { dev: r.u64(), ino: r.u64(), size: r.u64(), mtimeNs: r.u64(), ctimeNs: r.u64() };
}

/** Decodes a state; a StateError says in words why it cannot be used. */
export function decodeState(bytes: Uint8Array, store: RecordStore | null = null): LinkState {
  const h = new StateReader(bytes);
  const magic = new TextDecoder().decode(h.raw(Math.min(8, bytes.length)));
  if (magic !== STATE_MAGIC) throw new StateError('the incremental state file is not a tslink state');
  const version = h.u32();
  if (version !== STATE_VERSION) throw new StateError(`the incremental state has version ${version}, this tslink reads version ${STATE_VERSION}`);
  const sum = h.raw(32);
  const payloadAt = h.pos + 4;
  const payload = h.bytes();
  if (!h.done) throw new StateError(`the incremental state has ${bytes.length - h.pos} bytes after its end`);
  // Decoded first (every read is bounds-checked), then checked: the checksum leaves out the objects' bulk.
  const bulks: Array<[number, number]> = [];
  const r = new StateReader(payload);
  const optionsKey = r.str();
  const arch = r.str() as ArchName;
  const imageSize = r.num();
  const imageHashV = r.raw(32);
  const chunkDigests: Uint8Array[] = [];
  for (let n = r.count(32); n > 0; n--) chunkDigests.push(r.raw(32));
  const buildIdOffset = r.num();
  const buildIdSize = r.u32();
  const symtabOffset = r.num();
  const shdrOffset = r.num();
  const imageIdentity = readIdentity(r);
  let shadow: ShadowRecord | null = null;
  if (r.u8() === 1) {
    const identity = readIdentity(r);
    if (!identity) throw new StateError('the output\'s shadow has no identity');
    shadow = { identity, stale: [] };
    for (let n = r.count(16); n > 0; n--) shadow.stale.push({ offset: r.num(), length: r.num() });
  }
  const inputs: InputRecord[] = [];
  const inputCount = r.count(70);
  const inputAt = new Uint32Array(inputCount + 1);
  for (let n = inputCount; n > 0; n--) {
    inputAt[inputs.length] = r.pos;
    const name = r.str();
    const k = r.u8();
    if (k > 2) throw new StateError(`input ${inputs.length} has unknown kind ${k}`);
    const kind = k === 0 ? 'object' : k === 1 ? 'archive' : 'shared';
    inputs.push({ name, kind, hash: r.raw(32), indexHash: r.raw(32), identity: readIdentity(r) });
  }
  inputAt[inputs.length] = r.pos;
  const objects: ObjectRecord[] = [];
  /** The records as decoded, for rows copied back as they were (null: a row that is not copied). */
  const storedObjects: Array<ObjectRecord | null> = [];
  /** Where each one's bulk was (storedAt's entry, replaced when an encoding writes the bulk elsewhere). */
  const storedWhere: Array<object | null> = [];
  /** Set once the state is built: the lazy records check themselves against it. */
  let built: LinkState | null = null;
  const objectCount = r.count(80);
  const objectAt = new Uint32Array(objectCount + 1);
  for (let n = objectCount; n > 0; n--) {
    objectAt[objects.length] = r.pos;
    const base = { input: r.u32(), member: r.str(), name: r.str(), hash: r.raw(32) };
    const where = r.u8();
    const sum = r.raw(32);
    const check = (o: ObjectRecord) => checkObjectInvariants(built!, o);
    if (where === 0) {
      const bulk = r.bytes();
      bulks.push([payloadAt + bulk.byteOffset - payload.byteOffset, payloadAt + bulk.byteOffset - payload.byteOffset + bulk.length]);
      objects.push(lazyObject(base, { bulk, sum, check }));
      storedObjects.push(null);
      storedWhere.push(null);
    } else if (where === 1) {
      const length = r.u32();
      const at = r.num();
      if (!store) throw new StateError(`its records file is missing (it holds the record of ${base.name})`);
      if (!Number.isInteger(at) || at < 0 || at + length > store.size) throw new StateError(`the record of ${base.name} lies outside the records file`);
      const rec = lazyObject(base, { bulk: null, sum, check });
      const stored = { store, at, length, sum };
      storedAt.set(rec, stored);
      objects.push(rec);
      storedObjects.push(rec);
      storedWhere.push(stored);
    } else {
      throw new StateError(`the record of ${base.name} has marker ${where}`);
    }
  }
  objectAt[objects.length] = r.pos;
  const sections: SectionRecord[] = [];
  for (let n = r.count(40); n > 0; n--) {
    sections.push({ name: r.str(), flags: r.u32(), addr: r.num(), offset: r.num(), size: r.num(), used: r.num(), fileSize: r.num() });
  }
  const free: FreeRange[] = [];
  for (let n = r.count(20); n > 0; n--) free.push({ sec: r.u32(), addr: r.num(), size: r.num() });
  const islands: IslandRecord[] = [];
  for (let n = r.count(16); n > 0; n--) islands.push({ addr: r.num(), object: r.u32(), atom: r.u32() });
  const globals = GlobalTable.read(r, store, (g) => checkGlobal(built!, g));
  const got = new Map<string, number>();
  for (let n = r.count(12); n > 0; n--) got.set(r.str(), r.num());
  const contested = r.str();
  const tls = r.u8() === 1 ? { addr: r.num(), fileSize: r.num(), memSize: r.num(), align: r.num() } : null;
  let pe: PeStateRecord | null = null;
  if (r.u8() === 1) {
    pe = { imageBase: r.num(), dllName: r.str(), exports: [] };
    for (let n = r.count(3); n > 0; n--) {
      const name = r.str();
      const ordinal = r.num();
      const flags = r.u8();
      pe.exports.push({ name, ordinal, noName: (flags & 1) !== 0, data: (flags & 2) !== 0, private: (flags & 4) !== 0 });
    }
  }
  if (!r.done) throw new StateError('the incremental state has trailing bytes');
  if (!sameBytes(sum, checksum(bytes, payloadAt, bulks))) throw new StateError('the incremental state is corrupt (checksum mismatch)');
  const state: LinkState = {
    optionsKey, arch, imageSize, imageHash: imageHashV, imageIdentity, shadow, chunkDigests, buildIdOffset, buildIdSize, symtabOffset, shdrOffset,
    inputs, objects, sections, free, islands, globals, got, tls, contested, pe,
  };
  built = state;
  checkStateInvariants(state);
  sizeRead.set(state, bytes.length);
  decodedRows.set(state, {
    inputs: { records: inputs.slice(), at: inputAt, bytes: payload },
    objects: { records: storedObjects, at: objectAt, bytes: payload, holds: (i) => storedAt.get(storedObjects[i]!) === storedWhere[i] },
    store,
  });
  return state;
}

/**
 * Objects' records whose bulk has not been decoded: its bytes when they were
 * in the state (null: they are in the records file, where storedAt says),
 * and its checksum; written back as it is.
 */
interface Undecoded {
  bulk: Uint8Array | null;
  sum: Uint8Array;
  /** The checks of the record's values, run once it is decoded. */
  check: (o: ObjectRecord) => void;
}

/** The bulk of a record kept in the records file, read from where storedAt says it is. */
function readStored(o: ObjectRecord): Uint8Array {
  const at = storedAt.get(o)!;
  const bytes = at.store.read(at.at, at.length);
  return bytes.length === at.length ? bytes : new Uint8Array(0);
}
const undecoded = new WeakMap<ObjectRecord, Undecoded>();
type ObjectBulk = Omit<ObjectRecord, 'input' | 'member' | 'name' | 'hash'>;
const BULK_FIELDS = ['shape', 'refOrder', 'localFirst', 'localCount', 'localHash', 'localPlaces', 'gc', 'atoms'] as const;

/**
 * An object's record with its bulk (symbol shape, atom records) decoded on
 * first use, and checked then (`check`). A patch uses the records of the
 * objects that changed; a fresh process decoding every record of a large
 * program would spend most of its time there. A record left undecoded is
 * written back byte for byte.
 */
function lazyObject(base: Pick<ObjectRecord, 'input' | 'member' | 'name' | 'hash'>, where: Undecoded): ObjectRecord {
  // The bulk's fields are accessors on a prototype that all lazy records share (a large program has
  // thousands: defining them on each record costs more than decoding the state); decoding makes them own fields.
  const rec = Object.create(LAZY_RECORD) as ObjectRecord;
  rec.input = base.input;
  rec.member = base.member;
  rec.name = base.name;
  rec.hash = base.hash;
  undecoded.set(rec, where);
  return rec;
}

/**
 * A copy of an object's record under another name (its input was renamed). The name is not part of the
 * bulk: a record not decoded yet stays so, and the bulk stays where it was stored.
 */
export function renamedObject(rec: ObjectRecord, name: string): ObjectRecord {
  const where = undecoded.get(rec);
  const copy = where ? lazyObject({ input: rec.input, member: rec.member, name, hash: rec.hash }, where) : { ...rec, name };
  const stored = storedAt.get(rec);
  if (stored) storedAt.set(copy, stored);
  return copy;
}

/** Decodes a lazy record's bulk in place (its fields become plain values), checked first. */
function loadObject(rec: ObjectRecord): void {
  const where = undecoded.get(rec);
  if (!where) return;
  const bulk = where.bulk ?? readStored(rec);
  if (!sameBytes(where.sum, hashBytes(bulk))) throw new StateError(`the record of ${rec.name} is corrupt (checksum mismatch)`);
  undecoded.delete(rec);
  const fields = decodeObjectBulk(bulk);
  for (const k of BULK_FIELDS) Object.defineProperty(rec, k, { value: fields[k], writable: true, enumerable: true, configurable: true });
  where.check(rec);
}

const LAZY_FIELDS: PropertyDescriptorMap = Object.fromEntries(BULK_FIELDS.map((k) => [k, {
  get(this: ObjectRecord): unknown {
    loadObject(this);
    return this[k];
  },
  set(this: ObjectRecord, v: unknown): void {
    loadObject(this);
    (this as unknown as Record<string, unknown>)[k] = v;
  },
  enumerable: true,
  configurable: true,
}]));
const LAZY_RECORD: object = Object.create(Object.prototype, LAZY_FIELDS);

/** Whether an object's record has been decoded whole (a lazy one is checked when it is). */
function isDecoded(o: ObjectRecord): boolean {
  return !undecoded.has(o);
}

function decodeObjectBulk(bytes: Uint8Array): ObjectBulk {
  const r = new StateReader(bytes);
  const shape: string[] = [];
  for (let k = r.count(4); k > 0; k--) shape.push(r.str());
  const refOrder = r.raw(32);
  const localFirst = r.num();
  const localCount = r.u32();
  const localHash = r.raw(32);
  const localPlaces = r.raw(32);
  const gc = r.bytes();
  const atoms: AtomRecord[] = [];
  for (let k = r.count(80); k > 0; k--) {
    const rec: AtomRecord = {
      key: r.str(), id: r.raw(32), sec: r.num(), addr: r.num(), slot: r.num(), size: r.num(), align: r.u32(), canonical: r.num(),
    };
    const m = r.u32();
    if (m !== 0xffffffff) {
      rec.mergeSec = r.u32();
      rec.mergeIn = new Uint32Array(r.raw(m * 4).slice().buffer);
      rec.mergeOut = new Float64Array(r.raw(m * 8).slice().buffer);
    }
    atoms.push(rec);
  }
  if (!r.done) throw new StateError('an object\'s record in the incremental state has trailing bytes');
  return { shape, refOrder, localFirst, localCount, localHash, localPlaces, gc, atoms };
}

/**
 * The checksum finds accidental damage; this finds a state whose values
 * cannot describe an image (one altered and re-signed, or written by a bug):
 * every index in range, every address, offset and size a non-negative
 * integer inside the image or its section. So a state that decodes can
 * never make a patch read or write outside the image, or allocate more than
 * its sections hold. (It cannot prove the values are the ones the last link
 * wrote; the checksum is not a signature.)
 */
export function checkStateInvariants(s: LinkState): void {
  const { bad, int, inSection, symtabEntries } = invariantChecks(s);
  try {
    const key: unknown = JSON.parse(s.optionsKey);
    if (!key || typeof key !== 'object' || Array.isArray(key)) bad('the link options are not a JSON object');
  } catch (e) {
    if (e instanceof StateError) throw e;
    bad('the link options are not JSON');
  }
  if (s.arch !== 'x86_64' && s.arch !== 'aarch64') bad(`unknown architecture '${s.arch}'`);
  const size = int(s.imageSize, 'the image size');
  if (s.chunkDigests.length !== Math.ceil(size / BUILD_ID_CHUNK)) bad(`${s.chunkDigests.length} chunk digests for ${size} bytes`);
  if (s.buildIdOffset !== -1 && int(s.buildIdOffset, 'the build id offset') + s.buildIdSize > size) bad('the build id lies outside the image');
  int(s.symtabOffset, '.symtab\'s offset');
  int(s.shdrOffset, 'the section header table\'s offset');
  if (s.symtabOffset > s.shdrOffset || s.shdrOffset + (s.sections.length + 1) * 64 > size) bad('the section header table lies outside the image');

  s.sections.forEach((x, i) => {
    const w = `section ${i} (${x.name})`;
    int(x.addr, `${w}'s address`);
    int(x.offset, `${w}'s offset`);
    int(x.size, `${w}'s size`);
    if (int(x.used, `${w}'s used size`) > x.size) bad(`${w} uses more than its size`);
    if (int(x.fileSize, `${w}'s size in the file`) > x.size) bad(`${w} stores more than its size`);
    if (x.offset + x.fileSize > size) bad(`${w} lies outside the image`);
  });
  s.objects.forEach((o, i) => {
    if (o.input >= s.inputs.length) bad(`object ${i} (${o.name}) comes from input ${o.input}, of ${s.inputs.length}`);
    if (isDecoded(o)) checkObjectInvariants(s, o);
  });
  s.free.forEach((f, i) => inSection(f.sec, f.addr, f.size, `free range ${i}`));
  s.islands.forEach((x, i) => {
    const atom = s.objects[x.object]?.atoms[x.atom];
    if (!atom || atom.sec < 0) bad(`jump island ${i} belongs to no placed atom`);
    inSection(atom!.sec, x.addr, 0, `jump island ${i}`);
  });
  // A stored table's records are checked as they are looked up (GlobalTable.read).
  for (const g of s.globals.loaded()) checkGlobal(s, g);
  for (const [k, v] of s.got) int(v, `GOT slot ${k}`);
  if (s.tls) {
    int(s.tls.addr, 'the TLS template\'s address');
    int(s.tls.fileSize, 'the TLS template\'s file size');
    if (int(s.tls.memSize, 'the TLS template\'s size') < s.tls.fileSize) bad('the TLS template is smaller than its initialized part');
    if (int(s.tls.align, 'the TLS alignment', 1) & (s.tls.align - 1)) bad(`the TLS alignment ${s.tls.align} is not a power of two`);
  }
}

/** The checks of one global's record: a known kind, integers, a .symtab entry and an object that exist. */
function checkGlobal(s: LinkState, g: GlobalRecord): void {
  const { bad, int, symtabEntries } = invariantChecks(s);
  if (g.kind !== GlobalKind.Defined && g.kind !== GlobalKind.UndefWeak && g.kind !== GlobalKind.Synthetic && g.kind !== GlobalKind.Common && g.kind !== GlobalKind.Shared && g.kind !== GlobalKind.Preemptible && g.kind !== GlobalKind.Absolute) bad(`${g.name} has kind ${g.kind}`);
  int(g.value, `the value of ${g.name}`);
  int(g.size, `the size of ${g.name}`);
  if (int(g.symtab, `the .symtab index of ${g.name}`, -1) >= symtabEntries) bad(`the .symtab entry of ${g.name} lies outside .symtab`);
  if (int(g.object, `the object defining ${g.name}`, -1) >= s.objects.length) bad(`${g.name} is defined by object ${g.object}, of ${s.objects.length}`);
}

/** The checks of one object's record: its local symbols inside .symtab, its atoms inside their sections. */
function checkObjectInvariants(s: LinkState, o: ObjectRecord): void {
  const { bad, int, inSection, symtabEntries } = invariantChecks(s);
  if (int(o.localFirst, `the first local symbol of ${o.name}`, -1) + o.localCount > symtabEntries) bad(`the local symbols of ${o.name} lie outside .symtab`);
  o.atoms.forEach((a) => {
    const w = `atom ${a.key} of ${o.name}`;
    int(a.size, `${w}'s size`);
    if (a.sec !== -1) {
      if (a.size > a.slot) bad(`${w} (${a.size} bytes) is larger than its slot (${a.slot} bytes)`);
      inSection(a.sec, a.addr, a.slot, w);
      inSection(a.sec, a.canonical, 0, `${w}'s entry`);
    }
    if (a.mergeIn && a.mergeOut) {
      if (a.mergeSec === undefined || a.mergeSec >= s.sections.length) bad(`${w} is merged into section ${a.mergeSec}`);
      const x = s.sections[a.mergeSec!];
      for (let p = 0; p < a.mergeIn.length; p++) {
        if (a.mergeIn[p] > a.size || (p > 0 && a.mergeIn[p] < a.mergeIn[p - 1])) bad(`${w}'s merged pieces are out of order`);
        const out = a.mergeOut[p];
        if (!Number.isInteger(out) || out < x.addr || out > x.addr + x.size) bad(`a merged piece of ${w} lies outside ${x.name}`);
      }
    }
  });
}

function invariantChecks(s: LinkState) {
  const bad = (what: string): never => {
    throw new StateError(`the incremental state is inconsistent: ${what}`);
  };
  // Integers, not only safe ones: a hostile input can place a symbol past 2^53, and the full link that
  // accepted it must be able to read its own state back.
  const int = (v: number, what: string, min = 0): number => {
    if (!Number.isInteger(v) || v < min) bad(`${what} is ${v}`);
    return v;
  };
  /** Checks that [addr, addr + len) lies in section `sec` (addresses of non-allocated sections are offsets in them). */
  const inSection = (sec: number, addr: number, len: number, what: string) => {
    if (!Number.isInteger(sec) || sec < 0 || sec >= s.sections.length) bad(`${what} is in section ${sec}, of ${s.sections.length}`);
    const x = s.sections[sec];
    const base = x.flags & SecFlag.Alloc ? x.addr : 0;
    if (int(addr, `${what}'s address`) < base || addr + int(len, `${what}'s size`) > base + x.size) bad(`${what} lies outside ${x.name}`);
  };

  const symtabEntries = (s.shdrOffset - s.symtabOffset) / 24;
  return { bad, int, inSection, symtabEntries };
}


