import { LinkError } from '../obj/LinkError.js';
import {
  ComdatSelect, SymBinding, SymPlace, SymType, Visibility,
  type Archive, type ComdatGroup, type ObjectFile, type SharedObject,
} from '../obj/model.js';
import { NameTable } from './nameTable.js';

/**
 * Symbol resolution with lld's semantics.
 *
 * Inputs are visited in command-line order. An archive contributes lazy
 * symbols: a member is loaded when a strong undefined reference meets one of
 * its symbols, wherever the archive sits on the command line relative to the
 * reference (lld, unlike GNU ld, needs no --start-group). A weak undefined
 * reference does not load a member. A common symbol does not load one either.
 *
 * Precedence: strong definition > common > weak definition > lazy > undefined.
 * Two strong definitions are an error. Commons merge to the largest size and
 * alignment. COMDAT groups: the first group with a signature wins; later
 * groups with the same signature are discarded whole, and global symbols
 * defined in them resolve to the winner's definitions by name.
 *
 * COFF adds two things. A COMDAT group's selection says what a second copy
 * means (lld's handleComdatSelection): NoDuplicates is a duplicate symbol,
 * SameSize and ExactMatch must match the first copy, Any keeps the first.
 * A weak external whose default is not defined in its own file
 * (InputSymbol.weakAlias) resolves to that default when nothing defines
 * its name.
 *
 * Shared libraries: from the point a library appears on the command line,
 * its exports (default versions only) define the names that are still
 * undefined or lazy, and names first seen later; any definition in an
 * object still wins over them, and an archive member is not loaded for a
 * name a library already provides (lld's rules). An undefined symbol with
 * non-default visibility must be defined in the output itself, so a library
 * does not provide it. With --as-needed a library is a DT_NEEDED entry only
 * if a non-weak reference from an object binds to it.
 */

export type LinkInput =
  | { kind: 'object'; file: ObjectFile }
  | { kind: 'archive'; archive: Archive; whole: boolean }
  | { kind: 'shared'; lib: SharedObject; asNeeded: boolean };

/** Parses an archive member into an object; provided by the session (it knows the formats). */
export type MemberLoader = (archive: Archive, member: number) => ObjectFile;

export const enum SymState {
  Undefined = 0,
  Lazy = 1,
  Defined = 2,
  Common = 3,
  /** Defined by the linker (__init_array_start, _end, ...); value set at layout. */
  Synthetic = 4,
  /** Defined by a shared library: `file` indexes Resolution.shared, `sym` that library's symbols. */
  Shared = 5,
}

export interface GlobalSymbol {
  name: string;
  state: SymState;
  /** Index into Resolution.files of the definition (Defined, Common); into Resolution.shared (Shared). */
  file: number;
  /** Index into that file's symbols. */
  sym: number;
  /** The definition is weak (Defined), or every reference is weak (Undefined, Lazy). */
  weak: boolean;
  /** The most constraining visibility seen in any file. */
  visibility: Visibility;
  /** Lazy: the archive (index into Resolution.archives) and member that define it. */
  archive: number;
  member: number;
  /**
   * Files (indices into Resolution.files) that refer to it while undefined,
   * for messages: up to 8, added by referTo. Most symbols have none, and
   * share NO_REFERENCES (an empty array that grows costs 120 bytes: at 200k
   * functions, 25 MB for 212k symbols).
   */
  referencedBy: readonly number[];
  /** Common: the largest alignment any object asked for. */
  commonAlign: number;
}

/** The referencedBy of a symbol nothing refers to yet (frozen: it is shared). */
export const NO_REFERENCES: readonly number[] = Object.freeze([]);

/** Notes that file `fi` refers to `g` (the first 8 files that do). */
function referTo(g: GlobalSymbol, fi: number): void {
  if (g.referencedBy.length < 8) g.referencedBy = [...g.referencedBy, fi];
}

