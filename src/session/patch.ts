import { atomContentId } from '../obj/contentId.js';
import { readArchive } from '../obj/archive.js';
import { AtomKind, SecFlag, SymPlace, SymType, type Archive, type ObjectFile } from '../obj/model.js';
import { hex } from '../obj/LinkError.js';
import type { Arch } from '../link/arch/Arch.js';
import { alignTo } from '../link/align.js';
import { isMergeable, pieceIndex, pieceKey, splitPieces } from '../link/mergeSections.js';
import { fillPattern } from '../link/padding.js';
import { ehFrameHdrBytes, fdeStarts } from '../link/ehFrameHdr.js';
import { BUILD_ID_CHUNK, chunkDigest, digestTop, setChunkDigest } from '../link/buildId.js';
import type { PlacementPolicy } from '../link/layout.js';
import { gotContents, writeAtom, type RelocContext, type WorkCounters } from '../link/relocate.js';
import { GotSlotKind } from '../link/scan.js';
import { TargetState, isIfunc, type Target } from '../link/symbols.js';
import { shouldEmitLocal } from '../formats/elf/writeElf.js';
import { isFixedSection, isMovableDebugSection } from './placementPolicy.js';
import { checkDynamicUse, isPreemptibleRecord, readImageTables, type ImageTables } from './dynamicGate.js';
import { lowerBound, partitionPoint } from '../link/search.js';
import {
  atomKeys, gotKey, hashBytes, imageHashFromTop, localPlaceHash, localSymbolHash, referenceOrder, renamedObject, sameBytes, sameIdentity, symbolShape,
  GlobalKind, type AtomRecord, type FileIdentityRecord, type FreeRange, type GlobalLookup, type GlobalRecord, type LinkState, type ObjectRecord,
} from './state.js';
import { gcLivenessChange } from './gcGate.js';
import { isPeTable, peOutputName } from '../link/pe/sections.js';
import { sectionAt } from '../link/pe/layout.js';
import { COFF_ADDR64 } from '../link/pe/linkPe.js';
import {
  decodeBaseRelocs, encodeExceptionTable, readRuntimeFunctions, runtimeFunctionSize, sectionHeaderOffset, type RuntimeFunction,
} from '../formats/pe/writePe.js';

/**
 * The incremental patch (DESIGN.md sections 3-5). Given the prior state and
 * image and the current inputs, it either computes the writes that turn the
 * prior image into the image a full link would give (up to placement), or
 * throws a Fallback whose reason says, in words, why it cannot.
 *
 * The gate, in the order it is checked:
 *  - the same input files, in the same order;
 *  - for each changed object, the same global symbol shape (names, binding,
 *    visibility, type, defined/common/undefined, COMDAT groups): then symbol
 *    resolution and archive pull-in are provably unchanged, and no resolution
 *    needs to run;
 *  - the same sections in each changed object, and the same local symbols;
 *  - an unchanged archive symbol index;
 *  - per changed atom: order-sensitive and gap-free sections (init/fini arrays,
 *    .init, .fini, .ctors) unchanged; TLS, .eh_frame, notes and debug
 *    sections at the same size; data within its slot; code within its slot,
 *    or moved behind a jump island when it has a single entry point;
 *  - every global symbol keeps the address the program uses;
 *  - every GOT reference has its slot already.
 *
 * Everything is computed before anything is written: the result is a list
 * of writes, applied all at once by the caller, and a commit that turns the
 * prior state into the new one in place. Work is proportional to the changed
 * objects: the prior state is not copied, and the lookups a patch needs over
 * the whole program (globals by name, objects by input, GOT slots by object,
 * the dynamic tables) are built once per state and kept (StateIndex).
 */

export class Fallback extends Error {
  constructor(readonly reason: string) {
    super(reason);
  }
}

export interface PatchInput {
  name: string;
  kind: 'object' | 'archive' | 'shared';
  /** hashBytes of its bytes (of an object, an archive that is not thin, a shared library). */
  hash: Uint8Array;
  /** The input's bytes: asked for only when its hash differs from the state's. */
  bytes: () => Uint8Array;
  /** The file identity the new state records for it (null: none). */
  identity: FileIdentityRecord | null;
  readThinMember?: (path: string) => Uint8Array;
}

/**
 * The prior image as a patch reads it: only where it looks (the ranges it
 * rewrites, .symtab entries, merged pieces, the chunks it rehashes, the
 * dynamic tables), so that an image not read whole (LinkSession's lazily
 * read prior output) is read only there.
 */
export interface ImageView {
  readonly length: number;
  /** The `length` bytes at `offset`, to read (a view, or a copy): valid until the image is written. */
  bytes(offset: number, length: number): Uint8Array;
}

export interface Write {
  offset: number;
  bytes: Uint8Array;
}

export interface PatchPlan {
  writes: Write[];
  work: { atomsPlaced: number; atomsWritten: number; relocsApplied: number };
  /** Turns the prior state into the new one, in place; once the writes are in the image. */
  commit(): void;
}

/**
 * What a patch looks up over the whole program, built once per state and
 * kept while patches update that state in place (commit keeps it valid: a
 * patch adds and removes no global, object or GOT slot).
 */
interface StateIndex {
  globals: GlobalLookup;
  objectsByInput: Map<number, number[]>;
  /** Object -> the GOT slots holding its local symbols (key kind, symbol name). */
  localGot: Map<number, Array<{ addr: number; kind: GotSlotKind; name: string }>>;
  /** The image's dynamic tables once read (null: a static executable); undefined: not read yet. */
  dynamic?: ImageTables | null;
}

const indexes = new WeakMap<LinkState, StateIndex>();

/**
 * Builds the state's index now, so that the next link's patch does not (a
 * live session: its first relink after a full link stays as fast as the rest).
 */
export function prepareIndex(state: LinkState): void {
  indexOf(state);
}

function indexOf(state: LinkState): StateIndex {
  let index = indexes.get(state);
  if (index) return index;
  const globals = state.globals;
  const objectsByInput = new Map<number, number[]>();
  state.objects.forEach((o, i) => {
    const list = objectsByInput.get(o.input);
    if (list) list.push(i); else objectsByInput.set(o.input, [i]);
  });
  const localGot = new Map<number, Array<{ addr: number; kind: GotSlotKind; name: string }>>();
  for (const [key, addr] of state.got) {
    const m = /^(\d)l:(\d+):(.*)$/s.exec(key);
    if (!m) continue;
    const obj = Number(m[2]);
    const list = localGot.get(obj);
    const slot = { addr, kind: Number(m[1]) as GotSlotKind, name: m[3] };
    if (list) list.push(slot); else localGot.set(obj, [slot]);
  }
  index = { globals, objectsByInput, localGot };
  indexes.set(state, index);
  return index;
}

/**
 * The parts of the image readImageTables (dynamicGate.ts) reads, or may
 * read: the ELF header and the dynamic linker's sections. A patch whose
 * writes touch one of them has the tables read again by the next patch.
 */
const DYNAMIC_TABLES = /^(\.interp|\.dynamic|\.dynsym|\.dynstr|\.hash|\.gnu\.hash|\.gnu\.version(_[rd])?|\.rela?\..*|\.got(\.plt)?|\.plt(\..*)?)$/;

function dynamicTableRanges(state: LinkState): Array<[number, number]> {
  const ranges: Array<[number, number]> = [[0, 64]];
  for (const s of state.sections) {
    if (s.flags & SecFlag.Alloc && !(s.flags & SecFlag.NoBits) && DYNAMIC_TABLES.test(s.name)) ranges.push([s.offset, s.offset + s.used]);
  }
  return ranges;
}

interface Changed {
  obj: number;
  rec: ObjectRecord;
  file: ObjectFile;
  /** The new records of its atoms. */
  atoms: AtomRecord[];
  /** localPlaceHash of the new object. */
  places: Uint8Array;
  /** hashBytes of the object's bytes (the object record's hash). */
  hash: Uint8Array;
}

