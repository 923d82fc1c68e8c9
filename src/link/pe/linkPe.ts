import { AtomKind, SecFlag, SymPlace, type ArchName, type Atom, type ObjectFile, type ResourceEntry } from '../../obj/model.js';
import { LinkError, hex } from '../../obj/LinkError.js';
import { IMAGE_REL_AMD64, IMAGE_REL_ARM64, IMAGE_SCN } from '../../obj/readCoff.js';
import type { Arch } from '../arch/Arch.js';
import { x86_64Coff } from '../arch/x86_64Coff.js';
import { aarch64Coff } from '../arch/aarch64Coff.js';
import { PACKED, type PlacementPolicy } from '../layout.js';
import { addInternalAtom, insertIntoSection, planSections, type AtomRef, type SectionPlan } from '../outputSections.js';
import { writeAtom, type RelocContext, type WorkCounters } from '../relocate.js';
import { resolveSymbols, SymState, type LinkInput, type MemberLoader, type Resolution } from '../resolve.js';
import { SymbolValues } from '../symbols.js';
import { fillPattern } from '../padding.js';
import {
  DataDir, DllCharacteristics, Subsystem, encodeBaseRelocs, encodeExceptionTable, readRuntimeFunctions, stringTableSize, writePeHeaders,
} from '../../formats/pe/writePe.js';
import { assignPeAddresses, sectionAt, type PeLayout } from './layout.js';
import { markLive } from '../gcSections.js';
import { buildIdFromChunks, chunkDigests } from '../buildId.js';
import { directivesOf } from './directives.js';
import { buildResourceTree, readObjectResources, type ResourceTree } from '../../formats/pe/resources.js';
import { collectExports, exportTableSize, writeExportTable, type Export, type ExportSpec } from './exports.js';
import { PE_RULES, peOutputName, pins, shortImportKey } from './sections.js';

/**
 * The PE link, top to bottom: the same resolution, section planning and
 * relocation as ELF's (pipeline.ts), with PE's own section rules
 * (sections.ts), layout (layout.ts) and headers (formats/pe/writePe.ts).
 *
 * What is built: executables from COFF objects and static libraries,
 * including GNU import libraries (MinGW's `libkernel32.a`, `libmsvcrt.a`),
 * whose `.idata$N` sections form the import tables once ordered; base
 * relocations; the exception table; the TLS directory; MinGW's
 * constructor lists and the symbols its C runtime expects of the linker.
 * Short import libraries (lld-link's, llvm-dlltool's, Microsoft's) too:
 * their members are read as the stubs they stand for, and the link adds
 * each DLL's import descriptor. MinGW's auto-import of DLL data, with
 * runtime pseudo relocations (`autoImport`). Not yet: DLL outputs and
 * exports, ARM64 relocations, `.res` resource files.
 */

export interface PeLinkOptions {
  arch: ArchName;
  /** Entry symbol; '' for none. */
  entry: string;
  undefinedRoots: string[];
  subsystem: Subsystem;
  /** Preferred load address (lld-link's default for a 64-bit executable: 0x140000000). */
  imageBase: number;
  dynamicBase: boolean;
  highEntropyVa: boolean;
  nxCompat: boolean;
  terminalServerAware: boolean;
  /** Leave out DWARF (`-s`, `--strip-debug`). */
  stripDebug: boolean;
  stackReserve: number;
  stackCommit: number;
  heapReserve: number;
  heapCommit: number;
  osVersion: [number, number];
  subsystemVersion: [number, number];
  /** MajorImageVersion, MinorImageVersion (`/version:`, a .def file's VERSION). */
  imageVersion: [number, number];
  /**
   * MinGW's auto-import: a reference to NAME that nothing defines binds to
   * a DLL's `__imp_NAME` (lld's MinGW default; lld-link's is off).
   */
  autoImport: boolean;
  /** Runtime pseudo relocations for auto-imported references (`--disable-runtime-pseudo-reloc` turns them off). */
  runtimePseudoReloc: boolean;
  /** A DLL rather than an executable. */
  dll: boolean;
  /** The name the export directory and import library give the image (`foo.dll`). */
  dllName: string;
  /** Exports named on the command line or in a module-definition file; the objects' directives add theirs. */
  exports: ExportSpec[];
  /** MinGW: a DLL that names no export exports every global of its own objects. */
  exportAll: boolean;
  /** `/opt:ref`, `--gc-sections`: keep only what the entry, the exports and `/include:` reach. */
  gcSections: boolean;
  /** `/alternatename:FROM=TO` on the command line (objects' directives add theirs). */
  alternateNames: Array<[string, string]>;
  /**
   * A `.buildid` section: a debug directory entry with a CodeView record
   * whose GUID is a hash of the image (lld's, with debug info kept).
   */
  buildId: boolean;
}

export const PE_DEFAULTS: Omit<PeLinkOptions, 'arch' | 'entry' | 'undefinedRoots'> = {
  subsystem: Subsystem.WindowsCui,
  imageBase: 0x140000000,
  dynamicBase: true,
  highEntropyVa: true,
  nxCompat: true,
  terminalServerAware: true,
  stripDebug: false,
  stackReserve: 0x100000,
  stackCommit: 0x1000,
  heapReserve: 0x100000,
  heapCommit: 0x1000,
  osVersion: [6, 0],
  subsystemVersion: [6, 0],
  imageVersion: [0, 0],
  autoImport: true,
  runtimePseudoReloc: true,
  dll: false,
  dllName: 'a.exe',
  exports: [],
  exportAll: false,
  gcSections: false,
  alternateNames: [],
  buildId: false,
};