export interface Resolution {
  /** Every loaded object, in load order (objects in command-line order, members as they were pulled in). */
  files: ObjectFile[];
  /**
   * Per file, per atom: 1 when the atom's COMDAT group lost to an earlier
   * one, or when the link set it aside after resolving (PE: a `.refptr`
   * pointer that MinGW auto-import replaced with the DLL's IAT entry).
   */
  discarded: Uint8Array[];
  /** Per file: for each symbol index at or above firstGlobal, the GlobalSymbol id. */
  globalIds: Int32Array[];
  symbols: GlobalSymbol[];
  byName: NameTable;
  archives: Archive[];
  /** Which archive members were loaded: `${archiveIndex}:${memberIndex}` -> file index. */
  loadedMembers: Map<string, number>;
  /** COMDAT signature -> the file index that owns it. */
  comdatOwners: Map<string, number>;
  /** Shared libraries in command-line order, and whether each is a DT_NEEDED entry. */
  shared: SharedObject[];
  sharedNeeded: boolean[];
  /** Per shared library: given under --as-needed. */
  sharedAsNeeded: boolean[];
  /** Per global id: 1 when the dynamic loader decides its address (set by the pipeline, dynamic.ts). */
  preemptible?: Uint8Array;
}

const VIS_RANK = [0, 3, 2, 1]; // default < protected < hidden < internal

function mergeVisibility(a: Visibility, b: Visibility): Visibility {
  if (a === Visibility.Default) return b;
  if (b === Visibility.Default) return a;
  return VIS_RANK[a] >= VIS_RANK[b] ? a : b;
}

/** What a format adds to the resolution (PE: directives, auto-import). */
export interface ResolveHooks {
  /**
   * For a strong reference that all inputs leave undefined: another name
   * whose archive member is then loaded (lld's MinGW mode loads `__imp_NAME`
   * for NAME, auto-import; `/alternatename:NAME=OTHER` loads OTHER); the
   * caller then binds them.
   */
  fallbackName?: (name: string, res: Resolution) => string | undefined;
  /** Names an object makes roots when it is loaded (COFF's `/include:` directives). */
  fileRoots?: (file: ObjectFile) => readonly string[];
}

/**
 * `roots` are names the link itself refers to (the entry point, -u): strong
 * references that load archive members, but whose absence is not an error here.
 */
