import { SecFlag, type Atom, type ObjectFile } from '../obj/model.js';
import { SHT } from '../obj/elfConstants.js';
import { LinkError } from '../obj/LinkError.js';
import { records as ehFrameRecords } from './ehFrameHdr.js';
import type { SectionPlan } from './outputSections.js';
import { SymState, type Resolution } from './resolve.js';

/**
 * --gc-sections: mark and sweep over atoms, with lld 14's rules (its
 * MarkLive.cpp), checked against ld.lld 14 by test/link/gcSections.test.ts.
 *
 * Roots:
 *  - the entry symbol, `_init` and `_fini` (lld's -init/-fini defaults), -u
 *    names, and the caller's extra names (dynamic exports);
 *  - SHF_GNU_RETAIN sections, notes (not in a group), init/fini/preinit
 *    arrays (readElf flags all of these SecFlag.Retain), and by name `.init`,
 *    `.fini`, `.jcr`, `.ctors*`, `.dtors*`;
 *  - .eh_frame, always kept, but read record by record: a CIE keeps its
 *    personality routine (its first relocation); an FDE keeps what it points
 *    to only when that is not code and not in a group (an LSDA), so an FDE
 *    never keeps its function alive. The FDEs of dead functions stay in the
 *    output with a zeroed start, as those of discarded COMDAT copies do
 *    (relocate.ts), and .eh_frame_hdr leaves them out.
 *
 * Non-allocated sections outside groups (debug info, .comment) are kept but
 * never scanned: debug info does not keep code alive. SHF_LINK_ORDER
 * sections live and die with the section they name. A group (COMDAT) lives
 * or dies whole; a discarded COMDAT copy stays discarded.
 *
 * A relocation from a live atom makes live the atom its target symbol is
 * defined in: through resolution for globals, directly for locals and
 * section symbols; a common symbol's own .bss atom; an IFUNC's resolver.
 * Merge sections live or die whole (lld also drops the unreferenced pieces of
 * a live one).
 *
 * `__start_X`/`__stop_X`: lld 14 defaults to -z start-stop-gc, under which a
 * reference to them does not keep the sections named X, except those named
 * `__libc_*` (glibc before 2.34 relies on __libc_atexit). With -z
 * nostart-stop-gc, a reference keeps every section named X (X a C
 * identifier). A strong reference from a live atom to one whose sections are
 * all gone is an error, as in lld.
 *
 * Linear in atoms plus relocations: typed arrays, one visit per atom.
 */

export interface GcOptions {
  /** The entry symbol (-e). */
  entry: string;
  /** -u names. */
  undefinedRoots: readonly string[];
  /** More names to keep (dynamic exports, when there are any). */
  extraRoots?: readonly string[];
  /** lld's -z start-stop-gc (its default since lld 13); false for -z nostart-stop-gc. */
  startStopGc?: boolean;
}

export interface Liveness {
  /** Per file, per atom: 1 when the atom is kept. */
  live: Uint8Array[];
  /** Per global symbol id: 1 when the common symbol is kept. */
  commons: Uint8Array;
}

/** How an atom takes part in the collection, whatever refers to it. */
export const enum GcKeep {
  /** Kept only if something live refers to it. */
  No = 0,
  /** A root: kept, and what it refers to is kept. */
  Root = 1,
  /** Kept, but what it refers to is not kept on its account (non-allocated, e.g. debug info). */
  Unscanned = 2,
  /** .eh_frame: kept; its CIEs keep personality routines, its FDEs keep LSDAs. */
  EhFrame = 3,
}

const C_IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The names lld keeps by name: `.init`, `.fini`, `.jcr`, and everything starting `.ctors` or `.dtors`. */
function isReservedName(name: string): boolean {
  return name === '.init' || name === '.fini' || name === '.jcr' || name.startsWith('.ctors') || name.startsWith('.dtors');
}

export function gcKeep(atom: Atom): GcKeep {
  if (atom.flags & SecFlag.EhFrame) return GcKeep.EhFrame;
  const linkOrder = atom.linkOrder !== undefined;
  if (!(atom.flags & SecFlag.Alloc) && atom.group < 0 && !linkOrder) return GcKeep.Unscanned;
  // Retain: SHF_GNU_RETAIN, notes and init arrays (readElf). A note in a group is collected with its group.
  if (atom.flags & SecFlag.Retain && !(atom.flags & SecFlag.Note && atom.group >= 0)) return GcKeep.Root;
  if (linkOrder) return GcKeep.No;
  if (atom.rawType === SHT.INIT_ARRAY || atom.rawType === SHT.FINI_ARRAY || atom.rawType === SHT.PREINIT_ARRAY) return GcKeep.Root;
  return isReservedName(atom.name) ? GcKeep.Root : GcKeep.No;
}