export type ObjectReader = (name: string, bytes: Uint8Array) => ObjectFile;

export function archiveIndexHash(ar: Archive): Uint8Array {
  if (!ar.index) return new Uint8Array(32);
  const lines: string[] = [];
  for (const [sym, members] of ar.index) lines.push(`${sym}\0${members.map((m) => ar.members[m].name).join('\0')}`);
  return hashBytes(new TextEncoder().encode(lines.join('\n')));
}

/**
 * `maybeChanged`: the positions of the inputs that may differ from the
 * state's records (in increasing order); the others are known to have the
 * same kind, name, bytes and identity (a live session's inputs not replaced
 * since its last link). Null: any may.
 */
export function planPatch(
  prior: LinkState, image: ImageView, inputs: PatchInput[], arch: Arch, policy: PlacementPolicy, readObject: ObjectReader,
  maybeChanged: readonly number[] | null = null,
): PatchPlan {
  const index = indexOf(prior);
  // The input files: the same ones, in the same order.
  if (inputs.length !== prior.inputs.length) {
    throw new Fallback(`the set of input files changed (${prior.inputs.length} before, ${inputs.length} now)`);
  }
  const positions = maybeChanged ?? inputs.map((_, i) => i);
  // Inputs match by position and content; a new path with the same bytes is the same input.
  for (const i of positions) {
    const input = inputs[i];
    const was = prior.inputs[i];
    const what = { object: 'an object', archive: 'an archive', shared: 'a shared library' };
    if (was.kind !== input.kind) throw new Fallback(`input ${i + 1} changed from ${what[was.kind]} (${was.name}) to ${input.name}`);
  }

  // Which objects changed: plain objects by their bytes, archive members by theirs.
  const changed: Changed[] = [];
  const changedArchives: Array<{ input: number; ar: Archive }> = [];
  for (const i of positions) {
    const input = inputs[i];
    if (sameBytes(input.hash, prior.inputs[i].hash)) continue;
    // What a library exports and needs decides imports, versions and copies: any change is a full link.
    if (input.kind === 'shared') throw new Fallback(`the shared library ${input.name} changed`);
    const objs = index.objectsByInput.get(i) ?? [];
    const bytes = input.bytes();
    if (input.kind === 'object') {
      for (const o of objs) changed.push(newChanged(prior, o, readObject(input.name, bytes), input.hash));
      continue;
    }
    const ar = readArchive(input.name, bytes, input.readThinMember);
    changedArchives.push({ input: i, ar });
    for (const o of objs) {
      const rec = prior.objects[o];
      const named = ar.members.filter((m) => m.name === rec.member);
      if (named.length === 0) throw new Fallback(`${input.name}(${rec.member}) is gone from the archive`);
      // The state names a member by its name; a short import library names all its members after the DLL.
      if (named.length > 1) throw new Fallback(`${input.name} changed, and it has ${named.length} members named ${rec.member}`);
      const member = named[0];
      const hash = hashBytes(member.bytes);
      if (sameBytes(hash, rec.hash)) continue;
      changed.push(newChanged(prior, o, readObject(`${input.name}(${rec.member})`, member.bytes), hash));
    }
  }

  // Symbol resolution is unchanged if every changed object has the same symbol shape, and, where
  // several objects define one symbol, its references come in the same order.
  for (const c of changed) {
    const why = describeShapeChange(c.file.name, c.rec.shape, symbolShape(c.file));
    if (why) throw new Fallback(why);
    if (prior.contested && !sameBytes(referenceOrder(c.file), c.rec.refOrder)) {
      throw new Fallback(`the order of ${c.file.name}'s references changed, which can change the order archive members load in and so which definition of ${prior.contested} wins`);
    }
  }
  if (prior.pe) {
    for (const c of changed) {
      checkAutoImports(c.file, index.globals);
      if (c.file.resources || c.file.atoms.some((a) => a.name.startsWith('.rsrc'))) {
        throw new Fallback(`the resources of ${c.file.name} changed: a patch does not rewrite the resource tree`);
      }
    }
  }
  for (const { input, ar } of changedArchives) {
    if (!sameBytes(archiveIndexHash(ar), prior.inputs[input].indexHash)) {
      throw new Fallback(`the symbol index of ${inputs[input].name} changed: a member that is not linked in now defines different symbols`);
    }
  }

  // The same sections and local symbols in each changed object.
  for (const c of changed) {
    const keys = atomKeys(c.file);
    const before = new Set(c.rec.atoms.map((a) => a.key));
    const added = keys.filter((k) => !before.has(k));
    const now = new Set(keys);
    const removed = c.rec.atoms.map((a) => a.key).filter((k) => !now.has(k));
    if (added.length || removed.length || keys.length !== c.rec.atoms.length) {
      const parts = [added.length ? `added ${added.join(', ')}` : '', removed.length ? `removed ${removed.join(', ')}` : ''].filter(Boolean);
      throw new Fallback(`the sections of ${c.file.name} changed (${parts.join('; ') || 'reordered'})`);
    }
    if (keys.some((k, i) => k !== c.rec.atoms[i].key)) throw new Fallback(`the sections of ${c.file.name} changed order`);
    // A PE image has no symbol table: no local symbol is emitted.
    const emitted = prior.pe ? () => false
      : (i: number) => shouldEmitLocal(c.file.symbols[i], (a) => c.rec.atoms[a].sec >= 0, (a) => c.rec.atoms[a].mergeIn !== undefined);
    if (!sameBytes(localSymbolHash(c.file, emitted), c.rec.localHash)) {
      throw new Fallback(`the local symbols of ${c.file.name} changed (a static function or variable was added, removed or renamed)`);
    }
  }

  // With --gc-sections, the patch must keep what a full link would (gcGate.ts).
  const gcWhy = gcLivenessChange(prior, changed);
  if (gcWhy) throw new Fallback(gcWhy);

  // The new state is drafted beside the prior one, sharing what a patch does not change (objects,
  // globals, inputs, GOT, chunk digests), and replaces it only in commit(): a patch that falls back
  // leaves the prior state as it was. The draft's islands are only the new ones.
  const state: LinkState = {
    ...prior,
    sections: prior.sections.map((x) => ({ ...x })),
    free: prior.free.map((f) => ({ ...f })),
    islands: [],
  };
  const writes: Write[] = [];
  const work = { atomsPlaced: 0, atomsWritten: 0, relocsApplied: 0 };

  // Where each changed atom goes: in place when it fits, code moved behind an island when not.
  const moves: Array<{ c: Changed; a: number }> = [];
  const debugMoves: Array<{ c: Changed; a: number }> = [];
  const remerges: Array<{ c: Changed; a: number }> = [];
  for (const c of changed) {
    c.file.atoms.forEach((atom, a) => {
      const was = c.rec.atoms[a];
      const id = atomContentId(c.file, atom);
      const now = c.atoms[a];
      now.id = id;
      now.size = atom.size;
      now.align = atom.align;
      // Not in the output (a discarded COMDAT copy, or removed by --gc-sections: gcGate.ts), and staying out.
      if (was.sec < 0 && was.mergeIn === undefined) return;
      if ((was.mergeIn !== undefined) !== isMergeable(atom)) {
        throw new Fallback(`${atom.name} of ${c.file.name} ${was.mergeIn ? 'is no longer' : 'is now'} a section of mergeable constants`);
      }
      const home = was.mergeIn ? was.mergeSec : was.sec;
      const KIND = SecFlag.Alloc | SecFlag.Write | SecFlag.Exec | SecFlag.TLS | SecFlag.NoBits;
      // A PE output section holds atoms of mixed flags (a merged .bss in .data): its name is what places an atom.
      if (prior.pe && home !== undefined && home >= 0 && peOutputName(atom.name) !== prior.sections[home].name) {
        throw new Fallback(`${atom.name} of ${c.file.name} now belongs in output section ${peOutputName(atom.name)}, not ${prior.sections[home].name}`);
      }
      if (!prior.pe && home !== undefined && home >= 0 && (atom.flags & KIND) !== (prior.sections[home].flags & KIND)) {
        throw new Fallback(`the flags of ${atom.name} of ${c.file.name} changed (writable, executable, TLS or zero-fill), so it belongs in another output section`);
      }
      if (was.mergeIn) {
        if (!sameBytes(id, was.id)) remerges.push({ c, a });
        return;
      }
      if (was.sec < 0 || sameBytes(id, was.id)) return;
      const sec = prior.sections[was.sec];
      const what = `${atom.name} of ${c.file.name}`;
      if (prior.pe) {
        if (atom.kind === AtomKind.Debug && atom.size !== was.size) {
          if (!isMovableDebugSection(sec.name)) {
            throw new Fallback(`${what} changed size (${was.size} to ${atom.size} bytes), and ${sec.name} is searched in order, so it cannot have gaps`);
          }
          debugMoves.push({ c, a });
          return;
        }
        if (isPeTable(atom.name) && atom.size !== was.size) {
          throw new Fallback(`${what} changed size (${was.size} to ${atom.size} bytes), and ${sec.name} holds it in a table that must stay gap-free`);
        }
        if ((atom.flags & SecFlag.NoBits) === 0 && was.addr + atom.size > sec.addr + sec.fileSize) {
          throw new Fallback(`${what} now has contents, but its place is in the zero-fill part of ${sec.name}`);
        }
      }
      if (!(sec.flags & SecFlag.Alloc)) {
        if (atom.size === was.size) return;
        if (!isMovableDebugSection(sec.name)) {
          throw new Fallback(`${what} changed size (${was.size} to ${atom.size} bytes), and ${sec.name} is searched in order, so it cannot have gaps`);
        }
        debugMoves.push({ c, a });
        return;
      }
      if (atom.flags & (SecFlag.InitArray | SecFlag.FiniArray | SecFlag.PreinitArray) || /^\.(init|fini|ctors|dtors)(\.|$)/.test(atom.name)) {
        throw new Fallback(`${what} changed, and the order of ${sec.name} matters`);
      }
      if (atom.flags & SecFlag.TLS && (atom.size !== was.size || atom.align !== was.align)) {
        throw new Fallback(`the TLS layout changed: ${what} changed ${atom.size !== was.size ? 'size' : 'alignment'}`);
      }
      if (atom.align > was.align && atom.align > arch.maxPageSize) throw new Fallback(`${what} now needs alignment ${atom.align}, more than a page`);
      if (isFixedSection(sec.name, atom.flags) && atom.size !== was.size) throw new Fallback(`${what} changed size and ${sec.name} must stay gap-free`);
      if (atom.size <= was.slot && was.addr % atom.align === 0) return;
      if (atom.kind !== AtomKind.Code) {
        throw new Fallback(atom.size <= was.slot
          ? `data ${what} now needs alignment ${atom.align}, which its address ${hex(was.addr)} does not have`
          : `data ${what} grew from ${was.size} to ${atom.size} bytes, past its slot of ${was.slot} bytes`);
      }
      moves.push({ c, a });
    });
  }

  for (const { c, a } of moves) moveAtom(state, c, a, arch, policy, writes, image);
  for (const { c, a } of debugMoves) moveDebugAtom(state, c, a, writes, image);
  const appended = new Map<string, number>();
  for (const { c, a } of remerges) remergeAtom(state, c, a, writes, image, appended);
  // Non-allocated sections that grew into their headroom: their headers say how much they use.
  state.sections.forEach((sec, i) => {
    // A PE image's DWARF sections: the section header's VirtualSize says how much is used.
    if (prior.pe && sec.name.startsWith('.debug_') && sec.used !== prior.sections[i].used) {
      const size = new Uint8Array(4);
      new DataView(size.buffer).setUint32(0, sec.used, true);
      diffInto(writes, image, sectionHeaderOffset(i) + 8, size);
      return;
    }
    if (sec.flags & SecFlag.Alloc || sec.used === prior.sections[i].used) return;
    const size = new Uint8Array(8);
    new DataView(size.buffer).setBigUint64(0, BigInt(sec.used), true);
    diffInto(writes, image, state.shdrOffset + (i + 1) * 64 + 0x20, size);
  });

  // Every global the changed objects define keeps the address the program uses.
  const globals = index.globals;
  /** New sizes of globals, set on the records by commit(). */
  const sizes = new Map<GlobalRecord, number>();
  for (const c of changed) {
    for (let i = c.file.firstGlobal; i < c.file.symbols.length; i++) {
      const s = c.file.symbols[i];
      const g = globals.get(s.name);
      if (s.atom < 0 || !g || (g.kind !== GlobalKind.Defined && g.kind !== GlobalKind.Preemptible) || g.object !== c.obj) continue;
      const rec = c.atoms[s.atom];
      if (rec.sec < 0) continue;
      if (isIfunc(s)) throw new Fallback(`${s.name} in ${c.file.name} is an IFUNC, whose PLT entry and IRELATIVE record a patch does not rewrite`);
      if (rec.canonical + s.value !== g.value) {
        throw new Fallback(`${s.name} would move from ${hex(g.value)} to ${hex(rec.canonical + s.value)} within ${c.rec.atoms[s.atom].key} of ${c.file.name}`);
      }
      if (s.size !== g.size) sizes.set(g, s.size);
    }
  }

  // Relocate every atom of each changed object and write what differs.
  const counters: WorkCounters = { atomsWritten: 0, relocsApplied: 0 };
  if (prior.pe) checkBaseRelocs(state, changed, image, globals, arch);
  if (changed.length && index.dynamic === undefined && !prior.pe) {
    index.dynamic = readImageTables(prior, (offset, length) => image.bytes(offset, length), arch);
  }
  const dynamic = index.dynamic ?? null;
  const contexts: RelocContext[] = [];
  changed.forEach((c, k) => {
    const ctx = patchContext(state, changed, k, globals, arch, dynamic, sizes);
    contexts.push(ctx);
    // With its local symbols where they were, an atom whose content, place and targets are all the same
    // would be relocated into the bytes the image has, and needs the dynamic relocations it has: it is left as it is.
    const samePlaces = sameBytes(c.places, c.rec.localPlaces);
    const unchanged = samePlaces ? unchangedAtoms(c, globals, sizes) : c.file.atoms.map(() => false);
    // A dynamic executable: the object must need exactly the PLT entries, copies and dynamic relocations it has.
    if (dynamic) {
      const slots = localGotSlots(index, c).filter((g) => g.kind === GotSlotKind.Address);
      checkDynamicUse(arch, dynamic, globals, c.file, c.atoms, k, ctx, (sec) => state.sections[sec].flags, slots, (a) => unchanged[a]);
    }
    c.file.atoms.forEach((atom, a) => {
      const rec = c.atoms[a];
      if (rec.sec < 0 || unchanged[a]) return;
      work.atomsPlaced++;
      const sec = state.sections[rec.sec];
      if (sec.flags & SecFlag.NoBits || atom.flags & SecFlag.NoBits) return;
      // The exception table is sorted as a whole (patchExceptionTable), not written atom by atom.
      if (prior.pe && sec.name === '.pdata') return;
      const region = new Uint8Array(rec.slot);
      if (atom.kind === AtomKind.Code) fillTrap(region, arch);
      writeAtom(ctx, region, 0, rec.addr, k, atom, counters);
      diffInto(writes, image, sec.offset + (rec.addr - sec.addr), region);
    });
    // GOT slots that hold addresses of this object's local symbols.
    for (const { addr, sym, kind } of localGotSlots(index, c)) {
      const name = c.file.symbols[sym].name;
      const value = gotContents(ctx, [{ file: k, sym, kind, where: `${c.file.name}:(GOT entry for ${name})` }]);
      diffInto(writes, image, fileOffsetOf(state, addr), value);
    }
    if (!prior.pe) patchSymbols(state, c, k, ctx, image, writes, globals);
  });
  if (prior.pe) patchExceptionTable(state, changed, contexts, image, writes);
  work.atomsWritten = counters.atomsWritten;
  work.relocsApplied = counters.relocsApplied;

  const merged = coalesce(writes);
  refreshEhFrameHdr(state, image, merged, changed);
  const identity = finishImageIdentity(state, image, merged);
  const places = changed.map((c) => c.places);

  // The new state, in place: sections, free list, islands, the changed objects' records, the
  // inputs' hashes, names and identities (objects renamed with their input), the image's identity.
  const commit = () => {
    prior.sections = state.sections;
    prior.free = state.free;
    prior.islands.push(...state.islands);
    for (const [g, size] of sizes) prior.globals.setSize(g, size);
    changed.forEach((c, k) => {
      const r = c.rec; // named field by field: a record not decoded yet keeps its fields on its prototype (state.ts)
      prior.objects[c.obj] = {
        input: r.input, member: r.member, name: r.name, hash: c.hash, shape: r.shape, refOrder: r.refOrder,
        localFirst: r.localFirst, localCount: r.localCount, localHash: r.localHash, localPlaces: places[k], gc: r.gc, atoms: c.atoms,
      };
    });
    for (const i of positions) {
      const rec = prior.inputs[i];
      const input = inputs[i];
      const fileId = input.identity ?? null;
      if (sameBytes(rec.hash, input.hash) && rec.name === input.name && (rec.identity === fileId || sameIdentity(rec.identity, fileId))) continue;
      // A new record, not the old one changed: an encoding copies the rows of the records a state was decoded into.
      prior.inputs[i] = { ...rec, hash: input.hash, identity: fileId, name: input.name };
      if (rec.name === input.name) continue;
      for (const o of index.objectsByInput.get(i) ?? []) {
        const obj = prior.objects[o];
        const name = obj.member ? `${input.name}(${obj.member})` : input.name;
        if (name !== obj.name) prior.objects[o] = renamedObject(obj, name);
      }
    }
    for (const [c, d] of identity.digests) setChunkDigest(prior.chunkDigests, c, d);
    prior.imageHash = identity.imageHash;
    // A patch does not rewrite the dynamic tables; if one ever did, they are read again.
    const tables = dynamicTableRanges(prior);
    if (merged.some((w) => tables.some(([from, to]) => w.offset < to && w.offset + w.bytes.length > from))) index.dynamic = undefined;
  };
  return { writes: merged, work, commit };
}