export function resolveSymbols(
  inputs: readonly LinkInput[],
  loadMember: MemberLoader,
  linkerDefined: (name: string) => boolean,
  roots: readonly string[] = [],
  /** Names the linker defines before any input is read: no archive member is loaded for them (lld's MinGW lists). */
  predefined: readonly string[] = [],
  hooks: ResolveHooks = {},
): Resolution {
  const { fallbackName, fileRoots } = hooks;
  const res: Resolution = {
    files: [], discarded: [], globalIds: [], symbols: [], byName: new NameTable(), archives: [],
    loadedMembers: new Map(), comdatOwners: new Map(), shared: [], sharedNeeded: [], sharedAsNeeded: [],
  };
  /** Per shared library so far: name -> index of its default-version export. */
  const sharedExports: Array<Map<string, number>> = [];
  const provideShared = (g: GlobalSymbol): void => {
    if (g.visibility !== Visibility.Default) return;
    for (let li = 0; li < sharedExports.length; li++) {
      const k = sharedExports[li].get(g.name);
      if (k === undefined) continue;
      g.state = SymState.Shared;
      g.file = li;
      g.sym = k;
      return;
    }
  };
  const duplicates: string[] = [];
  /** Members waiting to be loaded, so that fetches do not recurse. */
  const pending: Array<[number, number]> = [];

  const intern = (name: string): number => {
    let id = res.byName.get(name);
    if (id === undefined) {
      id = res.symbols.length;
      res.symbols.push({
        name, state: SymState.Undefined, file: -1, sym: -1, weak: true, visibility: Visibility.Default,
        archive: -1, member: -1, referencedBy: NO_REFERENCES, commonAlign: 1,
      });
      res.byName.set(name, id);
      if (sharedExports.length) provideShared(res.symbols[id]);
    }
    return id;
  };

  const fetch = (g: GlobalSymbol): void => {
    const key = `${g.archive}:${g.member}`;
    if (res.loadedMembers.has(key)) return;
    res.loadedMembers.set(key, -1); // reserved; the index is set when it is loaded
    pending.push([g.archive, g.member]);
  };

  /** COFF weak externals: global id -> the global id of the default it falls back to. */
  const weakAliases = new Map<number, number>();

  const addFile = (file: ObjectFile): number => {
    const fi = res.files.length;
    res.files.push(file);
    // COMDAT first: a losing group's sections are discarded and its symbols become references.
    const discarded = new Uint8Array(file.atoms.length);
    for (const group of file.groups) {
      const owner = res.comdatOwners.get(group.signature);
      if (owner === undefined) res.comdatOwners.set(group.signature, fi);
      else {
        const problem = comdatConflict(res.files[owner], ownerGroup(res.files[owner], group.signature), file, group);
        if (problem) duplicates.push(problem);
        for (const a of group.atoms) discarded[a] = 1;
      }
    }
    res.discarded.push(discarded);

    const ids = new Int32Array(file.symbols.length).fill(-1);
    res.globalIds.push(ids);
    for (let i = file.firstGlobal; i < file.symbols.length; i++) {
      const s = file.symbols[i];
      const id = intern(s.name);
      ids[i] = id;
      const g = res.symbols[id];
      // One string per name: the object's own copy (decoded from its string table) dies young.
      s.name = g.name;
      g.visibility = mergeVisibility(g.visibility, s.visibility);
      const weak = s.binding === SymBinding.Weak;
      const defined = s.atom >= 0 ? !discarded[s.atom] : s.atom === SymPlace.Absolute;

      if (s.weakAlias !== undefined && s.atom === SymPlace.Undefined && !weakAliases.has(id)) {
        const d = file.symbols[s.weakAlias];
        if (d) weakAliases.set(id, intern(d.name));
      }
      if (s.atom === SymPlace.Common) {
        addCommon(res, g, fi, i);
      } else if (defined) {
        addDefined(res, g, fi, i, weak, duplicates);
      } else {
        // An undefined reference (or a definition in a discarded group, which refers to the winner).
        if (g.state === SymState.Undefined || g.state === SymState.Shared) {
          g.weak &&= weak;
          referTo(g, fi);
        } else if (g.state === SymState.Lazy) {
          referTo(g, fi);
          if (!weak) { g.weak = false; fetch(g); }
        }
      }
    }
    if (fileRoots) {
      for (const name of fileRoots(file)) {
        const g = res.symbols[intern(name)];
        g.weak = false;
        referTo(g, fi);
        if (g.state === SymState.Lazy) fetch(g);
      }
    }
    return fi;
  };

  const addArchive = (archive: Archive, whole: boolean): void => {
    const ai = res.archives.length;
    res.archives.push(archive);
    if (whole) {
      for (let m = 0; m < archive.members.length; m++) {
        res.loadedMembers.set(`${ai}:${m}`, -1);
        pending.push([ai, m]);
      }
      return;
    }
    const index = archive.index ?? buildIndex(archive, loadMember);
    for (const [name, members] of index) {
      const id = intern(name);
      const g = res.symbols[id];
      if (g.state === SymState.Undefined) {
        // Lazy from now on; a strong reference already waiting loads the member at once.
        const waiting = !g.weak;
        g.state = SymState.Lazy;
        g.archive = ai;
        g.member = members[0];
        if (waiting) fetch(g);
      }
    }
  };

  const addShared = (lib: SharedObject, asNeeded: boolean): void => {
    const li = res.shared.length;
    res.shared.push(lib);
    res.sharedNeeded.push(!asNeeded);
    res.sharedAsNeeded.push(asNeeded);
    const exports = new Map<string, number>();
    lib.symbols.forEach((s, k) => {
      if (s.isDefault && !exports.has(s.name)) exports.set(s.name, k);
    });
    sharedExports.push(exports);
    for (const g of res.symbols) {
      if (g.state !== SymState.Undefined && g.state !== SymState.Lazy) continue;
      if (g.visibility !== Visibility.Default) continue;
      const k = exports.get(g.name);
      if (k === undefined) continue;
      g.state = SymState.Shared;
      g.file = li;
      g.sym = k;
    }
  };

  const drain = (): void => {
    while (pending.length) {
      const [ai, m] = pending.shift()!;
      const file = loadMember(res.archives[ai], m);
      res.loadedMembers.set(`${ai}:${m}`, addFile(file));
    }
  };

  for (const name of predefined) res.symbols[intern(name)].state = SymState.Synthetic;
  for (const name of roots) res.symbols[intern(name)].weak = false;

  for (const input of inputs) {
    if (input.kind === 'object') addFile(input.file);
    else if (input.kind === 'shared') addShared(input.lib, input.asNeeded);
    else addArchive(input.archive, input.whole);
    drain();
  }

  if (fallbackName) {
    for (let loaded = true; loaded;) {
      loaded = false;
      for (let id = 0; id < res.symbols.length; id++) {
        const g = res.symbols[id];
        if (g.state !== SymState.Undefined || g.weak || g.referencedBy.length === 0 || weakAliases.has(id)) continue;
        const name = fallbackName(g.name, res);
        const alt = name === undefined ? undefined : res.byName.get(name);
        if (alt === undefined) continue;
        const a = res.symbols[alt];
        if (a.state !== SymState.Lazy || res.loadedMembers.has(`${a.archive}:${a.member}`)) continue;
        fetch(a);
        loaded = true;
      }
      drain();
    }
  }

  // A library is needed when an object's non-weak reference binds to it (always, without --as-needed).
  for (const g of res.symbols) {
    if (g.state === SymState.Shared && !g.weak && g.referencedBy.length > 0) res.sharedNeeded[g.file] = true;
  }

  if (duplicates.length) throw new LinkError(duplicates.join('\n'));

  // COFF weak externals that nothing defined take their default's definition (a chain is followed).
  for (const [id, alias] of weakAliases) {
    const g = res.symbols[id];
    if (g.state !== SymState.Undefined && g.state !== SymState.Lazy) continue;
    let d = res.symbols[alias];
    for (let hops = 0; hops < 64 && (d.state === SymState.Undefined || d.state === SymState.Lazy) && weakAliases.has(res.byName.get(d.name)!); hops++) {
      d = res.symbols[weakAliases.get(res.byName.get(d.name)!)!];
    }
    if (d.state !== SymState.Defined) continue;
    g.state = SymState.Defined;
    g.file = d.file;
    g.sym = d.sym;
    g.weak = true;
  }

  // What is still undefined: linker-defined names become synthetic. A strong reference to anything
  // else is an error once a relocation that is kept uses it (scan.ts), as in lld: a call to
  // __tls_get_addr that TLS relaxation removes needs no definition.
  for (const g of res.symbols) {
    if (g.state !== SymState.Undefined && g.state !== SymState.Lazy) continue;
    if (linkerDefined(g.name)) g.state = SymState.Synthetic;
  }
  return res;
}

