import { AtomKind, SecFlag, type ArchName, type Atom } from '../obj/model.js';
import { LinkError } from '../obj/LinkError.js';
import { NT_GNU_BUILD_ID, SHT } from '../obj/elfConstants.js';
import type { Arch } from './arch/Arch.js';
import { x86_64 } from './arch/x86_64.js';
import { aarch64 } from './arch/aarch64.js';
import { buildIdFromChunks, buildIdSize, chunkDigests, type BuildIdStyle } from './buildId.js';
import { assignAddresses, PACKED, type Layout, type PlacementPolicy } from './layout.js';
import { isLinkerDefined, linkerSymbolValues } from './linkerSymbols.js';
import { addInternalAtom, addSyntheticSection, planSections, type OutputSection, type SectionPlan } from './outputSections.js';
import { gotContents, writeAtom, type RelocContext, type WorkCounters } from './relocate.js';
import { resolveSymbols, SymState, type LinkInput, type MemberLoader, type Resolution } from './resolve.js';
import { preemptibleIn, scanRelocations, slotKey, undefWeakIn, type GotPlan } from './scan.js';
import { planIfuncs, writeIfuncs, type IfuncPlan } from './ifunc.js';
import { addEhFrameHdr, ehFrameHdrOf, ehFrameSection, writeEhFrameHdr } from './ehFrameHdr.js';
import { atomsInFileOrder, streamImage, type ImageWriter } from './streamImage.js';
import { fillPattern } from './padding.js';
import { SymbolValues, rememberingTargets } from './symbols.js';
import { locateThunks, planThunks, thunkKey, useThunk, writeThunks, type ThunkPlan } from './thunks.js';
import { buildElfTables, elfHeaderPieces, writeElfHeaders, type ElfTables } from '../formats/elf/writeElf.js';
import { markLive } from './gcSections.js';
import { addDynamicSection, dynamicSymbolAddress, exportedDefinitions, planDynamic, preemptibleSymbols, writeDynamic, type DynamicOptions, type DynamicPlan } from './dynamic.js';

/**
 * The link, top to bottom. Each pass consumes the previous passes' results;
 * the session (src/session) decides which it can skip on a relink.
 */

export interface LinkOptions {
  arch: ArchName;
  /** Entry symbol (-e); lld's default is _start ('' for none: a shared library without -e). */
  entry: string;
  buildId: BuildIdStyle;
  /** Extra names to treat as referenced (-u). */
  undefinedRoots: string[];
  /** Keep the image's chunk digests (an incremental link's state needs them). */
  keepChunkDigests: boolean;
  /** Write .eh_frame_hdr and PT_GNU_EH_FRAME (--eh-frame-hdr). */
  ehFrameHdr: boolean;
  /** A dynamic executable (shared-library inputs, or -pie), or null for a static one. */
  dynamic: DynamicOptions | null;
  /** -z relro (the default): a PT_GNU_RELRO segment for what is written only while loading. */
  relro: boolean;
  /** --gc-sections: keep only what the roots reach (gcSections.ts). */
  gcSections: boolean;
  /**
   * Write the image here as it is made, a window at a time, and keep no copy
   * of it (a link that keeps no session; streamImage.ts): the result's image
   * is then null. Ignored where the whole image is needed (thunks).
   */
  stream?: ImageWriter;
  /** -z start-stop-gc (the default) or -z nostart-stop-gc (false): whether __start_X keeps the sections X. */
  startStopGc?: boolean;
}

export interface LinkResult {
  /** Null when it went to `stream` (imageSize is its size). */
  image: Uint8Array | null;
  imageSize: number;
  warnings: string[];
  counters: WorkCounters;
  res: Resolution;
  plan: SectionPlan;
  layout: Layout;
  /** Offset of the build id's bytes in the image, or -1. */
  buildIdOffset: number;
  buildIdSize: number;
  /** Digests of the image's fixed-size chunks, taken with the build id zeroed. */
  chunkDigests: Uint8Array[];
  got: GotPlan;
  gotAddr: number;
  tables: ElfTables;
  ctx: RelocContext;
  values: SymbolValues;
  thunks: ThunkPlan;
  dynamic: DynamicPlan | null;
}

export function archFor(name: ArchName): Arch {
  return name === 'x86_64' ? x86_64 : aarch64;
}