/** The GOT slots holding this object's local symbols (their addresses or TP offsets). */
function localGotSlots(index: StateIndex, c: Changed): Array<{ addr: number; sym: number; kind: GotSlotKind }> {
  const out: Array<{ addr: number; sym: number; kind: GotSlotKind }> = [];
  for (const { addr, kind, name } of index.localGot.get(c.obj) ?? []) {
    const sym = c.file.symbols.findIndex((s, i) => i > 0 && i < c.file.firstGlobal && s.name === name);
    if (sym < 0) throw new Fallback(`${c.file.name} no longer has local symbol ${name}, which a GOT entry holds`);
    out.push({ addr, sym, kind });
  }
  return out;
}

function newChanged(prior: LinkState, obj: number, file: ObjectFile, hash: Uint8Array): Changed {
  const rec = prior.objects[obj];
  return { obj, rec, file, atoms: rec.atoms.map((a) => ({ ...a })), places: localPlaceHash(file), hash };
}

/**
 * MinGW's auto-import bound NAME (and `.refptr.NAME`) to a DLL's
 * `__imp_NAME` entry, and listed a runtime pseudo relocation for each place
 * that refers to NAME: a patch does not rewrite that list, so a changed
 * object that refers to such a name falls back.
 */
function checkAutoImports(file: ObjectFile, globals: GlobalLookup): void {
  for (let i = file.firstGlobal; i < file.symbols.length; i++) {
    const name = file.symbols[i].name;
    if (name.startsWith('__imp_')) continue;
    const imp = globals.get(`__imp_${name.startsWith('.refptr.') ? name.slice(8) : name}`);
    const g = globals.get(name);
    if (imp && g && g.object >= 0 && g.object === imp.object && g.value === imp.value) {
      throw new Fallback(`${file.name} refers to ${name}, which is imported from a DLL automatically (auto-import): a patch does not rewrite the runtime pseudo relocations`);
    }
  }
}

