import { atomContentId } from '../obj/contentId.js';
import { readArchive } from '../obj/archive.js';
import { AtomKind, SecFlag, SymPlace, SymType, type Archive, type ObjectFile } from '../obj/model.js';
import { hex } from '../obj/LinkError.js';
import type { Arch } from '../link/arch/Arch.js';
import { alignTo } from '../link/align.js';
import { isMergeable, pieceIndex, pieceKey, splitPieces } from '../link/mergeSections.js';
import { fillPattern } from '../link/padding.js';
import { ehFrameHdrBytes } from '../link/ehFrameHdr.js';
import { BUILD_ID_CHUNK, buildIdFromChunks } from '../link/buildId.js';
import type { PlacementPolicy } from '../link/layout.js';
import { gotContents, writeAtom, type RelocContext, type WorkCounters } from '../link/relocate.js';
import { GotSlotKind } from '../link/scan.js';
import { TargetState, isIfunc, type Target } from '../link/symbols.js';
import { shouldEmitLocal } from '../formats/elf/writeElf.js';
import { isFixedSection, isMovableDebugSection } from './placementPolicy.js';
import { checkDynamicUse, readImageTables } from './dynamicGate.js';
import {
  atomKeys, gotKey, hashBytes, imageHash, localSymbolHash, referenceOrder, sameBytes, symbolShape,
  GlobalKind, type AtomRecord, type FreeRange, type LinkState, type ObjectRecord,
} from './state.js';
import { blake2b512 } from '../obj/blake2b.js';
import { gcLivenessChange } from './gcGate.js';

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
 * of writes, applied all at once by the caller.
 */

export class Fallback extends Error {
  constructor(readonly reason: string) {
    super(reason);
  }
}

export interface PatchInput {
  name: string;
  kind: 'object' | 'archive' | 'shared';
  bytes: Uint8Array;
  hash: Uint8Array;
  readThinMember?: (path: string) => Uint8Array;
}

export interface Write {
  offset: number;
  bytes: Uint8Array;
}

export interface PatchPlan {
  writes: Write[];
  state: LinkState;
  work: { atomsPlaced: number; atomsWritten: number; relocsApplied: number };
}

interface Changed {
  obj: number;
  rec: ObjectRecord;
  file: ObjectFile;
  /** The new records of its atoms. */
  atoms: AtomRecord[];
}

export type ObjectReader = (name: string, bytes: Uint8Array) => ObjectFile;

export function archiveIndexHash(ar: Archive): Uint8Array {
  if (!ar.index) return new Uint8Array(32);
  const lines: string[] = [];
  for (const [sym, members] of ar.index) lines.push(`${sym}\0${members.map((m) => ar.members[m].name).join('\0')}`);
  return hashBytes(new TextEncoder().encode(lines.join('\n')));
}