export function link(inputs: readonly LinkInput[], loadMember: MemberLoader, opts: LinkOptions, policy: PlacementPolicy = PACKED): LinkResult {
  const arch = archFor(opts.arch);
  const warnings: string[] = [];
  for (const input of inputs) {
    if (input.kind === 'object' && input.file.format !== 'elf') {
      throw new LinkError(`${input.file.name}: a ${input.file.format.toUpperCase()} object cannot be linked into an ELF image`);
    }
    if (input.kind === 'object' && input.file.arch !== opts.arch) {
      throw new LinkError(`${input.file.name} is incompatible with ${opts.arch} (it is ${input.file.arch})`);
    }
  }
  const checkedLoad: MemberLoader = (archive, m) => {
    const file = loadMember(archive, m);
    if (file.format !== 'elf') throw new LinkError(`${file.name}: a ${file.format.toUpperCase()} object cannot be linked into an ELF image`);
    if (file.arch !== opts.arch) throw new LinkError(`${file.name} is incompatible with ${opts.arch} (it is ${file.arch})`);
    return file;
  };

  // Which definition each name binds to; which archive members are pulled in.
  const res = resolveSymbols(inputs, checkedLoad, isLinkerDefined, [...(opts.entry ? [opts.entry] : []), ...opts.undefinedRoots]);
  // Which symbols the dynamic loader binds (a shared library's, and in a shared library its own exports).
  res.preemptible = preemptibleSymbols(res, opts.dynamic);
  // Beyond this point no symbols are added (but the aliases of a copied variable, dynamic.ts).

  // With --gc-sections, which atoms (and commons) the roots reach; the others are left out.
  const gc = opts.gcSections ? markLive(res, {
    entry: opts.entry, undefinedRoots: opts.undefinedRoots, startStopGc: opts.startStopGc,
    extraRoots: opts.dynamic ? exportedDefinitions(res, opts.dynamic).map((id) => res.symbols[id].name) : [],
  }) : null;
  // With --as-needed, a library is needed only for references from what is kept (lld's rule).
  if (gc) neededFromLive(res, gc.live);
  // Which atoms go to which output section, in what order; merged strings and commons.
  const plan = planSections(res, opts.arch, gc ? (f, a) => gc.live[f][a] === 1 : () => true, gc ? (id) => gc.commons[id] === 1 : undefined);

  // Which references need GOT slots, which are relaxed.
  const got = scanRelocations(arch, res, plan, opts.dynamic?.shared ?? false);
  const gotAtom = addGotSection(plan, got, res.byName.has('_GLOBAL_OFFSET_TABLE_') || opts.dynamic !== null);
  // What the dynamic loader does: PLT entries, copies, dynamic relocations, the dynamic symbol table.
  const dyn = opts.dynamic ? planDynamic(arch, res, plan, got, opts.dynamic) : null;
  // Which references go to IFUNCs: a PLT entry each, its slot and the IRELATIVE record that fills it.
  const ifuncs = planIfuncs(arch, res, plan, dyn !== null);
  if (dyn) addDynamicSection(res, plan, dyn);
  const idSize = buildIdSize(opts.buildId);
  const idAtom = addBuildIdNote(plan, idSize);
  // The unwinder's index of FDEs, filled in once .eh_frame is relocated.
  const hdrAtom = opts.ehFrameHdr ? addEhFrameHdr(plan) : -1;

  // Range-extension thunk pools where a branch may not reach its target (AArch64 beyond 128 MiB).
  const thunks = planThunks(arch, res, plan, policy);
  // Beyond this point no atoms are added.

  // Addresses of every section and atom, so of every thunk slot.
  const layout = assignAddresses(plan, arch, policy, { pie: opts.dynamic?.pie ?? false, relro: opts.relro });
  const thunkSlots = locateThunks(arch, thunks, plan, layout);

  // Values of the symbols the linker defines.
  const syntheticNames = res.symbols.filter((g) => g.state === SymState.Synthetic).map((g) => g.name);
  const values = new SymbolValues(res, plan, layout, linkerSymbolValues(syntheticNames, layout));
  values.ifuncEntry = ifuncEntryLookup(arch, ifuncs, plan, layout);
  if (dyn) values.sharedAddress = (gid) => dynamicSymbolAddress(arch, dyn, plan, layout, gid);
  writeIfuncs(arch, ifuncs, plan, layout.atomAddr, (file, sym) => values.definitionAddress(file, sym));
  const gotAddr = gotAtom >= 0 ? layout.atomAddr[plan.internal][gotAtom] : 0;
  if (dyn) writeDynamic(arch, res, plan, layout, values, dyn, gotAddr);
  const ctx: RelocContext = {
    arch,
    files: plan.files,
    target: (file, sym, addend) => values.target(file, sym, addend),
    isUndefWeak: undefWeakIn(res, plan),
    isPreemptible: preemptibleIn(res, plan),
    sharedOutput: opts.dynamic?.shared ?? false,
    gotSlotAddr: (file, sym, kind) => {
      const slot = got.index.get(slotKey(res, plan, file, sym, kind));
      if (slot === undefined) throw new LinkError(`internal error: no GOT slot for ${plan.files[file].symbols[sym].name}`);
      return gotAddr + slot * 8;
    },
    tls: layout.tls,
    gotBase: gotAddr,
    relaxedAway: got.relaxedAway,
    thunkFor: (file, sym, addend, P) => useThunk(arch, thunkSlots, thunkKey(res, plan, file, sym, addend), P),
  };
  if (gotAtom >= 0) plan.files[plan.internal].atoms[gotAtom].data = gotContents(ctx, got.slots);

  // The file: tables, headers, then every atom copied and relocated in place.
  const tables = buildElfTables(res, plan, layout, values);
  const entry = entryAddress(res, values, opts.entry, warnings);
  const counters: WorkCounters = { atomsWritten: 0, relocsApplied: 0 };
  const writing: RelocContext = { ...ctx, target: rememberingTargets(values) };
  const idOffset = idAtom >= 0 ? fileOffsetOf(plan, layout, plan.internal, idAtom) + 16 : -1;
  const id = (digests: Uint8Array[]) => (opts.buildId.kind === 'hex' ? opts.buildId.bytes : buildIdFromChunks(digests, idSize));
  const hashChunks = opts.keepChunkDigests || idAtom >= 0;

  if (opts.stream && thunks.pools.length === 0 && atomsInFileOrder(layout)) {
    const write = (into: Uint8Array, base: number, addr: number, file: number, atom: Atom) => writeAtom(writing, into, base, addr, file, atom, counters);
    const pieces = elfHeaderPieces(arch, layout, tables, entry);
    const written = new Set<OutputSection>();
    if (hdrAtom >= 0) {
      // .eh_frame_hdr, which comes first in the file, indexes .eh_frame as relocated: hence .eh_frame ahead.
      const eh = ehFrameSection(layout);
      let relocated: Uint8Array | null = null;
      if (eh) {
        const bytes = sectionBytes(eh, plan, layout, write);
        written.add(eh);
        pieces.push({ offset: eh.offset, bytes });
        relocated = bytes.subarray(0, eh.used);
      }
      const hdr = plan.sections[plan.atomOut[plan.internal][hdrAtom]];
      pieces.push({ offset: hdr.offset, bytes: ehFrameHdrOf(layout, hdr, relocated) });
    }
    const digests = streamImage({
      size: tables.totalSize, layout, plan, trapFill: arch.trapFill, pieces, written, digests: hashChunks, writeAtom: write,
    }, opts.stream);
    // The build id last: it hashes everything else.
    if (idOffset >= 0) opts.stream.write(idOffset, id(digests));
    return {
      image: null, imageSize: tables.totalSize, warnings, counters, res, plan, layout, buildIdOffset: idOffset, buildIdSize: idSize,
      chunkDigests: opts.keepChunkDigests ? digests : [], got, gotAddr, tables, ctx, values, thunks, dynamic: dyn,
    };
  }

  const image = new Uint8Array(tables.totalSize);
  for (const sec of layout.sections) {
    if (sec.flags & SecFlag.Exec) fillPattern(image, sec.offset, sec.offset + sec.size, arch.trapFill);
  }
  for (const sec of layout.sections) {
    for (const ref of sec.atoms) {
      const addr = layout.atomAddr[ref.file][ref.atom];
      writeAtom(writing, image, sec.offset + (addr - sec.addr), addr, ref.file, plan.files[ref.file].atoms[ref.atom], counters);
    }
  }
  // The thunks the branches took, now that their targets have addresses.
  writeThunks(ctx, thunkSlots, image);
  if (hdrAtom >= 0) writeEhFrameHdr(image, layout, plan.sections[plan.atomOut[plan.internal][hdrAtom]]);
  writeElfHeaders(image, arch, layout, tables, entry);

  // The build id last: it hashes everything else.
  const digests = hashChunks ? chunkDigests(image) : [];
  if (idOffset >= 0) image.set(id(digests), idOffset);
  return {
    image, imageSize: image.length, warnings, counters, res, plan, layout, buildIdOffset: idOffset, buildIdSize: idSize, chunkDigests: digests,
    got, gotAddr, tables, ctx, values, thunks, dynamic: dyn,
  };
}