export interface PeLinkResult {
  image: Uint8Array;
  warnings: string[];
  counters: WorkCounters;
  res: Resolution;
  plan: SectionPlan;
  layout: PeLayout;
  values: SymbolValues;
  ctx: RelocContext;
  /** RVAs of the image's base relocations. */
  baseRelocs: number[];
  /** What the image exports, sorted by name. */
  exports: Export[];
  /** The build id's place in the image (-1: none), its size, and the chunk digests it was made from. */
  buildIdOffset: number;
  buildIdSize: number;
  chunkDigests: Uint8Array[] | null;
}

/** Names the linker defines for a PE image when something refers to them (lld-link's, MinGW's). */
const LINKER_DEFINED = new Set([
  '__ImageBase', '__image_base__', '__RUNTIME_PSEUDO_RELOC_LIST__', '__RUNTIME_PSEUDO_RELOC_LIST_END__',
  '__CTOR_LIST__', '__DTOR_LIST__', '__data_start__', '__data_end__', '__bss_start__', '__bss_end__',
]);

/**
 * Defined before any input is read, as lld does: libgcc's `_ctors.o` also
 * defines the constructor lists (for GNU ld scripts that do not), and must
 * not be loaded for them.
 */
const PREDEFINED = ['__ImageBase', '__CTOR_LIST__', '__DTOR_LIST__', '__RUNTIME_PSEUDO_RELOC_LIST__', '__RUNTIME_PSEUDO_RELOC_LIST_END__'];

export function isPeLinkerDefined(name: string): boolean {
  return LINKER_DEFINED.has(name);
}

export function coffArchFor(name: ArchName): Arch {
  return name === 'x86_64' ? x86_64Coff : aarch64Coff;
}