export function planPatch(prior: LinkState, image: Uint8Array, inputs: PatchInput[], arch: Arch, policy: PlacementPolicy, readObject: ObjectReader): PatchPlan {
  // The input files: the same ones, in the same order.
  if (inputs.length !== prior.inputs.length) {
    throw new Fallback(`the set of input files changed (${prior.inputs.length} before, ${inputs.length} now)`);
  }
  // Inputs match by position and content; a new path with the same bytes is the same input.
  inputs.forEach((input, i) => {
    const was = prior.inputs[i];
    const what = { object: 'an object', archive: 'an archive', shared: 'a shared library' };
    if (was.kind !== input.kind) throw new Fallback(`input ${i + 1} changed from ${what[was.kind]} (${was.name}) to ${input.name}`);
  });

  // Which objects changed: plain objects by their bytes, archive members by theirs.
  const byInput = new Map<number, number[]>();
  prior.objects.forEach((o, i) => {
    const list = byInput.get(o.input);
    if (list) list.push(i); else byInput.set(o.input, [i]);
  });
  const changed: Changed[] = [];
  const changedArchives: Array<{ input: number; ar: Archive }> = [];
  inputs.forEach((input, i) => {
    if (sameBytes(input.hash, prior.inputs[i].hash)) return;
    // What a library exports and needs decides imports, versions and copies: any change is a full link.
    if (input.kind === 'shared') throw new Fallback(`the shared library ${input.name} changed`);
    const objs = byInput.get(i) ?? [];
    if (input.kind === 'object') {
      for (const o of objs) changed.push(newChanged(prior, o, readObject(input.name, input.bytes)));
      return;
    }
    const ar = readArchive(input.name, input.bytes, input.readThinMember);
    changedArchives.push({ input: i, ar });
    for (const o of objs) {
      const rec = prior.objects[o];
      const member = ar.members.find((m) => m.name === rec.member);
      if (!member) throw new Fallback(`${input.name}(${rec.member}) is gone from the archive`);
      if (sameBytes(hashBytes(member.bytes), rec.hash)) continue;
      changed.push(newChanged(prior, o, readObject(`${input.name}(${rec.member})`, member.bytes)));
    }
  });

  // Symbol resolution is unchanged if every changed object has the same symbol shape, and, where
  // several objects define one symbol, its references come in the same order.
  for (const c of changed) {
    const why = describeShapeChange(c.file.name, c.rec.shape, symbolShape(c.file));
    if (why) throw new Fallback(why);
    if (prior.contested && !sameBytes(referenceOrder(c.file), c.rec.refOrder)) {
      throw new Fallback(`the order of ${c.file.name}'s references changed, which can change the order archive members load in and so which definition of ${prior.contested} wins`);
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
    const emitted = (i: number) => shouldEmitLocal(c.file.symbols[i], (a) => c.rec.atoms[a].sec >= 0, (a) => c.rec.atoms[a].mergeIn !== undefined);
    if (!sameBytes(localSymbolHash(c.file, emitted), c.rec.localHash)) {
      throw new Fallback(`the local symbols of ${c.file.name} changed (a static function or variable was added, removed or renamed)`);
    }
  }

  // With --gc-sections, the patch must keep what a full link would (gcGate.ts).
  const gcWhy = gcLivenessChange(prior, changed);
  if (gcWhy) throw new Fallback(gcWhy);

  const state = cloneState(prior);
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
      if (home !== undefined && home >= 0 && (atom.flags & KIND) !== (prior.sections[home].flags & KIND)) {
        throw new Fallback(`the flags of ${atom.name} of ${c.file.name} changed (writable, executable, TLS or zero-fill), so it belongs in another output section`);
      }
      if (was.mergeIn) {
        if (!sameBytes(id, was.id)) remerges.push({ c, a });
        return;
      }
      if (was.sec < 0 || sameBytes(id, was.id)) return;
      const sec = prior.sections[was.sec];
      const what = `${atom.name} of ${c.file.name}`;
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
    if (sec.flags & SecFlag.Alloc || sec.used === prior.sections[i].used) return;
    const size = new Uint8Array(8);
    new DataView(size.buffer).setBigUint64(0, BigInt(sec.used), true);
    diffInto(writes, image, state.shdrOffset + (i + 1) * 64 + 0x20, size);
  });

  // Every global the changed objects define keeps the address the program uses.
  const globals = new Map(state.globals.map((g) => [g.name, g]));
  for (const c of changed) {
    for (let i = c.file.firstGlobal; i < c.file.symbols.length; i++) {
      const s = c.file.symbols[i];
      const g = globals.get(s.name);
      if (s.atom < 0 || !g || g.kind !== GlobalKind.Defined || g.object !== c.obj) continue;
      const rec = c.atoms[s.atom];
      if (rec.sec < 0) continue;
      if (isIfunc(s)) throw new Fallback(`${s.name} in ${c.file.name} is an IFUNC, whose PLT entry and IRELATIVE record a patch does not rewrite`);
      if (rec.canonical + s.value !== g.value) {
        throw new Fallback(`${s.name} would move from ${hex(g.value)} to ${hex(rec.canonical + s.value)} within ${c.rec.atoms[s.atom].key} of ${c.file.name}`);
      }
      g.size = s.size;
    }
  }

  // Relocate every atom of each changed object and write what differs.
  const counters: WorkCounters = { atomsWritten: 0, relocsApplied: 0 };
  const dynamic = readImageTables(state, image);
  changed.forEach((c, k) => {
    const ctx = patchContext(state, changed, k, globals, arch);
    // A dynamic executable: the object must need exactly the PLT entries, copies and dynamic relocations it has.
    if (dynamic) {
      const slots = localGotSlots(state, c).filter((g) => g.kind === GotSlotKind.Address);
      checkDynamicUse(arch, dynamic, globals, c.file, c.atoms, k, ctx, (sec) => state.sections[sec].flags, slots);
    }
    c.file.atoms.forEach((atom, a) => {
      const rec = c.atoms[a];
      if (rec.sec < 0) return;
      work.atomsPlaced++;
      const sec = state.sections[rec.sec];
      if (sec.flags & SecFlag.NoBits) return;
      const region = new Uint8Array(rec.slot);
      if (atom.kind === AtomKind.Code) fillTrap(region, arch);
      writeAtom(ctx, region, 0, rec.addr, k, atom, counters);
      diffInto(writes, image, sec.offset + (rec.addr - sec.addr), region);
    });
    // GOT slots that hold addresses of this object's local symbols.
    for (const { addr, sym, kind } of localGotSlots(state, c)) {
      const name = c.file.symbols[sym].name;
      const value = gotContents(ctx, [{ file: k, sym, kind, where: `${c.file.name}:(GOT entry for ${name})` }]);
      diffInto(writes, image, fileOffsetOf(state, addr), value);
    }
    patchSymbols(state, c, ctx, image, writes);
  });
  work.atomsWritten = counters.atomsWritten;
  work.relocsApplied = counters.relocsApplied;

  // The new state: the changed objects' records, every input's hash and name.
  for (const c of changed) state.objects[c.obj] = { ...c.rec, hash: hashBytes(c.file.bytes), atoms: c.atoms };
  inputs.forEach((input, i) => {
    state.inputs[i].hash = input.hash;
    state.inputs[i].name = input.name;
  });
  state.objects.forEach((o, i) => {
    const name = o.member ? `${inputs[o.input].name}(${o.member})` : inputs[o.input].name;
    if (name !== o.name) state.objects[i] = { ...o, name };
  });

  const merged = coalesce(writes);
  refreshEhFrameHdr(state, image, merged);
  finishImageIdentity(state, image, merged);
  return { writes: merged, state, work };
}