/**
 * Which atoms of a changed object, relocated again, would give the bytes the
 * image has at their places (the caller knows the object's local symbols are
 * where they were): those placed with the same content id (bytes,
 * relocations by target name, kind, flags), place and slot, and every
 * relocation's target where it was: a global whose size is the same (its
 * address is, the gate made sure), or a local one in an atom of the object
 * that did not move and was not re-merged. With no atom moved and no global
 * resized, as after most edits, the relocations are not looked at.
 */
function unchangedAtoms(c: Changed, globals: GlobalLookup, sizes: ReadonlyMap<GlobalRecord, number>): boolean[] {
  const file = c.file;
  const moved = c.atoms.map((now, i) => {
    const was = c.rec.atoms[i];
    return now.sec !== was.sec || now.addr !== was.addr || now.canonical !== was.canonical || now.mergeOut !== was.mergeOut || now.mergeIn !== was.mergeIn;
  });
  const lookTargets = sizes.size > 0 || moved.includes(true);
  return file.atoms.map((atom, a) => {
    const was = c.rec.atoms[a];
    const now = c.atoms[a];
    if (now.sec < 0 || !sameBytes(now.id, was.id) || now.addr !== was.addr || now.slot !== was.slot || now.canonical !== was.canonical) return false;
    if (!lookTargets) return true;
    const relocs = atom.relocs;
    for (let i = 0; i < relocs.length; i++) {
      const sym = relocs.sym(i);
      const s = file.symbols[sym];
      if (sym >= file.firstGlobal) {
        const g = sizes.size > 0 ? globals.get(s.name) : undefined;
        if (g && sizes.has(g)) return false;
      } else if (s.atom >= 0 && (s.atom >= moved.length || moved[s.atom])) {
        return false;
      }
    }
    return true;
  });
}

/** Why two symbol shapes differ, in words; null when they do not. */
function describeShapeChange(obj: string, before: string[], after: string[]): string | null {
  if (before.length === after.length && before.every((e, i) => e === after[i])) return null;
  // Entries are `NAME PLACE bB vV tT`, `comdat SIGNATURE` or `directive WORD`.
  const directives = (list: string[]) => list.filter((e) => e.startsWith('directive ')).join(' ');
  if (directives(before) !== directives(after)) return `the linker directives of ${obj} changed (.drectve: exports, libraries, aliases)`;
  const keyOf = (e: string) => (e.startsWith('comdat ') ? e : e.split(' ').slice(0, -4).join(' '));
  const parse = (list: string[]) => new Map(list.map((e) => [keyOf(e), e]));
  const b = parse(before);
  const a = parse(after);
  const field = (x: string, k: number) => x.split(' ').slice(-4)[k]; // 0 place, 1 binding, 2 visibility, 3 type
  const place = (x: string) => field(x, 0);
  for (const [name] of a) {
    if (name.startsWith('comdat ') && !b.has(name)) return `${obj} has a new COMDAT group ${name.slice(7)}, which may change which object owns it`;
  }
  for (const [name] of b) {
    if (name.startsWith('comdat ') && !a.has(name)) return `${obj} no longer has COMDAT group ${name.slice(7)}, which may change which object owns it`;
  }
  for (const [name, e] of a) {
    const was = b.get(name);
    if (name.startsWith('comdat ')) continue;
    if (!was) {
      return place(e) === 'U'
        ? `${obj} now refers to ${name}, a new undefined symbol (it may pull in an archive member or change resolution)`
        : `${obj} defines a new global symbol ${name}`;
    }
    if (was === e) continue;
    const bind = (x: string) => (field(x, 1) === 'b2' ? 'weak' : 'strong');
    if (field(was, 1) !== field(e, 1)) return `${name} in ${obj} changed from ${bind(was)} to ${bind(e)}`;
    if (field(was, 2) !== field(e, 2)) return `the visibility of ${name} in ${obj} changed`;
    if (place(was) !== place(e)) {
      const word = (p: string) => (p === 'U' ? 'undefined' : p === 'D' ? 'defined' : p.startsWith('C') ? `common (${p.slice(1)})` : 'absolute');
      return `${name} in ${obj} changed from ${word(place(was))} to ${word(place(e))}`;
    }
    return `the type of ${name} in ${obj} changed`;
  }
  for (const [name] of b) {
    if (a.has(name) || name.startsWith('comdat ')) continue;
    return `${obj} no longer has global symbol ${name}`;
  }
  return `the global symbols of ${obj} were reordered`;
}