export function linkPe(inputs: readonly LinkInput[], loadMember: MemberLoader, opts: PeLinkOptions, policy: PlacementPolicy = PACKED): PeLinkResult {
  const arch = coffArchFor(opts.arch);
  const warnings: string[] = [];
  for (const input of inputs) {
    if (input.kind === 'shared') throw new LinkError(`${input.lib.name}: an ELF shared library cannot be linked into a PE image`);
    if (input.kind === 'object') checkInput(input.file, opts.arch);
  }
  const checkedLoad: MemberLoader = (archive, m) => checkInput(loadMember(archive, m), opts.arch);

  // Which definition each name binds to; which archive members (import stubs among them) are pulled in.
  const roots = [...(opts.entry ? [opts.entry] : []), ...opts.undefinedRoots, ...opts.exports.flatMap((e) => (e.forward ? [] : [e.internal ?? e.name]))];
  const alternates = new AlternateNames(opts.alternateNames);
  const res = resolveSymbols(inputs, checkedLoad, isPeLinkerDefined, roots, PREDEFINED, {
    fileRoots: (file) => directivesOf(file).includes,
    // A name nothing defines: its alternate name's member, else (MinGW) the DLL import's.
    fallbackName: (name, r) => alternates.of(name, r) ?? (opts.autoImport ? `__imp_${name}` : undefined),
  });
  alternates.bind(res);
  alignCommons(res);
  const autoImported = opts.autoImport ? autoImport(res) : new Map<number, number>();
  const localImports = bindLocalImports(res, warnings);
  checkUndefined(res, opts.autoImport);
  const exports = collectExports(res, opts.exports, opts.dll && opts.exportAll);

  // Output sections by PE's rules. CodeView (`.debug$S`, `.debug$T`) belongs in a PDB, which tslink does not write.
  // /opt:ref: the core's collection (gcSections.ts). Sections that are not COMDAT are roots (the COFF
  // reader marks them Retain), as in lld-link; a COMDAT lives with what refers to it, with its associates.
  const gc = opts.gcSections
    ? markLive(res, { entry: opts.entry, undefinedRoots: opts.undefinedRoots, extraRoots: exports.flatMap((e) => (e.id >= 0 ? [res.symbols[e.id].name] : [])) })
    : null;
  const called = importThunksCalled(res);
  const resources = mergedResources(res);
  const plan = planSections(res, opts.arch, (f, a) => (!gc || gc.live[f][a] === 1) && keepAtom(res, f, a, opts, called)
    && !(resources?.replaced.has(res.files[f]) && res.files[f].atoms[a].name.startsWith('.rsrc')),
    gc ? (id) => gc.commons[id] === 1 : undefined, PE_RULES);
  const ctors = addConstructorLists(plan, res);
  const descriptors = addImportDescriptors(plan);
  const resourceAtoms = resources ? addResourceTree(plan, resources.entries) : null;
  const pseudo = pseudoRelocations(res, plan, autoImported, opts.runtimePseudoReloc);
  const exportAtom = exports.length
    ? addPinned(plan, { name: '.edata', size: exportTableSize(exports, opts.dllName), align: 4 }, '.edata', 0) : -1;
  const pseudoAtom = pseudo.length ? addPinned(plan, { name: '.rdata', size: 12 + 12 * pseudo.length, align: 4 }, '.rdata', 1) : -1;
  if (plan.sections.some((s) => s.atoms.some((r) => plan.files[r.file].atoms[r.atom].name.startsWith('.idata$')))) {
    // The import directory ends with a null entry (lld adds it after the last `.idata$2`).
    addPinned(plan, { name: '.idata$2', size: 20, align: 4 }, '.idata$2', 1);
  }
  const localImportAtoms = localImports.map(() => addPinned(plan, { name: '.rdata', size: 8, align: 8 }, '.rdata', 1));
  const buildIdAtom = opts.buildId ? addPinned(plan, { name: '.buildid', size: DEBUG_DIRECTORY_SIZE + CODEVIEW_SIZE, align: 4 }, '.buildid', 0) : -1;
  const relocAtom = addPinned(plan, { name: '.reloc', size: 0, align: 4 }, '.reloc', 1);

  // Addresses; the base relocations are listed once what precedes `.reloc` is placed.
  const baseRelocs: number[] = [];
  const layout = assignPeAddresses(plan, policy, opts.imageBase, (atomAddr) => {
    collectBaseRelocs(arch, res, plan, atomAddr, opts.imageBase, baseRelocs);
    for (const a of localImportAtoms) baseRelocs.push(atomAddr[plan.internal][a] - opts.imageBase);
    const a = plan.files[plan.internal].atoms[relocAtom];
    a.data = encodeBaseRelocs(baseRelocs);
    a.size = a.data.length;
  });

  for (const d of descriptors) writeImportDescriptor(plan, layout, d, opts.imageBase);
  if (resourceAtoms) {
    // Each data entry's first field: the RVA of its data.
    const tree = plan.files[plan.internal].atoms[resourceAtoms.tree].data!;
    const data = layout.atomAddr[plan.internal][resourceAtoms.data] - opts.imageBase;
    for (const f of resourceAtoms.fixups) new DataView(tree.buffer, tree.byteOffset).setUint32(f.at, data + f.dataOffset, true);
  }
  if (pseudoAtom >= 0) writePseudoRelocations(res, plan, layout, pseudoAtom, pseudo, opts.imageBase);

  const synthetic = linkerSymbolValues(res, plan, layout, ctors, pseudoAtom);
  localImports.forEach(([imp], k) => synthetic.set(res.symbols[imp].name, layout.atomAddr[plan.internal][localImportAtoms[k]]));
  const values = new SymbolValues(res, plan, layout, synthetic);
  localImports.forEach(([, target], k) => {
    const data = plan.files[plan.internal].atoms[localImportAtoms[k]].data!;
    new DataView(data.buffer, data.byteOffset).setBigUint64(0, BigInt(values.globalAddress(res.symbols[target])!), true);
  });
  const rva = (addr: number) => addr - opts.imageBase;
  if (exportAtom >= 0) {
    const at = layout.atomAddr[plan.internal][exportAtom];
    writeExportTable(plan.files[plan.internal].atoms[exportAtom].data!, rva(at), exports, opts.dllName, (e) => rva(values.globalAddress(res.symbols[e.id])!));
  }
  const sectionStarts = layout.sections.map((s) => s.addr);
  const ctx: RelocContext = {
    arch,
    files: plan.files,
    target: (file, sym, addend) => values.target(file, sym, addend),
    isUndefWeak: () => false,
    isPreemptible: () => false,
    sharedOutput: false,
    gotSlotAddr: () => { throw new LinkError('internal error: a PE image has no GOT'); },
    tls: null,
    gotBase: 0,
    imageBase: opts.imageBase,
    outputSectionOf: (addr) => sectionAt(sectionStarts, addr),
  };

  const strtab = stringTableSize(layout);
  const image = new Uint8Array(layout.fileEnd + strtab);
  const counters: WorkCounters = { atomsWritten: 0, relocsApplied: 0 };
  for (const p of layout.peSections) {
    if (p.characteristics & IMAGE_SCN.CNT_CODE) fillPattern(image, p.sec.offset, p.sec.offset + p.rawSize, arch.trapFill);
    for (const ref of p.sec.atoms) {
      const atom = plan.files[ref.file].atoms[ref.atom];
      if (atom.flags & SecFlag.NoBits) continue;
      const addr = layout.atomAddr[ref.file][ref.atom];
      writeAtom(ctx, image, p.sec.offset + (addr - p.sec.addr), addr, ref.file, atom, counters);
    }
  }
  sortExceptionTable(image, layout, opts.arch);

  const directories = new Map<DataDir, { rva: number; size: number }>();
  if (exportAtom >= 0) {
    directories.set(DataDir.Export, { rva: rva(layout.atomAddr[plan.internal][exportAtom]), size: plan.files[plan.internal].atoms[exportAtom].size });
  }
  const imports = atomRange(plan, layout, (a) => a.name === '.idata$2');
  if (imports) directories.set(DataDir.Import, { rva: rva(imports.start), size: imports.end - imports.start });
  const iat = atomRange(plan, layout, (a) => a.name === '.idata$5');
  if (iat) directories.set(DataDir.IAT, { rva: rva(iat.start), size: iat.end - iat.start });
  const pdata = layout.sections.find((s) => s.name === '.pdata');
  if (pdata) directories.set(DataDir.Exception, { rva: rva(pdata.addr), size: pdata.used });
  // Resources: windres's and cvtres's `.rsrc$01` (the directory tree) and `.rsrc$02` (the data) make one `.rsrc`.
  const rsrc = layout.sections.find((s) => s.name === '.rsrc');
  if (rsrc && rsrc.used) directories.set(DataDir.Resource, { rva: rva(rsrc.addr), size: rsrc.used });
  const reloc = layout.sections.find((s) => s.name === '.reloc');
  if (reloc && reloc.used) directories.set(DataDir.BaseReloc, { rva: rva(reloc.addr), size: reloc.used });
  let guidOffset = -1;
  if (buildIdAtom >= 0) {
    const at = layout.atomAddr[plan.internal][buildIdAtom];
    const off = fileOffsetOf(layout, at);
    writeCodeViewDirectory(image, off, rva(at), off + DEBUG_DIRECTORY_SIZE);
    guidOffset = off + DEBUG_DIRECTORY_SIZE + 4;
    directories.set(DataDir.Debug, { rva: rva(at), size: DEBUG_DIRECTORY_SIZE });
  }
  const tlsUsed = definedAddress(res, values, '_tls_used');
  if (tlsUsed !== undefined) directories.set(DataDir.TLS, { rva: rva(tlsUsed), size: 40 });
  const loadConfig = definedAddress(res, values, '_load_config_used');
  if (loadConfig !== undefined) {
    const off = fileOffsetOf(layout, loadConfig);
    directories.set(DataDir.LoadConfig, { rva: rva(loadConfig), size: off >= 0 ? new DataView(image.buffer).getUint32(off, true) : 0 });
  }

  const entry = entryAddress(res, values, opts.entry);
  writePeHeaders(image, layout, {
    arch: opts.arch, dll: opts.dll, entryRva: entry ? rva(entry) : 0, subsystem: opts.subsystem,
    // lld 14 sets HIGH_ENTROPY_VA whether or not the image is relocatable; so does tslink.
    dllCharacteristics: (opts.highEntropyVa ? DllCharacteristics.HighEntropyVa : 0)
      | (opts.dynamicBase ? DllCharacteristics.DynamicBase : 0) | (opts.nxCompat ? DllCharacteristics.NxCompat : 0)
      | (opts.terminalServerAware ? DllCharacteristics.TerminalServerAware : 0),
    osVersion: opts.osVersion, subsystemVersion: opts.subsystemVersion, imageVersion: opts.imageVersion,
    stackReserve: opts.stackReserve, stackCommit: opts.stackCommit, heapReserve: opts.heapReserve, heapCommit: opts.heapCommit,
    timestamp: 0, directories,
  }, layout.fileEnd);
  // The build id last, over the whole image with its own 16 bytes zero (what a patch recomputes from changed chunks).
  let digests: Uint8Array[] | null = null;
  if (guidOffset >= 0) {
    digests = chunkDigests(image);
    image.set(buildIdFromChunks(digests, 16), guidOffset);
  }
  return {
    image, warnings, counters, res, plan, layout, values, ctx, baseRelocs, exports,
    buildIdOffset: guidOffset, buildIdSize: guidOffset >= 0 ? 16 : 0, chunkDigests: digests,
  };
}