/** Whether a reference to `__start_NAME`/`__stop_NAME` keeps this atom. */
export function keptByStartStop(atom: Atom, startStopGc: boolean): boolean {
  return (!startStopGc || atom.name.startsWith('__libc_')) && gcKeep(atom) === GcKeep.No && atom.linkOrder === undefined
    && C_IDENT.test(atom.name);
}

/** Whether an FDE's reference to this atom keeps it: not code, not in a group, not SHF_LINK_ORDER (an LSDA). */
export function fdeKeeps(atom: Atom): boolean {
  return !(atom.flags & SecFlag.Exec) && atom.group < 0 && atom.linkOrder === undefined;
}

/**
 * Calls `visit(reloc index, fromFde)` for each relocation of `atom` that the
 * collection follows: all of them, except in .eh_frame, where only the first
 * of each CIE's (the personality routine) and those of FDEs (fromFde: the
 * target is kept only if `fdeKeeps` it).
 */
export function forEachGcEdge(file: ObjectFile, atom: Atom, visit: (k: number, fromFde: boolean) => void): void {
  const relocs = atom.relocs;
  if (!(atom.flags & SecFlag.EhFrame)) {
    for (let k = 0; k < relocs.length; k++) visit(k, false);
    return;
  }
  if (!atom.data || relocs.length === 0) return;
  const recs = ehFrameRecords(atom.data, `${file.name}:(${atom.name})`);
  // Relocations in offset order (the assembler writes them so; sort only when it did not).
  let order: Int32Array | null = null;
  for (let k = 1; k < relocs.length; k++) {
    if (relocs.offset(k) < relocs.offset(k - 1)) {
      order = Int32Array.from({ length: relocs.length }, (_, i) => i).sort((a, b) => relocs.offset(a) - relocs.offset(b) || a - b);
      break;
    }
  }
  let rec = 0;
  let lastCie = -1;
  for (let i = 0; i < relocs.length; i++) {
    const k = order ? order[i] : i;
    const off = relocs.offset(k);
    while (rec < recs.length && recs[rec].end <= off) rec++;
    if (rec < recs.length && recs[rec].at <= off && recs[rec].id === 0) {
      if (lastCie !== rec) visit(k, false);
      lastCie = rec;
      continue;
    }
    visit(k, true);
  }
}