/** Gives a code atom that outgrew its slot a new place, and leaves a jump island at the address callers use. */
function moveAtom(state: LinkState, c: Changed, a: number, arch: Arch, policy: PlacementPolicy, writes: Write[], image: ImageView): void {
  const atom = c.file.atoms[a];
  const rec = c.atoms[a];
  const what = `${atom.name} of ${c.file.name}`;
  let entries = 0;
  for (let i = 1; i < c.file.symbols.length; i++) {
    const s = c.file.symbols[i];
    if (s.atom !== a || s.type === SymType.Section) continue;
    if (i >= c.file.firstGlobal) {
      if (s.value !== 0) throw new Fallback(`cannot move ${what}: global symbol ${s.name} is not at its start`);
      entries++;
    }
  }
  if (entries > 1) throw new Fallback(`cannot move ${what}: it has ${entries} global entry points`);
  if (rec.slot < arch.islandSize && rec.canonical === rec.addr) throw new Fallback(`cannot move ${what}: its slot is too small for a jump island`);

  const need = atom.size + policy.slackAfter(atom);
  const newAddr = allocate(state, rec.sec, need, atom.align);
  if (newAddr === undefined) {
    throw new Fallback(`no room left in ${state.sections[rec.sec].name} for ${what} (${atom.size} bytes)`);
  }
  const sec = state.sections[rec.sec];
  const trap = (addr: number, size: number) => {
    if (size <= 0) return;
    const region = new Uint8Array(size);
    fillTrap(region, arch);
    diffInto(writes, image, sec.offset + (addr - sec.addr), region);
  };
  if (rec.canonical === rec.addr) {
    // First move: the old slot's start becomes the island; the rest is free.
    const rest = rec.slot - arch.islandSize;
    trap(rec.addr + arch.islandSize, rest);
    if (rest > 0) state.free.push({ sec: rec.sec, addr: rec.addr + arch.islandSize, size: rest });
    state.islands.push({ addr: rec.canonical, object: c.obj, atom: a });
  } else {
    // Moved before: the island stays; the previous body's slot is free.
    trap(rec.addr, rec.slot);
    state.free.push({ sec: rec.sec, addr: rec.addr, size: rec.slot });
  }
  const island = new Uint8Array(arch.islandSize);
  arch.writeIsland(island, 0, rec.canonical, newAddr);
  diffInto(writes, image, sec.offset + (rec.canonical - sec.addr), island);
  rec.addr = newAddr;
  rec.slot = need;
}

/**
 * A debug atom that changed size moves to its section's headroom; the
 * compile unit's offsets to it are relocations, re-applied with the unit.
 * The old copy stays, unreferenced, except in .debug_info, which consumers
 * walk unit by unit: there the old place becomes an empty unit.
 */
function moveDebugAtom(state: LinkState, c: Changed, a: number, writes: Write[], image: ImageView): void {
  const atom = c.file.atoms[a];
  const rec = c.atoms[a];
  const sec = state.sections[rec.sec];
  const addr = allocate(state, rec.sec, atom.size, atom.align);
  if (addr === undefined) throw new Fallback(`no room left in ${sec.name} for ${atom.name} of ${c.file.name} (${atom.size} bytes)`);
  const oldSize = c.rec.atoms[a].size;
  // Non-allocated sections' atoms are placed at offsets in the section; a PE image's at addresses.
  const at = sec.offset + rec.addr - (sec.flags & SecFlag.Alloc ? sec.addr : 0);
  if (sec.name === '.debug_info') diffInto(writes, image, at, paddingUnit(image, at, oldSize));
  rec.addr = addr;
  rec.slot = atom.size;
}

/**
 * An empty DWARF unit covering `size` bytes: the old unit's header, its
 * length stretched over the region, and nothing but null entries after it.
 */
function paddingUnit(image: ImageView, at: number, size: number): Uint8Array {
  const old = image.bytes(at, size);
  const dv = new DataView(old.buffer, old.byteOffset, old.byteLength);
  const version = size >= 6 ? dv.getUint16(4, true) : 0;
  const header = version >= 5 ? 12 : 11;
  if (size < header + 1 || dv.getUint32(0, true) >= 0xfffffff0 || version < 2 || version > 5) {
    throw new Fallback('a compile unit in .debug_info cannot be replaced by padding (unexpected unit header)');
  }
  const out = new Uint8Array(size);
  out.set(old.subarray(0, header));
  new DataView(out.buffer).setUint32(0, size - 4, true);
  return out;
}

/**
 * A changed string or constant section of a merge: pieces the image already
 * holds are reused, new ones are appended in the section's room. (A full
 * link would also deduplicate the new pieces against other objects'; the
 * program cannot tell.)
 */
function remergeAtom(state: LinkState, c: Changed, a: number, writes: Write[], image: ImageView, appended: Map<string, number>): void {
  const atom = c.file.atoms[a];
  const was = c.rec.atoms[a];
  const rec = c.atoms[a];
  const secIndex = was.mergeSec!;
  const sec = state.sections[secIndex];
  const fileOff = (addr: number) => sec.offset + (addr - sec.addr);
  const known = new Map<string, number>();
  const oldIn = was.mergeIn!;
  const oldOut = was.mergeOut!;
  for (let k = 0; k < oldIn.length; k++) {
    const len = (k + 1 < oldIn.length ? oldIn[k + 1] : was.size) - oldIn[k];
    known.set(pieceKey(image.bytes(fileOff(oldOut[k]), len)), oldOut[k]);
  }
  const pieces = splitPieces(atom, c.file.name);
  const ins = new Uint32Array(pieces.length);
  const outs = new Float64Array(pieces.length);
  pieces.forEach(([start, end], k) => {
    const piece = atom.data!.subarray(start, end);
    const key = pieceKey(piece);
    let out = known.get(key) ?? appended.get(`${secIndex}\0${key}`);
    if (out === undefined) {
      out = allocate(state, secIndex, piece.length, Math.max(1, atom.align));
      if (out === undefined) throw new Fallback(`no room left in ${sec.name} for the new constants of ${atom.name} of ${c.file.name}`);
      appended.set(`${secIndex}\0${key}`, out);
      diffInto(writes, image, fileOff(out), piece);
    }
    ins[k] = start;
    outs[k] = out;
  });
  rec.mergeIn = ins;
  rec.mergeOut = outs;
}

/** First fit in the section's free list, then its headroom. */
function allocate(state: LinkState, secIndex: number, size: number, align: number): number | undefined {
  const free = state.free;
  for (let i = 0; i < free.length; i++) {
    const f = free[i];
    if (f.sec !== secIndex) continue;
    const start = alignTo(f.addr, align);
    if (start + size > f.addr + f.size) continue;
    const tail: FreeRange = { sec: secIndex, addr: start + size, size: f.addr + f.size - (start + size) };
    const head: FreeRange = { sec: secIndex, addr: f.addr, size: start - f.addr };
    free.splice(i, 1, ...[head, tail].filter((r) => r.size > 0));
    return start;
  }
  const sec = state.sections[secIndex];
  const start = alignTo(sec.addr + sec.used, align);
  if (start + size > sec.addr + sec.size) return undefined;
  sec.used = start + size - sec.addr;
  return start;
}