function checkInput(file: ObjectFile, arch: ArchName): ObjectFile {
  if (file.format !== 'coff') throw new LinkError(`${file.name}: an ${file.format.toUpperCase()} object cannot be linked into a PE image`);
  if (file.arch !== arch) throw new LinkError(`${file.name} is incompatible with ${arch} (it is ${file.arch})`);
  return file;
}

function keepAtom(res: Resolution, f: number, a: number, opts: PeLinkOptions, called: ReadonlySet<string>): boolean {
  const file = res.files[f];
  const atom = file.atoms[a];
  if (atom.name.startsWith('.debug$')) return false;
  if (opts.stripDebug && atom.kind === AtomKind.Debug) return false;
  // A short import's thunk only if something calls the function by its own name (not through __imp_), as in lld.
  if (file.dllImport && atom.kind === AtomKind.Code) return called.has(file.dllImport.symbol);
  return true;
}

/** The names of short imports' functions that some object refers to by name: their thunks are linked. */
function importThunksCalled(res: Resolution): Set<string> {
  const imported = new Set<string>();
  for (const f of res.files) if (f.dllImport) imported.add(f.dllImport.symbol);
  const called = new Set<string>();
  if (imported.size === 0) return called;
  for (const f of res.files) {
    for (let i = f.firstGlobal; i < f.symbols.length; i++) {
      const s = f.symbols[i];
      if (s.atom === SymPlace.Undefined && imported.has(s.name)) called.add(s.name);
    }
  }
  return called;
}

/** Strong references nothing defines, with the files that make them (lld's "undefined symbol" error). */
function checkUndefined(res: Resolution, autoImport: boolean): void {
  const lines: string[] = [];
  for (const g of res.symbols) {
    if ((g.state !== SymState.Undefined && g.state !== SymState.Lazy) || g.weak) continue;
    if (g.referencedBy.length === 0) continue;
    const hint = !autoImport && !g.name.startsWith('__imp_') && res.byName.has(`__imp_${g.name}`)
      ? ' (a DLL exports it: declare it __declspec(dllimport), or link in MinGW mode, which imports it automatically)' : '';
    lines.push(`undefined symbol: ${g.name} (referenced by ${g.referencedBy.map((f) => res.files[f].name).join(', ')})${hint}`);
    if (lines.length === 20) break;
  }
  if (lines.length) throw new LinkError(lines.join('\n'));
}

const DEBUG_DIRECTORY_SIZE = 28;
/** 'RSDS', the GUID, the age, an empty PDB name. */
const CODEVIEW_SIZE = 4 + 16 + 4 + 1;

/** IMAGE_DEBUG_DIRECTORY (type 2, CodeView) and its RSDS record right after it; the GUID is filled in last. */
function writeCodeViewDirectory(image: Uint8Array, off: number, rva: number, recordOff: number): void {
  const dv = new DataView(image.buffer, image.byteOffset, image.byteLength);
  dv.setUint32(off + 12, 2, true);
  dv.setUint32(off + 16, CODEVIEW_SIZE, true);
  dv.setUint32(off + 20, rva + DEBUG_DIRECTORY_SIZE, true);
  dv.setUint32(off + 24, recordOff, true);
  image.set([0x52, 0x53, 0x44, 0x53], recordOff); // RSDS
  dv.setUint32(recordOff + 20, 1, true); // age
}