/** Marks what --gc-sections keeps. */
export function markLive(res: Resolution, opts: GcOptions): Liveness {
  const files = res.files;
  const startStopGc = opts.startStopGc ?? true;
  const live = files.map((f) => new Uint8Array(f.atoms.length));
  const commons = new Uint8Array(res.symbols.length);
  let total = 0;
  for (const f of files) total += f.atoms.length;
  // The work list: every atom enters it at most once.
  const stackFile = new Int32Array(total);
  const stackAtom = new Int32Array(total);
  let sp = 0;

  /** SHF_LINK_ORDER atoms by the atom they name: head per atom, next per dependent (-1 ends). */
  const depHead: Array<Int32Array | null> = files.map(() => null);
  const depNext: Array<Int32Array | null> = files.map(() => null);
  files.forEach((file, f) => {
    for (const atom of file.atoms) {
      if (atom.linkOrder === undefined) continue;
      if (!depHead[f]) {
        depHead[f] = new Int32Array(file.atoms.length).fill(-1);
        depNext[f] = new Int32Array(file.atoms.length).fill(-1);
      }
      depNext[f]![atom.index] = depHead[f]![atom.linkOrder];
      depHead[f]![atom.linkOrder] = atom.index;
    }
  });

  /** Per file, per COMDAT group: 1 once its members were all enqueued (each group is walked once). */
  const groupDone = files.map((f) => new Uint8Array(f.groups.length));
  const enqueue = (f: number, a: number): void => {
    if (live[f][a] || res.discarded[f][a]) return;
    live[f][a] = 1;
    stackFile[sp] = f;
    stackAtom[sp++] = a;
  };

  /** Sections that a reference to `__start_NAME` / `__stop_NAME` keeps, by symbol name. */
  const startStop = new Map<string, Array<[number, number]>>();
  files.forEach((file, f) => {
    for (const atom of file.atoms) {
      if (res.discarded[f][atom.index] || !keptByStartStop(atom, startStopGc)) continue;
      for (const name of [`__start_${atom.name}`, `__stop_${atom.name}`]) {
        const list = startStop.get(name);
        if (list) list.push([f, atom.index]); else startStop.set(name, [[f, atom.index]]);
      }
    }
  });
  /** Strong references from live atoms to __start_/__stop_ symbols, for the check at the end. */
  const startStopRefs = new Map<number, string>();

  const markSymbol = (name: string): void => {
    const id = res.byName.get(name);
    if (id === undefined) return;
    const g = res.symbols[id];
    if (g.state === SymState.Defined) {
      const a = files[g.file].symbols[g.sym].atom;
      if (a >= 0) enqueue(g.file, a);
    } else if (g.state === SymState.Common) {
      commons[id] = 1;
    }
  };

  const markRef = (f: number, sym: number, fromFde: boolean, from: Atom): void => {
    const file = files[f];
    let df = f;
    let ds = sym;
    if (sym >= file.firstGlobal) {
      const id = res.globalIds[f][sym];
      const g = res.symbols[id];
      if (g.state === SymState.Common) {
        commons[id] = 1;
        return;
      }
      if (g.state !== SymState.Defined) {
        const kept = startStop.get(g.name);
        if (kept) for (const [kf, ka] of kept) enqueue(kf, ka);
        if (g.state === SymState.Synthetic && !g.weak && /^__st(art|op)_/.test(g.name) && !startStopRefs.has(id)) {
          startStopRefs.set(id, `${file.name}:(${from.name})`);
        }
        return;
      }
      df = g.file;
      ds = g.sym;
    }
    const a = files[df].symbols[ds].atom;
    if (a < 0) return;
    if (fromFde && !fdeKeeps(files[df].atoms[a])) return;
    enqueue(df, a);
  };

  const scan = (f: number, atom: Atom): void => {
    forEachGcEdge(files[f], atom, (k, fromFde) => markRef(f, atom.relocs.sym(k), fromFde, atom));
  };

  // Roots.
  for (const name of ['_init', '_fini', opts.entry, ...opts.undefinedRoots, ...(opts.extraRoots ?? [])]) markSymbol(name);
  files.forEach((file, f) => {
    for (const atom of file.atoms) {
      if (res.discarded[f][atom.index]) continue;
      switch (gcKeep(atom)) {
        case GcKeep.Root: enqueue(f, atom.index); break;
        case GcKeep.Unscanned: live[f][atom.index] = 1; break;
        case GcKeep.EhFrame:
          live[f][atom.index] = 1;
          scan(f, atom);
          break;
        default: break;
      }
    }
  });

  // Mark: what live atoms refer to, the rest of their group, the sections that describe them.
  while (sp > 0) {
    const f = stackFile[--sp];
    const a = stackAtom[sp];
    const file = files[f];
    const atom = file.atoms[a];
    scan(f, atom);
    if (atom.group >= 0 && !groupDone[f][atom.group]) {
      groupDone[f][atom.group] = 1;
      for (const m of file.groups[atom.group].atoms) enqueue(f, m);
    }
    const heads = depHead[f];
    if (heads) for (let d = heads[a]; d >= 0; d = depNext[f]![d]) enqueue(f, d);
  }

  // A live reference to __start_X / __stop_X needs a section X that was kept.
  if (startStopRefs.size) {
    const keptNames = new Set<string>();
    const allNames = new Set<string>();
    files.forEach((file, f) => {
      for (const atom of file.atoms) {
        if (!(atom.flags & SecFlag.Alloc) || res.discarded[f][atom.index]) continue;
        allNames.add(atom.name);
        if (live[f][atom.index]) keptNames.add(atom.name);
      }
    });
    const lines: string[] = [];
    for (const [id, where] of startStopRefs) {
      const name = res.symbols[id].name;
      const sec = name.replace(/^__st(art|op)_/, '');
      // With no section of that name at all, the reference is undefined with or without --gc-sections.
      if (keptNames.has(sec) || !allNames.has(sec)) continue;
      lines.push(`undefined symbol: ${name} (referenced by ${where}): with --gc-sections nothing keeps a section ${sec}; `
        + `retain its contents (__attribute__((retain))) or link with -z nostart-stop-gc`);
    }
    if (lines.length) throw new LinkError(lines.join('\n'));
  }
  return { live, commons };
}

/**
 * What --print-gc-sections prints, as lld does: `removing unused section
 * FILE:(SECTION)`, the dropped common symbols first, then each file's
 * dropped sections in order. Empty without --gc-sections.
 */
export function removedSections(res: Resolution, plan: SectionPlan): string[] {
  const out: string[] = [];
  const commons: Array<[number, number]> = [];
  res.symbols.forEach((g, id) => {
    if (g.state === SymState.Common && !plan.commonAtoms.has(id)) commons.push([g.file, g.sym]);
  });
  commons.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  for (const [f] of commons) out.push(`removing unused section ${res.files[f].name}:(COMMON)`);
  res.files.forEach((file, f) => {
    for (const atom of file.atoms) {
      const a = atom.index;
      if (res.discarded[f][a] || plan.atomOut[f][a] >= 0 || plan.mergeMaps[f][a]) continue;
      out.push(`removing unused section ${file.name}:(${atom.name})`);
    }
  });
  return out;
}