/** How the relocations of changed object k see the rest of the program: through the prior state. */
function patchContext(
  state: LinkState, changed: Changed[], k: number, globals: GlobalLookup, arch: Arch, dynamic: ImageTables | null,
  sizes: ReadonlyMap<GlobalRecord, number>,
): RelocContext {
  const preemptible = (g: GlobalRecord) => isPreemptibleRecord(g, dynamic?.shared === true);
  const sectionStarts = state.sections.map((x) => x.addr);
  const files = changed.map((c) => c.file);
  const c = changed[k];
  const target = (file: number, sym: number, addend: number): Target => {
    const f = files[file];
    const s = f.symbols[sym];
    const owner = changed[file];
    if (sym >= f.firstGlobal) {
      const g = globals.get(s.name);
      if (!g) throw new Fallback(`${owner.rec.name} refers to ${s.name}, which the last link did not know`);
      // A preemptible symbol's references go through its PLT entry, as in the full link (SymbolValues.target).
      const plt = preemptible(g) ? dynamic?.pltEntries.get(s.name) : undefined;
      if (plt !== undefined) return { state: TargetState.Defined, S: plt, A: addend, Z: sizes.get(g) ?? g.size, name: s.name };
      if (g.kind === GlobalKind.UndefWeak) return { state: TargetState.UndefWeak, S: 0, A: addend, Z: 0, name: s.name };
      return { state: TargetState.Defined, S: g.value, A: addend, Z: sizes.get(g) ?? g.size, name: s.name };
    }
    if (s.atom === SymPlace.Absolute) return { state: TargetState.Defined, S: s.value, A: addend, Z: s.size, name: s.name };
    if (s.atom < 0) return { state: TargetState.Discarded, S: 0, A: addend, Z: 0, name: s.name };
    // A local IFUNC is reached through its PLT entry, which the state does not record.
    if (isIfunc(s)) throw new Fallback(`${owner.file.name} refers to the local IFUNC ${s.name}`);
    const rec = owner.atoms[s.atom];
    if (rec.mergeIn && rec.mergeOut) {
      if (rec.mergeIn.length === 0) throw new Fallback(`${owner.file.name} refers to ${s.name} in ${owner.rec.atoms[s.atom].key}, which is empty now`);
      const isSection = s.type === SymType.Section;
      const off = isSection ? s.value + addend : s.value;
      const lo = pieceIndex(rec.mergeIn, off);
      return { state: TargetState.Defined, S: rec.mergeOut[lo] + (off - rec.mergeIn[lo]), A: isSection ? 0 : addend, Z: s.size, name: s.name };
    }
    if (rec.sec < 0) return { state: TargetState.Discarded, S: 0, A: addend, Z: 0, name: s.name };
    return { state: TargetState.Defined, S: rec.addr + s.value, A: addend, Z: s.size, name: s.name };
  };
  return {
    arch,
    files,
    target,
    isUndefWeak: (file, sym) => {
      const f = files[file];
      return sym >= f.firstGlobal && globals.get(f.symbols[sym].name)?.kind === GlobalKind.UndefWeak;
    },
    isPreemptible: (file, sym) => {
      const f = files[file];
      const g = sym >= f.firstGlobal ? globals.get(f.symbols[sym].name) : undefined;
      return g !== undefined && preemptible(g);
    },
    sharedOutput: dynamic?.shared ?? false,
    gotSlotAddr: (file, sym, kind) => {
      const f = files[file];
      const s = f.symbols[sym];
      const key = gotKey(kind, sym >= f.firstGlobal ? s.name : null, changed[file].obj, s.name);
      const addr = state.got.get(key);
      if (addr === undefined) throw new Fallback(`${c.file.name} needs a GOT entry for ${s.name}, which the image does not have`);
      return addr;
    },
    tls: state.tls,
    gotBase: state.sections.find((x) => x.name === '.got')?.addr ?? 0,
    imageBase: state.pe?.imageBase,
    // PE sections are recorded in address order, numbered from 1.
    outputSectionOf: state.pe ? (addr) => sectionAt(sectionStarts, addr) : undefined,
  };
}

/** Rewrites the .symtab entries of a changed object's symbols whose value, size or section changed (`c` is ctx.files[k]). */
function patchSymbols(state: LinkState, c: Changed, k: number, ctx: RelocContext, image: ImageView, writes: Write[], globals: GlobalLookup): void {
  const file = c.file;
  const entry = (index: number, atomIdx: number, addr: number, size: number, tlsSym: boolean) => {
    const at = state.symtabOffset + index * 24;
    const bytes = image.bytes(at, 24).slice();
    const dv = new DataView(bytes.buffer);
    const rec = atomIdx >= 0 ? c.atoms[atomIdx] : undefined;
    if (rec && rec.sec >= 0) dv.setUint16(6, rec.sec + 1, true);
    const value = tlsSym && state.tls ? addr - state.tls.addr : addr;
    dv.setBigUint64(8, BigInt(value), true);
    dv.setBigUint64(16, BigInt(size), true);
    diffInto(writes, image, at, bytes);
  };
  let n = 0;
  const emitted = (i: number) => shouldEmitLocal(file.symbols[i], (a) => c.atoms[a].sec >= 0, (a) => c.atoms[a].mergeIn !== undefined);
  for (let i = 1; i < file.firstGlobal; i++) {
    if (!emitted(i)) continue;
    const s = file.symbols[i];
    const index = c.rec.localFirst + n++;
    if (s.type === SymType.File || s.atom === SymPlace.Absolute) continue;
    const t = ctx.target(k, i, 0);
    if (t.state !== TargetState.Defined) continue;
    entry(index, c.atoms[s.atom].mergeIn ? -1 : s.atom, t.S, s.size, s.type === SymType.TLS);
  }
  for (let i = file.firstGlobal; i < file.symbols.length; i++) {
    const s = file.symbols[i];
    const g = globals.get(s.name);
    if (s.atom < 0 || !g || g.object !== c.obj || g.symtab < 0 || (g.kind !== GlobalKind.Defined && g.kind !== GlobalKind.Preemptible)) continue;
    const rec = c.atoms[s.atom];
    if (rec.sec < 0) continue;
    // The symbol table shows where the body is; the program keeps using the island.
    entry(g.symtab, s.atom, rec.addr + s.value, s.size, s.type === SymType.TLS);
  }
}

function fileOffsetOf(state: LinkState, addr: number): number {
  for (const s of state.sections) {
    if (s.flags & SecFlag.Alloc && !(s.flags & SecFlag.NoBits) && addr >= s.addr && addr < s.addr + s.size) return s.offset + (addr - s.addr);
  }
  throw new Fallback(`address ${hex(addr)} is in no section of the image`);
}

function fillTrap(region: Uint8Array, arch: Arch): void {
  fillPattern(region, 0, region.length, arch.trapFill);
}

/** Records the runs where `bytes` differs from the image at `offset`. */
function diffInto(writes: Write[], image: ImageView, offset: number, bytes: Uint8Array): void {
  const old = image.bytes(offset, bytes.length);
  let i = 0;
  while (i < bytes.length) {
    if (old[i] === bytes[i]) {
      i++;
      continue;
    }
    let j = i + 1;
    // Runs separated by fewer than 8 equal bytes are one write.
    while (j < bytes.length) {
      if (old[j] !== bytes[j]) {
        j++;
        continue;
      }
      let k = j;
      while (k < bytes.length && k - j < 8 && old[k] === bytes[k]) k++;
      if (k < bytes.length && k - j < 8) j = k;
      else break;
    }
    writes.push({ offset: offset + i, bytes: bytes.slice(i, j) });
    i = j;
  }
}

/**
 * When a patch rewrote .eh_frame (a moved function's FDE points elsewhere),
 * the unwinder's sorted index in .eh_frame_hdr follows: the entries of the
 * FDEs whose function moved are taken out and put back in order
 * (updatedHdrTable), or, when that cannot be done, the index is rebuilt from
 * the whole patched .eh_frame. Whatever changed in it is written too.
 */