/** An internal atom at a pinned place among the inputs of `sortName`'s output section. */
function addPinned(
  plan: SectionPlan, a: { name: string; size: number; align: number; data?: Uint8Array }, sortName: string, side: -1 | 0 | 1, lib?: string,
): number {
  const internal = plan.files[plan.internal];
  const index = addInternalAtom(internal, {
    name: a.name, kind: AtomKind.ROData, flags: SecFlag.Alloc, align: a.align, size: a.size,
    data: a.data ?? new Uint8Array(a.size), rawType: IMAGE_SCN.CNT_INITIALIZED_DATA | IMAGE_SCN.MEM_READ,
  });
  const atom = internal.atoms[index];
  pins.set(atom, { sortName, side, lib });
  const out = peOutputName(a.name);
  let sec = plan.sections.findIndex((s) => s.name === out);
  if (sec < 0) {
    sec = plan.sections.length;
    plan.sections.push({
      name: out, kind: atom.kind, flags: atom.flags, rawType: atom.rawType, entSize: 0,
      rank: PE_RULES.rank(out, atom.flags), atoms: [], align: 1, addr: 0, offset: 0, size: 0, used: 0,
    });
  }
  insertIntoSection(plan, sec, plan.sections[sec].atoms.length, index);
  PE_RULES.order!(plan.sections[sec], plan.files);
  return index;
}

/** One DLL's import descriptor, for the short import members that import from it. */
interface ImportDescriptor {
  /** Internal atoms: the descriptor and the DLL's name. */
  descriptor: number;
  name: number;
  /** The DLL's lookup and address table entries (the first placed begins the table). */
  lookup: AtomRef[];
  addresses: AtomRef[];
}

/**
 * Short import members (obj/coffImport.ts) bring their table entries; for
 * each DLL they import from, the link adds what a GNU import library's head
 * and tail members hold, as lld-link does: the import descriptor (`.idata$2`,
 * filled in once the tables are placed), the null entries that end the DLL's
 * lookup and address tables, and the DLL's name.
 */
function addImportDescriptors(plan: SectionPlan): ImportDescriptor[] {
  const byDll = new Map<string, ImportDescriptor>();
  for (let f = 0; f < plan.internal; f++) {
    const imp = plan.files[f].dllImport;
    if (!imp || !plan.atomOut[f].some((sec) => sec >= 0)) continue;
    const key = imp.dll.toLowerCase();
    let d = byDll.get(key);
    if (!d) {
      const last = shortImportKey(imp.dll, true);
      const dllName = new TextEncoder().encode(`${imp.dll}\0`);
      d = {
        descriptor: addPinned(plan, { name: '.idata$2', size: 20, align: 4 }, '.idata$2', 0, shortImportKey(imp.dll, false)),
        name: addPinned(plan, { name: '.idata$7', size: dllName.length, align: 2, data: dllName }, '.idata$7', 0, last),
        lookup: [{ file: plan.internal, atom: addPinned(plan, { name: '.idata$4', size: 8, align: 8 }, '.idata$4', 0, last) }],
        addresses: [{ file: plan.internal, atom: addPinned(plan, { name: '.idata$5', size: 8, align: 8 }, '.idata$5', 0, last) }],
      };
      byDll.set(key, d);
    }
    plan.files[f].atoms.forEach((a, i) => {
      if (plan.atomOut[f][i] < 0) return;
      if (a.name === '.idata$4') d!.lookup.push({ file: f, atom: i });
      if (a.name === '.idata$5') d!.addresses.push({ file: f, atom: i });
    });
  }
  return [...byDll.values()];
}

/**
 * The image's resources, when they come from more than one place: `.res`
 * inputs (formats/pe/resources.ts), or several objects with resource
 * sections (windres's output). All their entries are merged into one tree,
 * as lld merges them (a duplicate is an error); the objects' own resource
 * sections are then left out (`replaced`). Null when at most one object has
 * resources and there is no `.res`: its section is linked as it is.
 */
function mergedResources(res: Resolution): { entries: ResourceEntry[]; replaced: Set<ObjectFile> } | null {
  const resFiles = res.files.filter((f) => f.resources);
  const withSection = res.files.filter((f, i) => !f.dllImport && f.atoms.some((a, k) => a.name.startsWith('.rsrc') && !res.discarded[i][k]));
  if (resFiles.length === 0 && withSection.length <= 1) return null;
  const entries = resFiles.flatMap((f) => f.resources!);
  for (const f of withSection) entries.push(...(readObjectResources(f) ?? []));
  return { entries, replaced: new Set(withSection) };
}

/** The merged resources: `.rsrc$01` (the tree) and `.rsrc$02` (the data), internal atoms, as lld lays them out. */
function addResourceTree(plan: SectionPlan, entries: readonly ResourceEntry[]): { fixups: ResourceTree['fixups']; tree: number; data: number } {
  const built = buildResourceTree(entries);
  return {
    fixups: built.fixups,
    tree: addPinned(plan, { name: '.rsrc$01', size: built.tree.length, align: 8, data: built.tree }, '.rsrc$01', 0),
    data: addPinned(plan, { name: '.rsrc$02', size: built.data.length, align: 8, data: built.data }, '.rsrc$02', 0),
  };
}

/** IMAGE_IMPORT_DESCRIPTOR: lookup table RVA, time stamp, forwarder chain, name RVA, address table RVA. */
function writeImportDescriptor(plan: SectionPlan, layout: PeLayout, d: ImportDescriptor, imageBase: number): void {
  const start = (refs: AtomRef[]) => refs.reduce((m, r) => Math.min(m, layout.atomAddr[r.file][r.atom]), Infinity) - imageBase;
  const internal = plan.internal;
  const view = new DataView(plan.files[internal].atoms[d.descriptor].data!.buffer);
  view.setUint32(0, start(d.lookup), true);
  view.setUint32(12, layout.atomAddr[internal][d.name] - imageBase, true);
  view.setUint32(16, start(d.addresses), true);
}