/** A section's bytes on their own (no trap fill: for a section without code), its atoms copied and relocated. */
function sectionBytes(sec: OutputSection, plan: SectionPlan, layout: Layout, write: (into: Uint8Array, base: number, addr: number, file: number, atom: Atom) => void): Uint8Array {
  const bytes = new Uint8Array(sec.size);
  for (const ref of sec.atoms) {
    const addr = layout.atomAddr[ref.file][ref.atom];
    write(bytes, addr - sec.addr, addr, ref.file, plan.files[ref.file].atoms[ref.atom]);
  }
  return bytes;
}

/** Where an atom lies in the file. */
function fileOffsetOf(plan: SectionPlan, layout: Layout, file: number, atom: number): number {
  const sec = plan.sections[plan.atomOut[file][atom]];
  return sec.offset + (layout.atomAddr[file][atom] - sec.addr);
}

/** --as-needed under --gc-sections: the libraries that non-weak references in kept atoms bind to. */
function neededFromLive(res: Resolution, live: Uint8Array[]): void {
  if (!res.sharedAsNeeded.some(Boolean)) return;
  res.sharedNeeded = res.sharedAsNeeded.map((asNeeded) => !asNeeded);
  res.files.forEach((file, f) => {
    for (const atom of file.atoms) {
      if (!live[f][atom.index]) continue;
      for (let k = 0; k < atom.relocs.length; k++) {
        const sym = atom.relocs.sym(k);
        if (sym < file.firstGlobal) continue;
        const g = res.symbols[res.globalIds[f][sym]];
        if (g.state === SymState.Shared && !g.weak) res.sharedNeeded[g.file] = true;
      }
    }
  });
}