/**
 * Whether the dynamic loader decides a global's address: per the pipeline's
 * `preemptible` (dynamic.ts); a global added after it was computed (a copied
 * variable's alias) is preemptible when a shared library defines it.
 */
export function isPreemptibleId(res: Resolution, id: number): boolean {
  const p = res.preemptible;
  return p && id < p.length ? p[id] === 1 : res.symbols[id].state === SymState.Shared;
}

function addDefined(res: Resolution, g: GlobalSymbol, fi: number, i: number, weak: boolean, duplicates: string[]): void {
  switch (g.state) {
    case SymState.Undefined:
    case SymState.Lazy:
    case SymState.Shared:
      break;
    case SymState.Common:
      if (weak) return; // a common beats a weak definition
      break;
    case SymState.Defined:
      if (weak) return;
      if (!g.weak) {
        duplicates.push(`duplicate symbol: ${g.name} (defined in ${res.files[g.file].name} and in ${res.files[fi].name})`);
        return;
      }
      break;
    case SymState.Synthetic:
      return;
  }
  g.state = SymState.Defined;
  g.file = fi;
  g.sym = i;
  g.weak = weak;
}

function addCommon(res: Resolution, g: GlobalSymbol, fi: number, i: number): void {
  const s = res.files[fi].symbols[i];
  if (g.state === SymState.Defined && !g.weak) return;
  if (g.state === SymState.Common) {
    // Keep the largest; its alignment is raised to the largest seen.
    const cur = res.files[g.file].symbols[g.sym];
    g.commonAlign = Math.max(g.commonAlign, s.value);
    if (s.size > cur.size) {
      g.file = fi;
      g.sym = i;
    }
    return;
  }
  g.commonAlign = Math.max(1, s.value);
  g.state = SymState.Common;
  g.file = fi;
  g.sym = i;
  g.weak = false;
}