/**
 * MinGW's auto-import (lld's handleMinGWAutomaticImport): a strong
 * reference to NAME that nothing defined binds to `__imp_NAME`, a DLL's
 * import address table entry, when an import library defines it (the
 * resolution has loaded that member). Code and data that refer to NAME
 * then hold the entry's address; the C runtime's relocator turns it into
 * the variable's when the program starts, from the runtime pseudo
 * relocations listed for each such place (`pseudoRelocations`).
 *
 * `.refptr.NAME`, the pointer clang and gcc reach possibly imported data
 * through, is the entry itself when it holds nothing but NAME's address:
 * it binds to `__imp_NAME`, its own atom is dropped, and the loader fills
 * it in; no pseudo relocation is needed.
 *
 * Returns the auto-imported globals: id -> the `__imp_` global's id.
 */
function autoImport(res: Resolution): Map<number, number> {
  const out = new Map<number, number>();
  for (let id = 0; id < res.symbols.length; id++) {
    const g = res.symbols[id];
    if ((g.state !== SymState.Undefined && g.state !== SymState.Lazy) || g.weak || g.referencedBy.length === 0) continue;
    if (g.name.startsWith('__imp_')) continue;
    const impId = res.byName.get(`__imp_${g.name}`);
    const imp = impId === undefined ? undefined : res.symbols[impId];
    if (!imp || imp.state !== SymState.Defined) continue;
    g.state = SymState.Defined;
    g.file = imp.file;
    g.sym = imp.sym;
    out.set(id, impId!);

    const refId = res.byName.get(`.refptr.${g.name}`);
    const ref = refId === undefined ? undefined : res.symbols[refId];
    if (!ref || ref.state !== SymState.Defined) continue;
    const s = res.files[ref.file].symbols[ref.sym];
    const atom = s.atom >= 0 ? res.files[ref.file].atoms[s.atom] : undefined;
    if (!atom || atom.size !== 8 || s.value !== 0 || atom.relocs.length !== 1) continue;
    const r = atom.relocs.at(0);
    if (r.offset !== 0 || r.addend !== 0 || r.sym < res.files[ref.file].firstGlobal || res.globalIds[ref.file][r.sym] !== id) continue;
    res.discarded[ref.file][s.atom] = 1;
    ref.file = imp.file;
    ref.sym = imp.sym;
  }
  return out;
}

/**
 * `/alternatename:FROM=TO` (the command line's, then the objects'
 * directives, the first for each FROM): a FROM that nothing defines is TO,
 * as a COFF weak external is its default. The resolution loads TO's member
 * for a FROM left undefined (`of`); `bind` then binds FROM.
 */
class AlternateNames {
  private readonly map = new Map<string, string>();
  private filesSeen = 0;

  constructor(given: ReadonlyArray<[string, string]>) {
    for (const [from, to] of given) if (!this.map.has(from)) this.map.set(from, to);
  }

  of(name: string, res: Resolution): string | undefined {
    for (; this.filesSeen < res.files.length; this.filesSeen++) {
      for (const [from, to] of directivesOf(res.files[this.filesSeen]).alternateNames) if (!this.map.has(from)) this.map.set(from, to);
    }
    return this.map.get(name);
  }

  bind(res: Resolution): void {
    this.of('', res);
    for (const [from, to] of this.map) {
      const id = res.byName.get(from);
      const t = res.byName.get(to);
      if (id === undefined || t === undefined) continue;
      const g = res.symbols[id];
      // Followed through chains of alternate names, as far as something defines one.
      let d = res.symbols[t];
      for (let hops = 0; hops < 64 && d.state !== SymState.Defined && this.map.has(d.name); hops++) {
        const next = res.byName.get(this.map.get(d.name)!);
        if (next === undefined) break;
        d = res.symbols[next];
      }
      if ((g.state !== SymState.Undefined && g.state !== SymState.Lazy) || d.state !== SymState.Defined) continue;
      g.state = SymState.Defined;
      g.file = d.file;
      g.sym = d.sym;
    }
  }
}

/** gcc's `-aligncomm:NAME,N`: the common symbol NAME is aligned to at least 2^N. */
function alignCommons(res: Resolution): void {
  for (const f of res.files) {
    for (const [name, align] of directivesOf(f).alignComm) {
      const id = res.byName.get(name);
      if (id !== undefined && res.symbols[id].state === SymState.Common) res.symbols[id].commonAlign = Math.max(res.symbols[id].commonAlign, align);
    }
  }
}

/**
 * `__imp_NAME` where the image itself defines NAME: code compiled with a
 * dllimport declaration, linked with the definition instead of a DLL. As
 * lld does, the link makes the pointer the import would have been (an
 * 8-byte `.rdata` atom holding NAME's address) and warns (LNK4217).
 * Returns [the `__imp_` global, NAME's global] pairs; the `__imp_` globals
 * are now linker-defined.
 */
function bindLocalImports(res: Resolution, warnings: string[]): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let id = 0; id < res.symbols.length; id++) {
    const g = res.symbols[id];
    if ((g.state !== SymState.Undefined && g.state !== SymState.Lazy) || g.referencedBy.length === 0 || !g.name.startsWith('__imp_')) continue;
    const target = res.byName.get(g.name.slice(6));
    const t = target === undefined ? undefined : res.symbols[target];
    if (!t || (t.state !== SymState.Defined && t.state !== SymState.Common)) continue;
    g.state = SymState.Synthetic;
    out.push([id, target!]);
    const users = g.referencedBy.map((f) => res.files[f].name).join(', ');
    warnings.push(`${users}: locally defined symbol imported: ${t.name} (defined in ${res.files[t.file].name}) [LNK4217]`);
  }
  return out;
}