/** The GOT, when any reference needs a slot (or the program names _GLOBAL_OFFSET_TABLE_). */
function addGotSection(plan: SectionPlan, got: GotPlan, named: boolean): number {
  if (got.slots.length === 0 && !named) return -1;
  const atom = addInternalAtom(plan.files[plan.internal], {
    name: '.got', kind: AtomKind.Data, flags: SecFlag.Alloc | SecFlag.Write | SecFlag.Fixed, align: 8,
    size: got.slots.length * 8, data: new Uint8Array(got.slots.length * 8), rawType: SHT.PROGBITS,
  });
  addSyntheticSection(plan, atom);
  return atom;
}

/** The .note.gnu.build-id note, its descriptor zero until the image is hashed. */
function addBuildIdNote(plan: SectionPlan, idSize: number): number {
  if (idSize === 0) return -1;
  const note = new Uint8Array(16 + ((idSize + 3) & ~3));
  const dv = new DataView(note.buffer);
  dv.setUint32(0, 4, true);
  dv.setUint32(4, idSize, true);
  dv.setUint32(8, NT_GNU_BUILD_ID, true);
  note.set([0x47, 0x4e, 0x55, 0], 12); // "GNU"
  const atom = addInternalAtom(plan.files[plan.internal], {
    name: '.note.gnu.build-id', kind: AtomKind.ROData, flags: SecFlag.Alloc | SecFlag.Note, align: 4,
    size: note.length, data: note, rawType: SHT.NOTE,
  });
  addSyntheticSection(plan, atom);
  return atom;
}

function ifuncEntryLookup(arch: Arch, ifuncs: IfuncPlan, plan: SectionPlan, layout: Layout): (key: string) => number | undefined {
  if (ifuncs.plt < 0) return () => undefined;
  const base = layout.atomAddr[plan.internal][ifuncs.plt];
  return (key) => {
    const i = ifuncs.index.get(key);
    return i === undefined ? undefined : base + i * arch.ipltEntrySize;
  };
}

function entryAddress(res: Resolution, values: SymbolValues, name: string, warnings: string[]): number {
  if (name === '') return 0; // a shared library without -e
  const id = res.byName.get(name);
  const addr = id === undefined ? undefined : values.globalAddress(res.symbols[id]);
  if (addr !== undefined) return addr;
  // Like GNU ld and lld, a number that names no symbol is the entry address itself.
  if (/^(0x[0-9a-fA-F]+|[0-9]+)$/.test(name)) return Number(name);
  warnings.push(`cannot find entry symbol ${name}; not setting start address`);
  return 0;
}