function refreshEhFrameHdr(state: LinkState, image: ImageView, writes: Write[], changed: Changed[]): void {
  const hdr = state.sections.find((s) => s.name === '.eh_frame_hdr');
  const ehIndex = state.sections.findIndex((s) => s.flags & SecFlag.EhFrame && s.flags & SecFlag.Alloc);
  if (!hdr || ehIndex < 0) return;
  const eh = state.sections[ehIndex];
  const from = eh.offset;
  const to = eh.offset + eh.used;
  const touching = writes.filter((w) => w.offset < to && w.offset + w.bytes.length > from);
  if (!touching.length) return;
  const code = state.sections.filter((s) => s.flags & SecFlag.Exec);
  const extra: Write[] = [];
  if (!updatedHdrTable(image, eh, ehIndex, hdr, touching, changed, code, extra)) {
    const bytes = image.bytes(from, to - from).slice();
    overlay(bytes, from, touching);
    diffInto(extra, image, hdr.offset, ehFrameHdrBytes({ addr: eh.addr, bytes }, hdr.addr, hdr.used, code));
  }
  writes.push(...extra);
  writes.sort((a, b) => a.offset - b.offset);
}

/** Copies into `bytes` (the image's bytes from file offset `at`) what the writes put there. */
function overlay(bytes: Uint8Array, at: number, writes: readonly Write[]): void {
  for (const w of writes) {
    const a = Math.max(w.offset, at);
    const b = Math.min(w.offset + w.bytes.length, at + bytes.length);
    if (a < b) bytes.set(w.bytes.subarray(a - w.offset, b - w.offset), a - at);
  }
}

/**
 * The .eh_frame_hdr table after `touching` (the writes into .eh_frame), work
 * proportional to the changed FDEs and the entries that shift, written into
 * `out`. False when it cannot tell (a write outside the changed objects'
 * .eh_frame atoms, an FDE whose CIE is in another atom, an entry the table
 * does not have, more entries than room): then the caller rebuilds it.
 * Table entries are (initial location, FDE address) pairs relative to the
 * header, sorted by location; an FDE is listed when its function is in code.
 */
function updatedHdrTable(
  image: ImageView, eh: LinkState['sections'][number], ehIndex: number, hdr: LinkState['sections'][number], touching: readonly Write[],
  changed: readonly Changed[], code: ReadonlyArray<{ addr: number; size: number }>, out: Write[],
): boolean {
  const atoms: Array<{ at: number; size: number; end: number }> = [];
  for (const c of changed) {
    c.atoms.forEach((rec, a) => {
      if (rec.sec === ehIndex) atoms.push({ at: eh.offset + (rec.addr - eh.addr), size: c.file.atoms[a].size, end: eh.offset + (rec.addr - eh.addr) + rec.slot });
    });
  }
  atoms.sort((x, y) => x.at - y.at);
  // Every write is covered by those atoms' slots.
  for (const w of touching) {
    let pos = w.offset;
    for (const x of atoms) if (x.at <= pos && x.end > pos) pos = x.end;
    if (pos < w.offset + w.bytes.length) return false;
  }
  const inCode = (start: number) => code.some((s) => start >= s.addr && start < s.addr + s.size);
  const removals: Array<[number, number]> = [];
  const additions: Array<[number, number]> = [];
  for (const x of atoms) {
    const before = image.bytes(x.at, x.size);
    const after = before.slice();
    overlay(after, x.at, touching);
    const addr = eh.addr + (x.at - eh.offset);
    const was = fdeStarts(before, addr, '.eh_frame');
    const now = fdeStarts(after, addr, '.eh_frame');
    if (!was || !now) return false;
    const listed = (list: Array<{ fde: number; start: number }>) => new Map(list.filter((e) => inCode(e.start)).map((e) => [e.fde, e.start]));
    const wasListed = listed(was);
    const nowListed = listed(now);
    for (const [fde, start] of wasListed) if (nowListed.get(fde) !== start) removals.push([start - hdr.addr, fde - hdr.addr]);
    for (const [fde, start] of nowListed) if (wasListed.get(fde) !== start) additions.push([start - hdr.addr, fde - hdr.addr]);
  }
  if (!removals.length && !additions.length) return true;

  const head = image.bytes(hdr.offset, 12);
  const count = new DataView(head.buffer, head.byteOffset, 12).getUint32(8, true);
  const capacity = Math.floor((hdr.used - 12) / 8);
  if (count > capacity) return false;
  const table = image.bytes(hdr.offset + 12, count * 8);
  const dv = new DataView(table.buffer, table.byteOffset, table.byteLength);
  const startAt = (i: number) => dv.getInt32(i * 8, true);
  const fdeAt = (i: number) => dv.getInt32(i * 8 + 4, true);
  const removed = new Set<number>();
  for (const [start, fde] of removals) {
    // The first entry whose location is not below `start`.
    let i = partitionPoint(0, count, (m) => startAt(m) < start);
    while (i < count && startAt(i) === start && (fdeAt(i) !== fde || removed.has(i))) i++;
    if (i >= count || startAt(i) !== start) return false;
    removed.add(i);
  }
  additions.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const newCount = count - removed.size + additions.length;
  if (newCount > capacity) return false;
  // Each at the first entry whose location is above its own: a new entry goes after the kept ones at its location.
  const inserts = additions.map(([start, fde]) => ({ at: partitionPoint(0, count, (m) => startAt(m) <= start), start, fde }));
  const gone = [...removed].sort((a, b) => a - b);
  // Entries before `first` stay where they are; from there on, runs of kept entries are copied
  // whole, with the new ones put in between and the removed ones left out.
  const first = Math.min(inserts.length ? inserts[0].at : count, gone.length ? gone[0] : count);
  let tail = new Uint8Array((Math.max(count, newCount) - first) * 8);
  const tdv = new DataView(tail.buffer);
  let n = 0;
  let i = first;
  let k = 0;
  let g = 0;
  while (i < count || k < inserts.length) {
    // As many entries in as out: past the last change the table is as it was.
    if (k >= inserts.length && g >= gone.length && newCount === count) {
      tail = tail.subarray(0, n * 8);
      break;
    }
    const next = Math.min(k < inserts.length ? inserts[k].at : count, g < gone.length ? gone[g] : count);
    tail.set(table.subarray(i * 8, next * 8), n * 8);
    n += next - i;
    i = next;
    while (k < inserts.length && inserts[k].at === i) {
      tdv.setInt32(n * 8, inserts[k].start, true);
      tdv.setInt32(n * 8 + 4, inserts[k].fde, true);
      n++;
      k++;
    }
    if (g < gone.length && gone[g] === i) {
      i++;
      g++;
    }
    if (i >= count && k >= inserts.length) break;
  }
  // Past the last entry the table is zeros, as a full link leaves it.
  if (newCount !== count) {
    const n4 = new Uint8Array(4);
    new DataView(n4.buffer).setUint32(0, newCount, true);
    diffInto(out, image, hdr.offset + 8, n4);
  }
  diffInto(out, image, hdr.offset + 12 + first * 8, tail);
  return true;
}

/** Sorts writes by offset, later writes to the same bytes winning, and joins adjacent ones. */
function coalesce(writes: Write[]): Write[] {
  if (writes.length === 0) return writes;
  const sorted = writes.map((w, i) => ({ w, i })).sort((a, b) => a.w.offset - b.w.offset || a.i - b.i).map((x) => x.w);
  const out: Write[] = [];
  for (const w of sorted) {
    const last = out[out.length - 1];
    if (last && w.offset <= last.offset + last.bytes.length) {
      const end = Math.max(last.offset + last.bytes.length, w.offset + w.bytes.length);
      const b = new Uint8Array(end - last.offset);
      b.set(last.bytes);
      b.set(w.bytes, w.offset - last.offset);
      out[out.length - 1] = { offset: last.offset, bytes: b };
    } else {
      out.push(w);
    }
  }
  return out;
}