/** A place that refers to an auto-imported global: the runtime relocator adds the variable's distance from the IAT entry. */
interface PseudoRelocation {
  place: AtomRef;
  offset: number;
  /** The `__imp_` global whose entry the place refers to. */
  imp: number;
  bits: 32 | 64;
}

/** Every kept place that refers to an auto-imported global (lld: getRuntimePseudoRelocs). */
function pseudoRelocations(res: Resolution, plan: SectionPlan, autoImported: Map<number, number>, allowed: boolean): PseudoRelocation[] {
  const out: PseudoRelocation[] = [];
  if (autoImported.size === 0) return out;
  forEachMappedInput(plan, (ref, file, atom) => {
    for (const r of atom.relocs) {
      if (r.sym < file.firstGlobal) continue;
      const id = res.globalIds[ref.file][r.sym];
      const imp = autoImported.get(id);
      if (imp === undefined) continue;
      const name = res.symbols[id].name;
      const where = `${file.name}(${atom.name}+${hex(r.offset)})`;
      if (!allowed) throw new LinkError(`automatic import of ${name} in ${where} needs runtime pseudo relocations, which --disable-runtime-pseudo-reloc turns off`);
      const bits = PSEUDO_BITS[file.arch].get(r.type);
      if (bits === undefined) {
        throw new LinkError(`${where}: cannot import ${name} automatically from a DLL through relocation type ${hex(r.type)}: declare it __declspec(dllimport)`);
      }
      out.push({ place: ref, offset: r.offset, imp, bits });
    }
  });
  return out;
}

/** The relocations a pseudo relocation can follow, and its width (on ARM64, as in lld, only data). */
const PSEUDO_BITS: Record<ArchName, Map<number, 32 | 64>> = {
  x86_64: new Map<number, 32 | 64>([
    [IMAGE_REL_AMD64.ADDR64, 64], [IMAGE_REL_AMD64.ADDR32, 32], [IMAGE_REL_AMD64.REL32, 32], [IMAGE_REL_AMD64.REL32_1, 32],
    [IMAGE_REL_AMD64.REL32_2, 32], [IMAGE_REL_AMD64.REL32_3, 32], [IMAGE_REL_AMD64.REL32_4, 32], [IMAGE_REL_AMD64.REL32_5, 32],
  ]),
  aarch64: new Map<number, 32 | 64>([[IMAGE_REL_ARM64.ADDR64, 64], [IMAGE_REL_ARM64.ADDR32, 32]]),
};

/**
 * The list MinGW's `_pei386_runtime_relocator` walks, from
 * `__RUNTIME_PSEUDO_RELOC_LIST__` to `__RUNTIME_PSEUDO_RELOC_LIST_END__`:
 * a version 2 header (0, 0, 1), then per place the RVA of the IAT entry,
 * the RVA of the place and its width in bits.
 */
function writePseudoRelocations(res: Resolution, plan: SectionPlan, layout: PeLayout, atom: number, list: PseudoRelocation[], imageBase: number): void {
  const data = plan.files[plan.internal].atoms[atom].data!;
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  view.setUint32(8, 1, true);
  list.forEach((p, i) => {
    const imp = res.symbols[p.imp];
    const s = res.files[imp.file].symbols[imp.sym];
    view.setUint32(12 + 12 * i, layout.atomAddr[imp.file][s.atom] + s.value - imageBase, true);
    view.setUint32(16 + 12 * i, layout.atomAddr[p.place.file][p.place.atom] + p.offset - imageBase, true);
    view.setUint32(20 + 12 * i, p.bits, true);
  });
}

interface ConstructorLists { ctors: number; dtors: number }

/**
 * MinGW's C runtime walks `__CTOR_LIST__` and `__DTOR_LIST__`: a -1 (or a
 * count), the function pointers, then 0. GNU ld's script and lld in MinGW
 * mode put the -1 before every `.ctors` input and the 0 after; so does
 * tslink, when the runtime refers to the lists.
 */
function addConstructorLists(plan: SectionPlan, res: Resolution): ConstructorLists {
  const lists: ConstructorLists = { ctors: -1, dtors: -1 };
  for (const kind of ['ctors', 'dtors'] as const) {
    const name = kind === 'ctors' ? '__CTOR_LIST__' : '__DTOR_LIST__';
    const id = res.byName.get(name);
    if (id === undefined || res.symbols[id].state !== SymState.Synthetic || !isReferenced(res, name)) continue;
    const minusOne = new Uint8Array(8).fill(0xff);
    lists[kind] = addPinned(plan, { name: `.${kind}`, size: 8, align: 8, data: minusOne }, `.${kind}`, -1);
    addPinned(plan, { name: `.${kind}`, size: 8, align: 8 }, `.${kind}\uffff`, 1);
  }
  return lists;
}

function isReferenced(res: Resolution, name: string): boolean {
  return res.files.some((f) => {
    for (let i = f.firstGlobal; i < f.symbols.length; i++) if (f.symbols[i].name === name && f.symbols[i].atom === SymPlace.Undefined) return true;
    return false;
  });
}