/** The GOT slots holding this object's local symbols (their addresses or TP offsets). */
function localGotSlots(state: LinkState, c: Changed): Array<{ addr: number; sym: number; kind: GotSlotKind }> {
  const out: Array<{ addr: number; sym: number; kind: GotSlotKind }> = [];
  for (const [key, addr] of state.got) {
    const m = /^(\d)l:(\d+):(.*)$/s.exec(key);
    if (!m || Number(m[2]) !== c.obj) continue;
    const sym = c.file.symbols.findIndex((s, i) => i > 0 && i < c.file.firstGlobal && s.name === m[3]);
    if (sym < 0) throw new Fallback(`${c.file.name} no longer has local symbol ${m[3]}, which a GOT entry holds`);
    out.push({ addr, sym, kind: Number(m[1]) as GotSlotKind });
  }
  return out;
}

function newChanged(prior: LinkState, obj: number, file: ObjectFile): Changed {
  const rec = prior.objects[obj];
  return { obj, rec, file, atoms: rec.atoms.map((a) => ({ ...a })) };
}

/** Why two symbol shapes differ, in words; null when they do not. */
function describeShapeChange(obj: string, before: string[], after: string[]): string | null {
  if (before.length === after.length && before.every((e, i) => e === after[i])) return null;
  // Entries are `NAME PLACE bB vV tT` or `comdat SIGNATURE`.
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
function moveAtom(state: LinkState, c: Changed, a: number, arch: Arch, policy: PlacementPolicy, writes: Write[], image: Uint8Array): void {
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
function moveDebugAtom(state: LinkState, c: Changed, a: number, writes: Write[], image: Uint8Array): void {
  const atom = c.file.atoms[a];
  const rec = c.atoms[a];
  const sec = state.sections[rec.sec];
  const addr = allocate(state, rec.sec, atom.size, atom.align);
  if (addr === undefined) throw new Fallback(`no room left in ${sec.name} for ${atom.name} of ${c.file.name} (${atom.size} bytes)`);
  const oldSize = c.rec.atoms[a].size;
  if (sec.name === '.debug_info') diffInto(writes, image, sec.offset + rec.addr, paddingUnit(image, sec.offset + rec.addr, oldSize));
  rec.addr = addr;
  rec.slot = atom.size;
}

/**
 * An empty DWARF unit covering `size` bytes: the old unit's header, its
 * length stretched over the region, and nothing but null entries after it.
 */
function paddingUnit(image: Uint8Array, at: number, size: number): Uint8Array {
  const old = image.subarray(at, at + size);
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
function remergeAtom(state: LinkState, c: Changed, a: number, writes: Write[], image: Uint8Array, appended: Map<string, number>): void {
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
    known.set(pieceKey(image.subarray(fileOff(oldOut[k]), fileOff(oldOut[k]) + len)), oldOut[k]);
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
function patchContext(state: LinkState, changed: Changed[], k: number, globals: Map<string, LinkState['globals'][number]>, arch: Arch): RelocContext {
  const files = changed.map((c) => c.file);
  const c = changed[k];
  const target = (file: number, sym: number, addend: number): Target => {
    const f = files[file];
    const s = f.symbols[sym];
    const owner = changed[file];
    if (sym >= f.firstGlobal) {
      const g = globals.get(s.name);
      if (!g) throw new Fallback(`${owner.rec.name} refers to ${s.name}, which the last link did not know`);
      if (g.kind === GlobalKind.UndefWeak) return { state: TargetState.UndefWeak, S: 0, A: addend, Z: 0, name: s.name };
      return { state: TargetState.Defined, S: g.value, A: addend, Z: g.size, name: s.name };
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
      return sym >= f.firstGlobal && globals.get(f.symbols[sym].name)?.kind === GlobalKind.Shared;
    },
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
  };
}

/** Rewrites the .symtab entries of a changed object's symbols whose value, size or section changed. */
function patchSymbols(state: LinkState, c: Changed, ctx: RelocContext, image: Uint8Array, writes: Write[]): void {
  const file = c.file;
  const entry = (index: number, atomIdx: number, addr: number, size: number, tlsSym: boolean) => {
    const at = state.symtabOffset + index * 24;
    const bytes = image.slice(at, at + 24);
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
    const t = ctx.target(changedIndexOf(ctx, file), i, 0);
    if (t.state !== TargetState.Defined) continue;
    entry(index, c.atoms[s.atom].mergeIn ? -1 : s.atom, t.S, s.size, s.type === SymType.TLS);
  }
  const globals = new Map(state.globals.map((g) => [g.name, g]));
  for (let i = file.firstGlobal; i < file.symbols.length; i++) {
    const s = file.symbols[i];
    const g = globals.get(s.name);
    if (s.atom < 0 || !g || g.object !== c.obj || g.symtab < 0 || g.kind !== GlobalKind.Defined) continue;
    const rec = c.atoms[s.atom];
    if (rec.sec < 0) continue;
    // The symbol table shows where the body is; the program keeps using the island.
    entry(g.symtab, s.atom, rec.addr + s.value, s.size, s.type === SymType.TLS);
  }
}

function changedIndexOf(ctx: RelocContext, file: ObjectFile): number {
  return ctx.files.indexOf(file);
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
function diffInto(writes: Write[], image: Uint8Array, offset: number, bytes: Uint8Array): void {
  let i = 0;
  while (i < bytes.length) {
    if (image[offset + i] === bytes[i]) {
      i++;
      continue;
    }
    let j = i + 1;
    // Runs separated by fewer than 8 equal bytes are one write.
    while (j < bytes.length) {
      if (image[offset + j] !== bytes[j]) {
        j++;
        continue;
      }
      let k = j;
      while (k < bytes.length && k - j < 8 && image[offset + k] === bytes[k]) k++;
      if (k < bytes.length && k - j < 8) j = k;
      else break;
    }
    writes.push({ offset: offset + i, bytes: bytes.slice(i, j) });
    i = j;
  }
}

/**
 * When a patch rewrote .eh_frame (a moved function's FDE points elsewhere),
 * the unwinder's sorted index in .eh_frame_hdr is rebuilt from the patched
 * bytes and whatever changed in it is written too.
 */
function refreshEhFrameHdr(state: LinkState, image: Uint8Array, writes: Write[]): void {
  const hdr = state.sections.find((s) => s.name === '.eh_frame_hdr');
  const eh = state.sections.find((s) => s.flags & SecFlag.EhFrame && s.flags & SecFlag.Alloc);
  if (!hdr || !eh) return;
  const from = eh.offset;
  const to = eh.offset + eh.used;
  if (!writes.some((w) => w.offset < to && w.offset + w.bytes.length > from)) return;
  const bytes = image.slice(from, to);
  for (const w of writes) {
    const a = Math.max(w.offset, from);
    const b = Math.min(w.offset + w.bytes.length, to);
    if (a < b) bytes.set(w.bytes.subarray(a - w.offset, b - w.offset), a - from);
  }
  const code = state.sections.filter((s) => s.flags & SecFlag.Exec);
  const fresh = ehFrameHdrBytes({ addr: eh.addr, bytes }, hdr.addr, hdr.used, code);
  const extra: Write[] = [];
  diffInto(extra, image, hdr.offset, fresh);
  writes.push(...extra);
  writes.sort((a, b) => a.offset - b.offset);
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
 * full link computed them).
 */
function finishImageIdentity(state: LinkState, image: Uint8Array, writes: Write[]): void {
  const touched = new Set<number>();
  for (const w of writes) {
    for (let c = Math.floor(w.offset / BUILD_ID_CHUNK); c <= Math.floor((w.offset + w.bytes.length - 1) / BUILD_ID_CHUNK); c++) touched.add(c);
  }
  const digests = state.chunkDigests.slice();
  for (const c of [...touched].sort((a, b) => a - b)) {
    const start = c * BUILD_ID_CHUNK;
    const chunk = image.slice(start, Math.min(image.length, start + BUILD_ID_CHUNK));
    for (const w of writes) {
      const from = Math.max(w.offset, start);
      const to = Math.min(w.offset + w.bytes.length, start + chunk.length);
      if (from < to) chunk.set(w.bytes.subarray(from - w.offset, to - w.offset), from - start);
    }
    if (state.buildIdOffset >= 0) {
      const from = Math.max(state.buildIdOffset, start);
      const to = Math.min(state.buildIdOffset + state.buildIdSize, start + chunk.length);
      if (from < to) chunk.fill(0, from - start, to - start);
    }
    digests[c] = blake2b512([chunk]).slice(0, 32);
  }
  state.chunkDigests = digests;
  let buildId: Uint8Array = new Uint8Array(0);
  if (state.buildIdOffset >= 0) {
    const old = image.slice(state.buildIdOffset, state.buildIdOffset + state.buildIdSize);
    // A literal --build-id=0x... never changes; a hash does when anything did.
    buildId = touched.size === 0 ? old : buildIdFromChunks(digests, state.buildIdSize);
    if (touched.size > 0 && !isLiteralBuildId(state)) writes.push({ offset: state.buildIdOffset, bytes: buildId });
    else buildId = old;
    writes.sort((a, b) => a.offset - b.offset);
  }
  state.imageHash = imageHash(digests, buildId);
}

function isLiteralBuildId(state: LinkState): boolean {
  return state.optionsKey.includes('"buildId":"0x');
}

function cloneState(s: LinkState): LinkState {
  return {
    ...s,
    inputs: s.inputs.map((i) => ({ ...i })),
    objects: s.objects.slice(),
    sections: s.sections.map((x) => ({ ...x })),
    free: s.free.map((f) => ({ ...f })),
    islands: s.islands.map((i) => ({ ...i })),
    globals: s.globals.map((g) => ({ ...g })),
    got: new Map(s.got),
    chunkDigests: s.chunkDigests.slice(),
  };
}