function ownerGroup(file: ObjectFile, signature: string): ComdatGroup {
  return file.groups.find((g) => g.signature === signature)!;
}

/** The size and bytes of a COMDAT group's leader section (the member that is no other's associate). */
function leaderOf(file: ObjectFile, group: ComdatGroup): { size: number; data: Uint8Array | null } {
  const a = file.atoms[group.atoms.find((k) => file.atoms[k].linkOrder === undefined) ?? group.atoms[0]];
  return a ? { size: a.size, data: a.data } : { size: 0, data: null };
}

const SELECT_NAMES: Record<number, string> = { 1: 'NoDuplicates', 2: 'Any', 3: 'SameSize', 4: 'ExactMatch', 6: 'Largest', 7: 'Newest' };

/**
 * What is wrong with a second copy of a COFF COMDAT group, or null (ELF
 * groups have no selection: any copy will do). lld's rules: the selections
 * must agree, except that Any mixes with Largest and with SameSize.
 */
function comdatConflict(first: ObjectFile, a: ComdatGroup, second: ObjectFile, b: ComdatGroup): string | null {
  if (a.selection === undefined && b.selection === undefined) return null;
  const sa = a.selection ?? ComdatSelect.Any;
  const sb = b.selection ?? ComdatSelect.Any;
  const sig = a.signature;
  const pair = new Set([sa, sb]);
  let sel = sa;
  if (sa !== sb) {
    if (pair.has(ComdatSelect.Any) && pair.has(ComdatSelect.Largest)) sel = ComdatSelect.Largest;
    // gcc writes SameSize where clang writes Any: the later copy's selection decides (lld in MinGW mode).
    else if (pair.has(ComdatSelect.Any) && pair.has(ComdatSelect.SameSize)) sel = sb;
    else return `conflicting comdat type for ${sig}: ${SELECT_NAMES[sa] ?? sa} in ${first.name} and ${SELECT_NAMES[sb] ?? sb} in ${second.name}`;
  }
  const la = leaderOf(first, a);
  const lb = leaderOf(second, b);
  switch (sel) {
    case ComdatSelect.NoDuplicates:
      return `duplicate symbol: ${sig} (defined in ${first.name} and in ${second.name})`;
    case ComdatSelect.SameSize:
      // gcc pads a section beyond its definition's Length: copies of one length are the same size (lld in MinGW mode).
      return la.size === lb.size || (a.length !== undefined && a.length === b.length) ? null : `duplicate symbol: ${sig} (defined in ${first.name} and in ${second.name}: COMDAT SameSize copies of different sizes)`;
    case ComdatSelect.ExactMatch: {
      const same = la.size === lb.size && (la.data === null) === (lb.data === null)
        && (la.data === null || la.data.every((x, i) => x === lb.data![i]));
      return same ? null : `duplicate symbol: ${sig} (defined in ${first.name} and in ${second.name}: COMDAT ExactMatch copies differ)`;
    }
    case ComdatSelect.Largest:
      // The first copy stays; a larger later one would have to replace it, which the resolution cannot undo yet.
      return lb.size <= la.size ? null : `${second.name}: COMDAT ${sig} (selection Largest) is larger than the copy in ${first.name}: replacing a chosen copy is not supported yet`;
    case ComdatSelect.Newest:
      return `${second.name}: unknown comdat type ${SELECT_NAMES[sel]} for ${sig}`;
    default:
      return null;
  }
}

/** An archive without a symbol index: read every member's defined globals, as lld does. */
function buildIndex(archive: Archive, loadMember: MemberLoader): Map<string, number[]> {
  const index = new Map<string, number[]>();
  for (let m = 0; m < archive.members.length; m++) {
    const file = loadMember(archive, m);
    for (let i = file.firstGlobal; i < file.symbols.length; i++) {
      const s = file.symbols[i];
      if (s.atom === SymPlace.Undefined || s.atom === SymPlace.Common) continue;
      if (s.type === SymType.File) continue;
      const list = index.get(s.name);
      if (list) list.push(m); else index.set(s.name, [m]);
    }
  }
  archive.index = index;
  return index;
}