function linkerSymbolValues(res: Resolution, plan: SectionPlan, layout: PeLayout, ctors: ConstructorLists, pseudoAtom: number): Map<string, number> {
  const out = new Map<string, number>();
  const data = layout.peSections.find((p) => p.sec.name === '.data');
  const rdata = layout.sections.find((s) => s.name === '.rdata');
  const firstBss = (() => {
    if (!data) return undefined;
    const r = data.sec.atoms.find((ref) => plan.files[ref.file].atoms[ref.atom].flags & SecFlag.NoBits);
    return r ? layout.atomAddr[r.file][r.atom] : undefined;
  })();
  for (const g of res.symbols) {
    if (g.state !== SymState.Synthetic) continue;
    let v: number | undefined;
    switch (g.name) {
      case '__ImageBase': case '__image_base__': v = layout.imageBase; break;
      // The runtime pseudo relocations (none: an empty list).
      case '__RUNTIME_PSEUDO_RELOC_LIST__': case '__RUNTIME_PSEUDO_RELOC_LIST_END__':
        if (pseudoAtom < 0) v = rdata?.addr ?? layout.imageBase;
        else {
          v = layout.atomAddr[plan.internal][pseudoAtom];
          if (g.name.endsWith('END__')) v += plan.files[plan.internal].atoms[pseudoAtom].size;
        }
        break;
      case '__CTOR_LIST__': v = ctors.ctors >= 0 ? layout.atomAddr[plan.internal][ctors.ctors] : undefined; break;
      case '__DTOR_LIST__': v = ctors.dtors >= 0 ? layout.atomAddr[plan.internal][ctors.dtors] : undefined; break;
      case '__data_start__': v = data?.sec.addr; break;
      case '__data_end__': v = firstBss ?? (data ? data.sec.addr + data.sec.used : undefined); break;
      case '__bss_start__': v = firstBss ?? (data ? data.sec.addr + data.sec.used : undefined); break;
      case '__bss_end__': v = data ? data.sec.addr + data.sec.used : undefined; break;
    }
    if (v !== undefined) out.set(g.name, v);
  }
  return out;
}

/** The COFF type of a 64-bit absolute address: what needs a base relocation. */
export const COFF_ADDR64: Record<ArchName, number> = { x86_64: IMAGE_REL_AMD64.ADDR64, aarch64: IMAGE_REL_ARM64.ADDR64 };

/**
 * The places the loader must adjust when the image is not at its preferred
 * base: every 64-bit absolute address in a section that stays mapped, unless
 * it is the value of an absolute symbol (lld's rule). Discardable sections
 * (DWARF) are not relocated.
 */
function collectBaseRelocs(arch: Arch, res: Resolution, plan: SectionPlan, atomAddr: Float64Array[], imageBase: number, out: number[]): void {
  const type = COFF_ADDR64[arch.name];
  forEachMappedInput(plan, (ref, file, atom) => {
    for (const r of atom.relocs) {
      if (r.type !== type || isAbsoluteTarget(res, file, ref.file, r.sym)) continue;
      out.push(atomAddr[ref.file][ref.atom] + r.offset - imageBase);
    }
  });
}

/** Every input atom the loader maps and keeps (not discardable, not the linker's own). */
function forEachMappedInput(plan: SectionPlan, visit: (ref: AtomRef, file: ObjectFile, atom: Atom) => void): void {
  for (const sec of plan.sections) {
    if (!(sec.flags & SecFlag.Alloc) || sec.name === '.reloc') continue;
    for (const ref of sec.atoms) {
      if (ref.file === plan.internal) continue;
      const file = plan.files[ref.file];
      const atom = file.atoms[ref.atom];
      if (atom.flags & SecFlag.Alloc && !(atom.rawType & IMAGE_SCN.MEM_DISCARDABLE)) visit(ref, file, atom);
    }
  }
}

function isAbsoluteTarget(res: Resolution, file: ObjectFile, f: number, sym: number): boolean {
  if (sym < file.firstGlobal) return file.symbols[sym].atom === SymPlace.Absolute;
  const id = res.globalIds[f][sym];
  const g = res.symbols[id];
  if (g.state === SymState.Undefined || g.state === SymState.Lazy) return true; // a weak undefined: 0 stays 0
  return isAbsoluteGlobal(res, id);
}

/** A global defined as an absolute value, which no base relocation adjusts. */
export function isAbsoluteGlobal(res: Resolution, id: number): boolean {
  const g = res.symbols[id];
  return g.state === SymState.Defined && res.files[g.file].symbols[g.sym].atom === SymPlace.Absolute;
}

/** The exception table is searched by the unwinder: its RUNTIME_FUNCTION entries sorted by start RVA. */
function sortExceptionTable(image: Uint8Array, layout: PeLayout, arch: ArchName): void {
  const p = layout.peSections.find((s) => s.sec.name === '.pdata');
  if (!p) return;
  image.set(encodeExceptionTable(readRuntimeFunctions(image.subarray(p.sec.offset, p.sec.offset + p.sec.used), arch), arch), p.sec.offset);
}

/** The extent of the atoms `pick` selects, when they are contiguous in one section (the import tables). */
function atomRange(plan: SectionPlan, layout: PeLayout, pick: (a: Atom) => boolean): { start: number; end: number } | null {
  let start = Infinity;
  let end = -Infinity;
  for (const sec of layout.sections) {
    for (const r of sec.atoms) {
      const a = plan.files[r.file].atoms[r.atom];
      if (!pick(a)) continue;
      const addr = layout.atomAddr[r.file][r.atom];
      start = Math.min(start, addr);
      end = Math.max(end, addr + a.size);
    }
  }
  return start === Infinity ? null : { start, end };
}

function definedAddress(res: Resolution, values: SymbolValues, name: string): number | undefined {
  const id = res.byName.get(name);
  return id === undefined ? undefined : values.globalAddress(res.symbols[id]);
}

function fileOffsetOf(layout: PeLayout, addr: number): number {
  for (const p of layout.peSections) {
    if (addr >= p.sec.addr && addr < p.sec.addr + p.rawSize) return p.sec.offset + (addr - p.sec.addr);
  }
  return -1;
}

function entryAddress(res: Resolution, values: SymbolValues, name: string): number {
  if (name === '') return 0;
  const addr = definedAddress(res, values, name);
  if (addr !== undefined) return addr;
  throw new LinkError(`entry point must be defined: ${name}`);
}