/**
 * The build id and the image hash after the writes: only the chunks the
 * writes touch are rehashed (with the build id's bytes zeroed, as when the
 * full link computed them). Adds the build id's write; returns the touched
 * chunks' new digests and the new image hash, for commit().
 */
function finishImageIdentity(state: LinkState, image: ImageView, writes: Write[]): { digests: Map<number, Uint8Array>; imageHash: Uint8Array } {
  // Nothing written: the same image, the same identity (and the build id's chunk is not read).
  if (writes.length === 0) return { digests: new Map(), imageHash: state.imageHash };
  const touched = new Set<number>();
  for (const w of writes) {
    for (let c = Math.floor(w.offset / BUILD_ID_CHUNK); c <= Math.floor((w.offset + w.bytes.length - 1) / BUILD_ID_CHUNK); c++) touched.add(c);
  }
  const digests = new Map<number, Uint8Array>();
  const laid = coalesce(writes);
  for (const c of [...touched].sort((a, b) => a - b)) {
    const start = c * BUILD_ID_CHUNK;
    const end = Math.min(image.length, start + BUILD_ID_CHUNK);
    const hasBuildId = state.buildIdOffset >= 0 && state.buildIdOffset < end && state.buildIdOffset + state.buildIdSize > start;
    if (!hasBuildId) {
      digests.set(c, chunkDigest(chunkPieces(image, laid, start, end)));
      continue;
    }
    const chunk = image.bytes(start, end - start).slice();
    overlay(chunk, start, writes);
    const from = Math.max(state.buildIdOffset, start);
    const to = Math.min(state.buildIdOffset + state.buildIdSize, end);
    chunk.fill(0, from - start, to - start);
    digests.set(c, chunkDigest([chunk]));
  }
  // The tree's top with the touched chunks' new digests (buildId.ts): their groups and the top are rehashed, nothing else.
  const top = digestTop(state.chunkDigests, digests);
  let buildId: Uint8Array = new Uint8Array(0);
  if (state.buildIdOffset >= 0) {
    const old = image.bytes(state.buildIdOffset, state.buildIdSize).slice();
    // A literal --build-id=0x... never changes; a hash does when anything did.
    buildId = old;
    if (touched.size > 0 && !isLiteralBuildId(state)) {
      buildId = top.slice(0, state.buildIdSize);
      writes.push({ offset: state.buildIdOffset, bytes: buildId });
    }
    writes.sort((a, b) => a.offset - b.offset);
  }
  return { digests, imageHash: imageHashFromTop(top, buildId) };
}

/**
 * The image's bytes [start, end) with `writes` (sorted, disjoint: coalesce)
 * laid over, as pieces to hash one after another: views of the image
 * between the writes, and the writes' bytes, rather than a copy of the chunk.
 */
function chunkPieces(image: ImageView, writes: readonly Write[], start: number, end: number): Uint8Array[] {
  const pieces: Uint8Array[] = [];
  let at = start;
  // The first write that ends after `start`.
  for (let i = partitionPoint(0, writes.length, (k) => writes[k].offset + writes[k].bytes.length <= start); i < writes.length && writes[i].offset < end; i++) {
    const w = writes[i];
    if (w.offset > at) pieces.push(image.bytes(at, w.offset - at));
    const from = Math.max(w.offset, at);
    const to = Math.min(w.offset + w.bytes.length, end);
    pieces.push(w.bytes.subarray(from - w.offset, to - w.offset));
    at = to;
  }
  if (at < end) pieces.push(image.bytes(at, end - at));
  return pieces;
}

function isLiteralBuildId(state: LinkState): boolean {
  return state.optionsKey.includes('"buildId":"0x');
}

/**
 * A PE image lists in `.reloc` every place holding a 64-bit address. A
 * patch rewrites `.reloc` never: the changed objects must have their
 * base relocations exactly where the image has them (same atoms, same
 * offsets, atoms not moved). Read from the image's own `.reloc`, so the
 * state need not record them.
 */
function checkBaseRelocs(state: LinkState, changed: Changed[], image: ImageView, globals: GlobalLookup, arch: Arch): void {
  if (!changed.length) return;
  const base = state.pe!.imageBase;
  const reloc = state.sections.find((x) => x.name === '.reloc');
  const listed = reloc ? decodeBaseRelocs(image.bytes(reloc.offset, reloc.used)) : new Float64Array(0);
  const addr64 = COFF_ADDR64[arch.name];
  for (const c of changed) {
    const before: number[] = [];
    const now: number[] = [];
    c.file.atoms.forEach((atom, a) => {
      if (!(atom.flags & SecFlag.Alloc)) return;
      const was = c.rec.atoms[a];
      if (was.sec >= 0) {
        const from = was.addr - base;
        for (let i = lowerBound(listed, from); i < listed.length && listed[i] < from + was.slot; i++) before.push(listed[i]);
      }
      const rec = c.atoms[a];
      if (rec.sec < 0) return;
      for (const r of atom.relocs) {
        if (r.type !== addr64) continue;
        const s = c.file.symbols[r.sym];
        if (r.sym < c.file.firstGlobal) {
          if (s.atom === SymPlace.Absolute) continue;
        } else {
          const g = globals.get(s.name);
          if (!g || g.kind === GlobalKind.Absolute || g.kind === GlobalKind.UndefWeak) continue;
        }
        now.push(rec.addr + r.offset - base);
      }
    });
    now.sort((x, y) => x - y);
    if (before.length !== now.length || before.some((v, i) => v !== now[i])) {
      throw new Fallback(`the places in ${c.file.name} that hold 64-bit addresses changed (${before.length} before, ${now.length} now), and a patch does not rewrite the base relocations`);
    }
  }
}

/**
 * The exception table of a PE image is one sorted array of RUNTIME_FUNCTION
 * entries (begin, end, unwind info RVAs), which the full link sorts after
 * relocating: its atoms are not where the state placed them. A patch takes
 * the table from the image, drops the entries of functions in the changed
 * objects (those that begin inside one of their atoms' old slots), adds
 * the entries their `.pdata` atoms give now, sorts, and writes what
 * differs: the table a full link of the same entries would write.
 */
function patchExceptionTable(state: LinkState, changed: Changed[], contexts: readonly RelocContext[], image: ImageView, writes: Write[]): void {
  const si = state.sections.findIndex((x) => x.name === '.pdata');
  if (si < 0 || !changed.length) return;
  const sec = state.sections[si];
  const base = state.pe!.imageBase;
  const arch = state.arch;
  const size = runtimeFunctionSize(arch);
  const count = Math.floor(sec.used / size);
  const ranges: Array<[number, number]> = [];
  for (const c of changed) {
    c.rec.atoms.forEach((was, a) => {
      if (was.sec >= 0 && c.file.atoms[a]?.kind === AtomKind.Code) ranges.push([was.addr - base, was.addr - base + was.slot]);
    });
  }
  ranges.sort((x, y) => x[0] - y[0]);
  const inChanged = (rva: number) => {
    let lo = 0;
    let hi = ranges.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (rva < ranges[mid][0]) hi = mid - 1;
      else if (rva >= ranges[mid][1]) lo = mid + 1;
      else return true;
    }
    return false;
  };
  const entries: RuntimeFunction[] = readRuntimeFunctions(image.bytes(sec.offset, count * size), arch).filter((e) => !inChanged(e[0]));
  const counters: WorkCounters = { atomsWritten: 0, relocsApplied: 0 };
  changed.forEach((c, k) => {
    c.file.atoms.forEach((atom, a) => {
      const rec = c.atoms[a];
      if (rec.sec !== si || !atom.data) return;
      const region = new Uint8Array(atom.size);
      writeAtom(contexts[k], region, 0, rec.addr, k, atom, counters);
      entries.push(...readRuntimeFunctions(region, arch));
    });
  });
  if (entries.length !== count) {
    throw new Fallback(`the exception table would have ${entries.length} entries instead of ${count}: a function's unwind entry is not where the last link put it`);
  }
  diffInto(writes, image, sec.offset, encodeExceptionTable(entries, arch));
}
