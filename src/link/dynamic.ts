import { AtomKind, SecFlag, SymPlace, SymType, Visibility, type ObjectFile } from '../obj/model.js';
import { LinkError, placeName } from '../obj/LinkError.js';
import {
  DF_1_NOW, DF_1_PIE, DF_BIND_NOW, DF_STATIC_TLS, DF_SYMBOLIC, DT, DYN_SIZE, RELA_SIZE, SHN, SHT, STB, STT, SYM_SIZE, VERNAUX_SIZE, VERNEED_SIZE,
  VER_NEED_CURRENT, SHT_GNU_verdef, VERDEF_SIZE, VERDAUX_SIZE, VER_DEF_CURRENT, VER_FLG_BASE,
} from '../obj/elfConstants.js';
import { StringTable } from '../formats/elf/writeElf.js';
import { versionMatcher, type VersionScript } from '../obj/versionScript.js';
import { RelExpr, write16, write32, write64, type Arch } from './arch/Arch.js';
import type { Layout } from './layout.js';
import { addInternalAtom, addSyntheticSection, type SectionPlan } from './outputSections.js';
import { NO_REFERENCES, SymState, isPreemptibleId, type GlobalSymbol, type Resolution } from './resolve.js';
import { GotSlotKind, isGotExpr, type GotPlan } from './scan.js';
import { TargetState, type SymbolValues } from './symbols.js';

/**
 * Dynamic linking: what an executable that uses shared libraries (or is
 * position-independent) needs beyond a static one, with lld's rules.
 *
 * A symbol a shared library defines is preemptible: its address is known
 * only at load time. References to it are decided here, per relocation:
 *
 *   reference                              | becomes
 *   ---------------------------------------+-----------------------------------------
 *   call or jump                           | a PLT entry and .got.plt slot (JUMP_SLOT)
 *   GOT-indirect                           | a GOT slot with GLOB_DAT (never relaxed)
 *   initial-exec TLS                       | a GOT slot with TPOFF64
 *   64-bit absolute in writable data       | a symbolic dynamic relocation (R_*_64)
 *   anything else (PC-relative, absolute   | data: a copy relocation (the variable moves
 *   in code, ADRP)                         | into the executable's .bss); a function: a
 *                                          | canonical PLT entry, its address everywhere
 *
 * In a position-independent executable, every absolute address of the
 * output itself is relocated by the load base: a 64-bit absolute in
 * writable data or a GOT slot gets R_*_RELATIVE; any other absolute
 * reference (R_X86_64_32, or a 64-bit one in read-only data) is an error
 * that names the place, as in lld ("recompile with -fPIC").
 *
 * The tables: .interp, .dynsym/.dynstr (imports, then exports sorted for
 * .gnu.hash), .hash, .gnu.hash, .gnu.version/.gnu.version_r (the version
 * each import binds to), .rela.dyn (RELATIVE first, counted by
 * DT_RELACOUNT; each group by place), .rela.plt, .plt, .got.plt and
 * .dynamic.
 */

export interface DynamicOptions {
  /** Position-independent output (a PIE or a shared library): ET_DYN, loaded anywhere. */
  pie: boolean;
  /** A shared library (-shared): every default-visibility definition is exported and preemptible. */
  shared: boolean;
  /** DT_SONAME (-soname). */
  soname: string | null;
  /** -Bsymbolic ('all') or -Bsymbolic-functions ('functions'): those definitions bind within the library. */
  symbolic: 'none' | 'functions' | 'all';
  /** --version-script: which definitions are hidden, and the version each exported one gets. */
  versionScript: VersionScript | null;
  /** The base version's name (.gnu.version_d entry 1): the soname, else the output's file name. */
  baseVersion: string;
  /** The dynamic loader's path (-dynamic-linker), or null for no .interp. */
  interp: string | null;
  /** -z now: bind every PLT slot at load time. */
  now: boolean;
  /** DT_RUNPATH entries (-rpath). */
  runpath: string[];
  hashStyle: 'sysv' | 'gnu' | 'both';
  /** --export-dynamic: every default-visibility global the executable defines goes into .dynsym. */
  exportDynamic: boolean;
}

const enum DynKind {
  Relative,
  Symbolic,
  GlobDat,
  TpOff,
  Copy,
  DtpMod,
  DtpOff,
  TlsDesc,
}

/** A dynamic relocation, its place and value known once addresses are. */
interface DynReloc {
  kind: DynKind;
  /** Where: an input atom's byte (file, atom, offset), a GOT slot index, or a copy's global id. */
  file: number;
  atom: number;
  offset: number;
  gotSlot: number;
  /** The target: a global id (symbolic, GLOB_DAT, TPOFF, COPY) or a file's symbol (RELATIVE). */
  gid: number;
  sym: number;
  addend: number;
}

interface Verneed {
  soname: string;
  /** Version name -> vernaux index (2, 3, ...). */
  versions: Map<string, number>;
}

export interface DynamicPlan {
  opts: DynamicOptions;
  /** Global ids in .dynsym order (entry 0, the null symbol, is not listed). */
  dynsyms: number[];
  dynIndex: Map<number, number>;
  /** Index of the first symbol .gnu.hash covers (the defined ones). */
  hashedFrom: number;
  /** Global ids with a PLT entry, in entry order. */
  plt: number[];
  pltIndex: Map<number, number>;
  /** PLT entries that are their function's address in the whole program (non-PIC references). */
  canonical: Set<number>;
  /** Global id -> the internal .bss atom its copy relocation fills (aliases share it). */
  copies: Map<number, number>;
  relocs: DynReloc[];
  needed: string[];
  verneeds: Verneed[];
  /** .gnu.version entries, per .dynsym index. */
  versym: Uint16Array;
  dynstr: StringTable;
  /** Internal atoms (-1 when absent). */
  /** Entries in .gnu.version_d (0 without a version script that names versions). */
  verdefCount: number;
  atoms: {
    interp: number; dynsym: number; dynstr: number; hash: number; gnuHash: number; versym: number; verneed: number; verdef: number;
    relaDyn: number; relaPlt: number; plt: number; gotPlt: number; dynamic: number;
  };
  /** .dynamic's entries, values filled after layout. */
  tags: Array<[DT, number]>;
}

/** Names whose address depends on where the output is loaded: everything but absolute symbols and undefined weak ones. */
function isLinkTimeConstant(res: Resolution, file: ObjectFile, fileIdx: number, sym: number, internal: number): boolean {
  const s = file.symbols[sym];
  if (sym < file.firstGlobal || fileIdx === internal) return s.atom === SymPlace.Absolute;
  const g = res.symbols[res.globalIds[fileIdx][sym]];
  if (g.state === SymState.Undefined || g.state === SymState.Lazy) return true;
  if (g.state === SymState.Defined) return res.files[g.file].symbols[g.sym].atom === SymPlace.Absolute;
  return false;
}

/**
 * Per global id: 1 when the dynamic loader decides the symbol's address. In
 * an executable, only a shared library's symbols; in a shared library also
 * every default-visibility definition (another module may interpose it,
 * unless -Bsymbolic binds it here) and every undefined symbol (an import).
 */
export function preemptibleSymbols(res: Resolution, opts: DynamicOptions | null): Uint8Array {
  const out = new Uint8Array(res.symbols.length);
  if (!opts) return out;
  res.symbols.forEach((g, id) => {
    if (g.state === SymState.Shared) {
      out[id] = 1;
      return;
    }
    if (!opts.shared || g.visibility !== Visibility.Default) return;
    if (g.state === SymState.Undefined || g.state === SymState.Lazy) {
      if (g.referencedBy.length > 0) out[id] = 1;
      return;
    }
    if (g.state !== SymState.Defined && g.state !== SymState.Common) return;
    if (opts.symbolic === 'all' || hiddenByScript(opts, g.name)) return;
    const t = res.files[g.file].symbols[g.sym].type;
    if (opts.symbolic === 'functions' && (t === SymType.Func || t === SymType.IFunc)) return;
    out[id] = 1;
  });
  return out;
}

/** The global id a file's symbol refers to when it is preemptible, else -1. */
export function preemptibleGlobalOf(res: Resolution, plan: SectionPlan, file: number, sym: number): number {
  const f = plan.files[file];
  if (sym < f.firstGlobal || file === plan.internal) return -1;
  const id = res.globalIds[file][sym];
  return isPreemptibleId(res, id) ? id : -1;
}

const matchers = new WeakMap<VersionScript, ReturnType<typeof versionMatcher>>();

function versionOf(opts: DynamicOptions, name: string): { local: boolean; node: number } {
  const script = opts.versionScript;
  if (!script) return { local: false, node: -1 };
  let m = matchers.get(script);
  if (!m) matchers.set(script, (m = versionMatcher(script)));
  return m(name);
}

/** A definition the version script lists under `local:`: not exported, bound within the output. */
function hiddenByScript(opts: DynamicOptions, name: string): boolean {
  return versionOf(opts, name).local;
}

/** Decides every dynamic relocation, PLT entry and copy, and creates the dynamic sections (all but .dynamic). */
export function planDynamic(arch: Arch, res: Resolution, plan: SectionPlan, got: GotPlan, opts: DynamicOptions): DynamicPlan {
  const internal = plan.files[plan.internal];
  const dyn: DynamicPlan = {
    opts, dynsyms: [], dynIndex: new Map(), hashedFrom: 1, plt: [], pltIndex: new Map(), canonical: new Set(),
    copies: new Map(), relocs: [], needed: [], verneeds: [], versym: new Uint16Array(0), dynstr: new StringTable(), verdefCount: 0,
    atoms: { interp: -1, dynsym: -1, dynstr: -1, hash: -1, gnuHash: -1, versym: -1, verneed: -1, verdef: -1, relaDyn: -1, relaPlt: -1, plt: -1, gotPlt: -1, dynamic: -1 },
    tags: [],
  };
  const needPlt = (gid: number) => {
    if (dyn.pltIndex.has(gid)) return;
    dyn.pltIndex.set(gid, dyn.plt.length);
    dyn.plt.push(gid);
  };
  const copyWanted = new Set<number>();
  const libOf = (g: GlobalSymbol) => res.shared[g.file];
  const sharedSym = (g: GlobalSymbol) => libOf(g).symbols[g.sym];
  const whose = (g: GlobalSymbol) => (g.state === SymState.Shared ? libOf(g).soname : 'another module');

  for (const sec of plan.sections) {
    if (!(sec.flags & SecFlag.Alloc)) continue;
    for (const ref of sec.atoms) {
      if (ref.file === plan.internal) continue;
      const file = plan.files[ref.file];
      const atom = file.atoms[ref.atom];
      if (!atom.relocs.length) continue;
      const writable = (atom.flags & SecFlag.Write) !== 0;
      const relaxedAway = got.relaxedAway.get(atom);
      const rs = atom.relocs;
      const where = (k: number) => placeName(file.name, atom.name, rs.offset(k));
      for (let k = 0; k < rs.length; k++) {
        const type = rs.type(k), sym = rs.sym(k);
        if (relaxedAway?.has(k)) continue;
        const expr = arch.relExpr(type);
        if (expr === undefined || expr === RelExpr.None || expr === RelExpr.Size) continue;
        if (opts.shared && expr === RelExpr.TPRel) {
          throw new LinkError(`${where(k)}: relocation ${arch.relName(type)} against '${file.symbols[sym].name}' cannot be used with -shared; recompile with -fPIC`);
        }
        const gid = preemptibleGlobalOf(res, plan, ref.file, sym);
        if (gid >= 0) {
          const g = res.symbols[gid];
          if (expr === RelExpr.Branch) {
            needPlt(gid);
          } else if (isGotExpr(expr) || expr === RelExpr.TlsGd || expr === RelExpr.TlsLd) {
            // A GOT slot or pair (scan.ts), filled by the loader: GLOB_DAT, TPOFF64, DTPMOD64/DTPOFF64, TLSDESC below.
          } else if (expr === RelExpr.TPRel || expr === RelExpr.DTPRel) {
            throw new LinkError(`${where(k)}: ${arch.relName(type)} against '${g.name}', a thread-local variable of ${whose(g)}, needs its offset at link time; compile with -fPIC`);
          } else if (expr === RelExpr.Abs && type === arch.dynRel.abs64 && writable) {
            dyn.relocs.push({ kind: DynKind.Symbolic, file: ref.file, atom: ref.atom, offset: rs.offset(k), gotSlot: -1, gid, sym: -1, addend: rs.addend(k) });
          } else if (opts.shared) {
            // A shared library cannot copy or fix the address of a symbol another module may define (lld's message).
            throw new LinkError(`${where(k)}: relocation ${arch.relName(type)} cannot be used against symbol '${g.name}'; recompile with -fPIC`);
          } else {
            // The symbol needs an address in the executable itself.
            const t = sharedSym(g).type;
            if (t === SymType.Func || t === SymType.IFunc) {
              needPlt(gid);
              dyn.canonical.add(gid);
            } else {
              if (t === SymType.TLS) throw new LinkError(`${where(k)}: ${arch.relName(type)} cannot refer to '${g.name}', a thread-local variable of ${libOf(g).soname}`);
              copyWanted.add(gid);
            }
          }
          continue;
        }
        if (!opts.pie || expr !== RelExpr.Abs || arch.usesOnlyLowPageBits(type)) continue;
        if (isLinkTimeConstant(res, file, ref.file, sym, plan.internal)) continue;
        const name = file.symbols[sym].name || atom.name;
        if (type !== arch.dynRel.abs64) {
          throw new LinkError(`${where(k)}: relocation ${arch.relName(type)} against '${name}' cannot be used in ${opts.shared ? 'a shared library; recompile with -fPIC' : 'a position-independent executable; recompile with -fPIE'}`);
        }
        if (!writable) {
          throw new LinkError(`${where(k)}: relocation ${arch.relName(type)} against '${name}' would need a dynamic relocation in read-only section ${atom.name}; recompile with ${opts.shared ? '-fPIC' : '-fPIE'}`);
        }
        dyn.relocs.push({ kind: DynKind.Relative, file: ref.file, atom: ref.atom, offset: rs.offset(k), gotSlot: -1, gid: -1, sym: sym, addend: rs.addend(k) });
      }
    }
  }

  // GOT slots: shared symbols are bound by the loader; a PIE's own addresses are relocated by the base.
  // TLS: a preemptible symbol's entries are bound by name; a library's own by module (symbol 0) and offset.
  got.slots.forEach((slot, i) => {
    const gid = preemptibleGlobalOf(res, plan, slot.file, slot.sym);
    const push = (kind: DynKind, withSym: boolean) =>
      dyn.relocs.push({ kind, file: slot.file, atom: -1, offset: 0, gotSlot: i, gid: withSym ? gid : -1, sym: slot.sym, addend: 0 });
    switch (slot.kind) {
      case GotSlotKind.Address:
        if (gid >= 0) push(DynKind.GlobDat, true);
        else if (opts.pie && !isLinkTimeConstant(res, plan.files[slot.file], slot.file, slot.sym, plan.internal)) push(DynKind.Relative, false);
        return;
      case GotSlotKind.TPOffset:
        if (gid >= 0 || opts.shared) push(DynKind.TpOff, gid >= 0);
        return;
      case GotSlotKind.TlsGd:
        if (!slot.second) push(DynKind.DtpMod, gid >= 0);
        else if (gid >= 0) push(DynKind.DtpOff, true);
        return;
      case GotSlotKind.TlsLd:
        if (!slot.second) push(DynKind.DtpMod, false);
        return;
      case GotSlotKind.TlsDesc:
        if (!slot.second) push(DynKind.TlsDesc, gid >= 0);
        return;
    }
  });

  // Copy relocations: one .bss atom per variable, shared by its aliases (environ, __environ, _environ).
  for (const gid of [...copyWanted].sort((a, b) => a - b)) {
    if (dyn.copies.has(gid)) continue;
    const g = res.symbols[gid];
    const lib = libOf(g);
    const ss = sharedSym(g);
    const align = Math.min(32, ss.value === 0 ? 32 : ss.value & -ss.value);
    const a = addInternalAtom(internal, {
      name: '.bss', kind: AtomKind.Bss, flags: SecFlag.Alloc | SecFlag.Write | SecFlag.NoBits, align,
      size: Math.max(ss.size, 1), data: null, rawType: SHT.NOBITS,
    });
    addSyntheticSection(plan, a);
    dyn.copies.set(gid, a);
    dyn.relocs.push({ kind: DynKind.Copy, file: -1, atom: -1, offset: 0, gotSlot: -1, gid, sym: -1, addend: 0 });
    lib.symbols.forEach((alias, k) => {
      if (k === g.sym || alias.value !== ss.value || !alias.isDefault || alias.type === SymType.Func || alias.type === SymType.IFunc) return;
      let id = res.byName.get(alias.name);
      if (id === undefined) {
        id = res.symbols.length;
        res.symbols.push({
          name: alias.name, state: SymState.Shared, file: g.file, sym: k, weak: alias.binding === 2, visibility: Visibility.Default,
          archive: -1, member: -1, referencedBy: NO_REFERENCES, commonAlign: 1,
        });
        res.byName.set(alias.name, id);
      }
      const other = res.symbols[id];
      if (other.state === SymState.Shared && other.file === g.file && !dyn.copies.has(id)) dyn.copies.set(id, a);
    });
  }

  chooseDynamicSymbols(res, dyn);
  buildTables(arch, res, plan, dyn);
  return dyn;
}

/**
 * The globals the program itself defines and exports: those whose name a
 * shared library defines or refers to (so that the program's definition
 * interposes, as lld does), or all of them with --export-dynamic. They are
 * also roots for --gc-sections. A shared library exports every definition
 * with default or protected visibility.
 */
export function exportedDefinitions(res: Resolution, opts: DynamicOptions): number[] {
  const out: number[] = [];
  const all = opts.shared || opts.exportDynamic;
  const libNames = all ? [] : res.shared.map((lib) => new Set([...lib.symbols.map((s) => s.name), ...lib.undefinedSymbols]));
  res.symbols.forEach((g, id) => {
    if (g.state !== SymState.Defined && g.state !== SymState.Common) return;
    if (g.visibility !== Visibility.Default && g.visibility !== Visibility.Protected) return;
    if (hiddenByScript(opts, g.name)) return;
    if (all || libNames.some((names) => names.has(g.name))) out.push(id);
  });
  return out;
}

/** Imports first (undefined in .dynsym), then definitions sorted by their .gnu.hash bucket. */
function chooseDynamicSymbols(res: Resolution, dyn: DynamicPlan): void {
  const imports: number[] = [];
  const exports: number[] = [];
  // A copied variable is defined here; a canonical PLT entry is the function's address for every
  // module, so the loader must find it through the hash tables like a definition.
  res.symbols.forEach((g, id) => {
    const undefinedImport = dyn.opts.shared && (g.state === SymState.Undefined || g.state === SymState.Lazy) && isPreemptibleId(res, id);
    if (g.state !== SymState.Shared && !undefinedImport) return;
    if (dyn.copies.has(id) || dyn.canonical.has(id)) exports.push(id);
    else if (g.referencedBy.length > 0 || dyn.pltIndex.has(id)) imports.push(id);
  });
  exports.push(...exportedDefinitions(res, dyn.opts));
  const nbuckets = gnuBucketCount(exports.length);
  const hashes = new Map(exports.map((id) => [id, gnuHash(res.symbols[id].name)]));
  exports.sort((a, b) => (hashes.get(a)! % nbuckets) - (hashes.get(b)! % nbuckets) || a - b);
  dyn.dynsyms = [...imports, ...exports];
  dyn.hashedFrom = 1 + imports.length;
  dyn.dynsyms.forEach((id, i) => dyn.dynIndex.set(id, i + 1));
}

function gnuBucketCount(n: number): number {
  return Math.max(1, Math.floor(n / 4));
}

export function gnuHash(name: string): number {
  let h = 5381;
  for (const b of new TextEncoder().encode(name)) h = (Math.imul(h, 33) + b) >>> 0;
  return h;
}

export function sysvHash(name: string): number {
  let h = 0;
  for (const b of new TextEncoder().encode(name)) {
    h = ((h << 4) + b) >>> 0;
    const g = h & 0xf0000000;
    if (g) h ^= g >>> 24;
    h &= ~g >>> 0;
    h >>>= 0;
  }
  return h;
}

/** Everything whose contents do not depend on addresses: strings, hashes, versions; and every section's size. */
function buildTables(arch: Arch, res: Resolution, plan: SectionPlan, dyn: DynamicPlan): void {
  const internal = plan.files[plan.internal];
  const add = (name: string, kind: AtomKind, flags: number, rawType: number, align: number, size: number, data: Uint8Array | null = new Uint8Array(size)): number => {
    const a = addInternalAtom(internal, { name, kind, flags: SecFlag.Alloc | SecFlag.Fixed | flags, align, size, data, rawType });
    addSyntheticSection(plan, a);
    return a;
  };
  const dynstr = dyn.dynstr;
  if (dyn.opts.interp !== null) {
    const path = new TextEncoder().encode(dyn.opts.interp + '\0');
    dyn.atoms.interp = add('.interp', AtomKind.ROData, 0, SHT.PROGBITS, 1, path.length, path);
  }
  res.shared.forEach((lib, i) => {
    if (res.sharedNeeded[i] && !dyn.needed.includes(lib.soname)) dyn.needed.push(lib.soname);
  });
  for (const n of dyn.needed) dynstr.add(n);
  if (dyn.opts.soname !== null) dynstr.add(dyn.opts.soname);
  if (dyn.opts.runpath.length) dynstr.add(dyn.opts.runpath.join(':'));

  // Versions: each import binds to the version its library defines it at (when that library is needed).
  const n = dyn.dynsyms.length + 1;
  dyn.versym = new Uint16Array(n);
  // Version definitions: the base (index 1), then the script's named nodes (2, 3, ...).
  const named = (dyn.opts.versionScript?.nodes ?? []).filter((v) => v.name !== null);
  const defIndex = new Map(named.map((v, k) => [v.name!, 2 + k]));
  if (named.length) {
    dynstr.add(dyn.opts.baseVersion);
    for (const v of named) dynstr.add(v.name!);
  }
  let nextVersion = 2 + named.length;
  const verneedOf = new Map<string, Verneed>();
  dyn.dynsyms.forEach((id, i) => {
    const g = res.symbols[id];
    dynstr.add(g.name);
    dyn.versym[i + 1] = 1;
    if (g.state === SymState.Defined || g.state === SymState.Common) {
      const node = versionOf(dyn.opts, g.name).node;
      const name = node >= 0 ? dyn.opts.versionScript!.nodes[node].name : null;
      if (name !== null) dyn.versym[i + 1] = defIndex.get(name)!;
      return;
    }
    if (g.state !== SymState.Shared || !res.sharedNeeded[g.file]) return;
    const lib = res.shared[g.file];
    const version = lib.symbols[g.sym].version;
    if (version === null) return;
    let vn = verneedOf.get(lib.soname);
    if (!vn) {
      vn = { soname: lib.soname, versions: new Map() };
      verneedOf.set(lib.soname, vn);
    }
    let idx = vn.versions.get(version);
    if (idx === undefined) {
      idx = nextVersion++;
      vn.versions.set(version, idx);
      dynstr.add(version);
    }
    dyn.versym[i + 1] = idx;
  });
  // In the order of DT_NEEDED.
  dyn.verneeds = [...verneedOf.values()].sort((a, b) => dyn.needed.indexOf(a.soname) - dyn.needed.indexOf(b.soname));

  dyn.atoms.dynsym = add('.dynsym', AtomKind.ROData, 0, SHT.DYNSYM, 8, n * SYM_SIZE);
  if (dyn.verneeds.length || named.length) {
    const v = new Uint8Array(n * 2);
    dyn.versym.forEach((x, i) => write16(v, i * 2, x));
    dyn.atoms.versym = add('.gnu.version', AtomKind.ROData, 0, SHT.GNU_VERSYM, 2, v.length, v);
  }
  if (named.length) {
    // lld records no parent (vd_cnt 1), and neither does the loader need one.
    const b = verdefBytes(dyn, named.map((v) => v.name!));
    dyn.verdefCount = 1 + named.length;
    dyn.atoms.verdef = add('.gnu.version_d', AtomKind.ROData, 0, SHT_GNU_verdef, 4, b.length, b);
  }
  if (dyn.verneeds.length) {
    const b = verneedBytes(dyn);
    dyn.atoms.verneed = add('.gnu.version_r', AtomKind.ROData, 0, SHT.GNU_VERNEED, 4, b.length, b);
  }
  const hashStyle = dyn.opts.hashStyle;
  if (hashStyle !== 'sysv') {
    const b = gnuHashBytes(res, dyn);
    dyn.atoms.gnuHash = add('.gnu.hash', AtomKind.ROData, 0, SHT.GNU_HASH, 8, b.length, b);
  }
  if (hashStyle !== 'gnu') {
    const b = sysvHashBytes(res, dyn);
    dyn.atoms.hash = add('.hash', AtomKind.ROData, 0, SHT.HASH, 4, b.length, b);
  }
  const strBytes = dynstr.bytes();
  dyn.atoms.dynstr = add('.dynstr', AtomKind.ROData, 0, SHT.STRTAB, 1, strBytes.length, strBytes);

  // RELATIVE first (DT_RELACOUNT counts them), then the rest, each group in a stable order.
  dyn.relocs.sort((a, b) => (a.kind === DynKind.Relative ? 0 : 1) - (b.kind === DynKind.Relative ? 0 : 1));
  if (dyn.relocs.length) dyn.atoms.relaDyn = add('.rela.dyn', AtomKind.ROData, 0, SHT.RELA, 8, dyn.relocs.length * RELA_SIZE);
  if (dyn.plt.length) {
    dyn.atoms.relaPlt = add('.rela.plt', AtomKind.ROData, 0, SHT.RELA, 8, dyn.plt.length * RELA_SIZE);
    dyn.atoms.plt = add('.plt', AtomKind.Code, SecFlag.Exec, SHT.PROGBITS, 16, arch.pltHeaderSize + dyn.plt.length * arch.pltEntrySize);
    dyn.atoms.gotPlt = add('.got.plt', AtomKind.Data, SecFlag.Write, SHT.PROGBITS, 8, (3 + dyn.plt.length) * 8);
  }
  // sh_entsize, sh_link and sh_info, as readers of these tables expect them.
  const sec = (a: number) => plan.sections[plan.atomOut[plan.internal][a]];
  const set = (a: number, entSize: number, link?: string, info?: string | number) => {
    if (a < 0) return;
    Object.assign(sec(a), { entSize, link, info });
  };
  set(dyn.atoms.dynsym, SYM_SIZE, '.dynstr', 1);
  set(dyn.atoms.hash, 4, '.dynsym');
  set(dyn.atoms.gnuHash, 0, '.dynsym');
  set(dyn.atoms.versym, 2, '.dynsym');
  set(dyn.atoms.verneed, 0, '.dynstr', dyn.verneeds.length);
  set(dyn.atoms.verdef, 0, '.dynstr', dyn.verdefCount);
  set(dyn.atoms.relaDyn, RELA_SIZE, '.dynsym');
  set(dyn.atoms.relaPlt, RELA_SIZE, '.dynsym', '.got.plt');
}

/** .gnu.version_d: the base version, then each named node, one name each. */
function verdefBytes(dyn: DynamicPlan, named: string[]): Uint8Array {
  const names = [dyn.opts.baseVersion, ...named];
  const len = VERDEF_SIZE + VERDAUX_SIZE;
  const out = new Uint8Array(names.length * len);
  names.forEach((name, k) => {
    const at = k * len;
    write16(out, at, VER_DEF_CURRENT);
    write16(out, at + 2, k === 0 ? VER_FLG_BASE : 0);
    write16(out, at + 4, k + 1);
    write16(out, at + 6, 1);
    write32(out, at + 8, sysvHash(name));
    write32(out, at + 12, VERDEF_SIZE);
    write32(out, at + 16, k + 1 < names.length ? len : 0);
    write32(out, at + VERDEF_SIZE, dyn.dynstr.add(name));
    write32(out, at + VERDEF_SIZE + 4, 0);
  });
  return out;
}

function verneedBytes(dyn: DynamicPlan): Uint8Array {
  const count = dyn.verneeds.reduce((n, v) => n + 1 + v.versions.size, 0);
  const out = new Uint8Array(count * 16);
  let at = 0;
  dyn.verneeds.forEach((vn, i) => {
    const auxCount = vn.versions.size;
    write16(out, at, VER_NEED_CURRENT);
    write16(out, at + 2, auxCount);
    write32(out, at + 4, dyn.dynstr.add(vn.soname));
    write32(out, at + 8, VERNEED_SIZE);
    write32(out, at + 12, i + 1 < dyn.verneeds.length ? VERNEED_SIZE + auxCount * VERNAUX_SIZE : 0);
    at += VERNEED_SIZE;
    let k = 0;
    for (const [name, idx] of vn.versions) {
      write32(out, at, sysvHash(name));
      write16(out, at + 4, 0);
      write16(out, at + 6, idx);
      write32(out, at + 8, dyn.dynstr.add(name));
      write32(out, at + 12, ++k < auxCount ? VERNAUX_SIZE : 0);
      at += VERNAUX_SIZE;
    }
  });
  return out;
}

function gnuHashBytes(res: Resolution, dyn: DynamicPlan): Uint8Array {
  const hashed = dyn.dynsyms.slice(dyn.hashedFrom - 1);
  const nbuckets = gnuBucketCount(hashed.length);
  const maskWords = Math.max(1, 2 ** Math.ceil(Math.log2(Math.max(1, Math.floor((hashed.length * 12) / 64)))));
  const shift2 = 26;
  const out = new Uint8Array(16 + maskWords * 8 + nbuckets * 4 + hashed.length * 4);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, nbuckets, true);
  dv.setUint32(4, dyn.hashedFrom, true);
  dv.setUint32(8, maskWords, true);
  dv.setUint32(12, shift2, true);
  const bloom = new BigUint64Array(maskWords);
  const hashes = hashed.map((id) => gnuHash(res.symbols[id].name));
  for (const h of hashes) {
    const word = Math.floor(h / 64) % maskWords;
    bloom[word] |= (1n << BigInt(h % 64)) | (1n << BigInt((h >>> shift2) % 64));
  }
  bloom.forEach((w, i) => dv.setBigUint64(16 + i * 8, w, true));
  const buckets = 16 + maskWords * 8;
  const chains = buckets + nbuckets * 4;
  hashes.forEach((h, i) => {
    const b = h % nbuckets;
    if (dv.getUint32(buckets + b * 4, true) === 0) dv.setUint32(buckets + b * 4, dyn.hashedFrom + i, true);
    const last = i + 1 === hashes.length || hashes[i + 1] % nbuckets !== b;
    dv.setUint32(chains + i * 4, ((h & ~1) | (last ? 1 : 0)) >>> 0, true);
  });
  return out;
}

function sysvHashBytes(res: Resolution, dyn: DynamicPlan): Uint8Array {
  const n = dyn.dynsyms.length + 1;
  const nbucket = Math.max(1, n);
  const out = new Uint8Array((2 + nbucket + n) * 4);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, nbucket, true);
  dv.setUint32(4, n, true);
  const bucket = 8;
  const chain = 8 + nbucket * 4;
  for (let i = 1; i < n; i++) {
    const b = sysvHash(res.symbols[dyn.dynsyms[i - 1]].name) % nbucket;
    dv.setUint32(chain + i * 4, dv.getUint32(bucket + b * 4, true), true);
    dv.setUint32(bucket + b * 4, i, true);
  }
  return out;
}

/**
 * The .dynamic section, once every other section exists (IFUNCs add to
 * .rela.plt): its entries are fixed now, their values after layout.
 */
export function addDynamicSection(res: Resolution, plan: SectionPlan, dyn: DynamicPlan): void {
  const has = (name: string) => plan.sections.some((s) => s.name === name && s.atoms.length > 0 && s.flags & SecFlag.Alloc);
  const tags: Array<[DT, number]> = [];
  for (const n of dyn.needed) tags.push([DT.NEEDED, dyn.dynstr.add(n)]);
  if (dyn.opts.soname !== null) tags.push([DT.SONAME, dyn.dynstr.add(dyn.opts.soname)]);
  if (dyn.opts.runpath.length) tags.push([DT.RUNPATH, dyn.dynstr.add(dyn.opts.runpath.join(':'))]);
  if (!dyn.opts.shared) tags.push([DT.DEBUG, 0]);
  for (const [name, start, size] of [
    ['.preinit_array', DT.PREINIT_ARRAY, DT.PREINIT_ARRAYSZ], ['.init_array', DT.INIT_ARRAY, DT.INIT_ARRAYSZ], ['.fini_array', DT.FINI_ARRAY, DT.FINI_ARRAYSZ],
  ] as const) {
    if (has(name)) tags.push([start, 0], [size, 0]);
  }
  const defined = (name: string) => {
    const id = res.byName.get(name);
    return id !== undefined && res.symbols[id].state === SymState.Defined;
  };
  if (defined('_init')) tags.push([DT.INIT, 0]);
  if (defined('_fini')) tags.push([DT.FINI, 0]);
  if (has('.rela.dyn')) tags.push([DT.RELA, 0], [DT.RELASZ, 0], [DT.RELAENT, RELA_SIZE]);
  const relative = dyn.relocs.filter((r) => r.kind === DynKind.Relative).length;
  if (relative) tags.push([DT.RELACOUNT, relative]);
  if (has('.rela.plt')) tags.push([DT.JMPREL, 0], [DT.PLTRELSZ, 0], [DT.PLTREL, DT.RELA]);
  if (has('.got.plt')) tags.push([DT.PLTGOT, 0]);
  tags.push([DT.SYMTAB, 0], [DT.SYMENT, SYM_SIZE], [DT.STRTAB, 0], [DT.STRSZ, 0]);
  if (dyn.atoms.gnuHash >= 0) tags.push([DT.GNU_HASH, 0]);
  if (dyn.atoms.hash >= 0) tags.push([DT.HASH, 0]);
  if (dyn.atoms.versym >= 0) tags.push([DT.VERSYM, 0]);
  if (dyn.atoms.verdef >= 0) tags.push([DT.VERDEF, 0], [DT.VERDEFNUM, dyn.verdefCount]);
  if (dyn.atoms.verneed >= 0) tags.push([DT.VERNEED, 0], [DT.VERNEEDNUM, dyn.verneeds.length]);
  // A library that uses initial-exec TLS needs a static TLS block (DF_STATIC_TLS: it cannot be dlopen'ed late).
  const staticTls = dyn.opts.shared && dyn.relocs.some((r) => r.kind === DynKind.TpOff);
  const flags = (dyn.opts.now ? DF_BIND_NOW : 0) | (dyn.opts.symbolic === 'all' ? DF_SYMBOLIC : 0) | (staticTls ? DF_STATIC_TLS : 0);
  if (flags) tags.push([DT.FLAGS, flags]);
  const flags1 = (dyn.opts.now ? DF_1_NOW : 0) | (dyn.opts.pie && !dyn.opts.shared ? DF_1_PIE : 0);
  if (flags1) tags.push([DT.FLAGS_1, flags1]);
  tags.push([DT.NULL, 0]);
  dyn.tags = tags;
  const internal = plan.files[plan.internal];
  dyn.atoms.dynamic = addInternalAtom(internal, {
    name: '.dynamic', kind: AtomKind.Data, flags: SecFlag.Alloc | SecFlag.Write | SecFlag.Fixed, align: 8,
    size: tags.length * DYN_SIZE, data: new Uint8Array(tags.length * DYN_SIZE), rawType: SHT.DYNAMIC,
  });
  addSyntheticSection(plan, dyn.atoms.dynamic);
  Object.assign(plan.sections[plan.atomOut[plan.internal][dyn.atoms.dynamic]], { entSize: DYN_SIZE, link: '.dynstr' });
}

/** The address the program's references use for a preemptible symbol: its copy, else its PLT entry; undefined when it has neither. */
export function dynamicSymbolAddress(arch: Arch, dyn: DynamicPlan, plan: SectionPlan, layout: Layout, gid: number): number | undefined {
  const copy = dyn.copies.get(gid);
  if (copy !== undefined) return layout.atomAddr[plan.internal][copy];
  const i = dyn.pltIndex.get(gid);
  if (i === undefined) return undefined;
  return layout.atomAddr[plan.internal][dyn.atoms.plt] + arch.pltHeaderSize + i * arch.pltEntrySize;
}

/** Fills every dynamic section once addresses are known (before the atoms are copied into the image). */
export function writeDynamic(arch: Arch, res: Resolution, plan: SectionPlan, layout: Layout, values: SymbolValues, dyn: DynamicPlan, gotAddr: number): void {
  const internal = plan.files[plan.internal];
  const addrOf = (a: number) => layout.atomAddr[plan.internal][a];
  const data = (a: number) => internal.atoms[a].data!;
  const secOf = (name: string) => layout.sections.find((s) => s.name === name && s.flags & SecFlag.Alloc);
  const shndxOf = (addr: number): number => {
    const i = layout.sections.findIndex((s) => s.flags & SecFlag.Alloc && addr >= s.addr && addr < s.addr + Math.max(s.size, 1));
    return i < 0 ? SHN.ABS : i + 1;
  };

  // .dynsym
  const syms = data(dyn.atoms.dynsym);
  dyn.dynsyms.forEach((id, i) => {
    const g = res.symbols[id];
    const at = (i + 1) * SYM_SIZE;
    write32(syms, at, dyn.dynstr.add(g.name));
    let type: number;
    let value = 0;
    let size = 0;
    let shndx: number = SHN.UNDEF;
    if (g.state === SymState.Undefined || g.state === SymState.Lazy) {
      type = STT.NOTYPE; // an import of a shared library: the loader finds it in another module
    } else if (g.state === SymState.Shared) {
      const ss = res.shared[g.file].symbols[g.sym];
      type = ss.type === SymType.IFunc ? STT.FUNC : ss.type;
      const copy = dyn.copies.get(id);
      if (copy !== undefined) {
        value = addrOf(copy);
        size = ss.size;
        shndx = shndxOf(value);
      } else if (dyn.canonical.has(id)) {
        value = dynamicSymbolAddress(arch, dyn, plan, layout, id)!;
      }
    } else {
      const s = res.files[g.file].symbols[g.sym];
      type = s.type === SymType.Common ? STT.OBJECT : s.type;
      size = s.size;
      value = values.programAddress(g) ?? 0;
      if (s.type === SymType.TLS && layout.tls) value -= layout.tls.addr;
      shndx = s.atom === SymPlace.Absolute ? SHN.ABS : s.type === SymType.TLS ? shndxOf(layout.tls?.addr ?? 0) : shndxOf(value);
    }
    const bind = g.weak ? STB.WEAK : STB.GLOBAL;
    syms[at + 4] = (bind << 4) | type;
    syms[at + 5] = g.state === SymState.Defined || g.state === SymState.Common ? g.visibility : 0;
    write16(syms, at + 6, shndx);
    write64(syms, at + 8, value);
    write64(syms, at + 16, size);
  });

  // .plt and .got.plt
  if (dyn.atoms.plt >= 0) {
    const plt = addrOf(dyn.atoms.plt);
    const gotPlt = addrOf(dyn.atoms.gotPlt);
    const code = data(dyn.atoms.plt);
    const slots = data(dyn.atoms.gotPlt);
    arch.writePltHeader(code, 0, plt, gotPlt);
    if (arch.gotPltHoldsDynamic) write64(slots, 0, addrOf(dyn.atoms.dynamic));
    const rela = data(dyn.atoms.relaPlt);
    dyn.plt.forEach((id, i) => {
      const entry = plt + arch.pltHeaderSize + i * arch.pltEntrySize;
      const slot = gotPlt + (3 + i) * 8;
      arch.writePltEntry(code, arch.pltHeaderSize + i * arch.pltEntrySize, entry, slot, i, plt);
      write64(slots, (3 + i) * 8, arch.lazySlotValue(entry, plt));
      writeRela(rela, i, slot, arch.dynRel.jumpSlot, dyn.dynIndex.get(id)!, 0);
    });
  }

  const tlsOffset = (file: number, sym: number): number => {
    const t = values.target(file, sym, 0);
    return t.state === TargetState.Defined && layout.tls ? t.S - layout.tls.addr : 0;
  };
  // .rela.dyn: RELATIVE first (plan, DT_RELACOUNT), each group ascending by place, equal places in the
  // order made. A patch's gate looks records up by place with binary searches (dynamicGate.ts relaDynIndex).
  if (dyn.atoms.relaDyn >= 0) {
    const rela = data(dyn.atoms.relaDyn);
    const placeOf = (r: DynReloc) => r.gotSlot >= 0 ? gotAddr + r.gotSlot * 8
      : r.kind === DynKind.Copy ? addrOf(dyn.copies.get(r.gid)!)
        : layout.atomAddr[r.file][r.atom] + r.offset;
    const places = dyn.relocs.map(placeOf);
    const group = (j: number) => (dyn.relocs[j].kind === DynKind.Relative ? 0 : 1);
    const order = dyn.relocs.map((_, j) => j).sort((a, b) => group(a) - group(b) || places[a] - places[b] || a - b);
    order.forEach((j, i) => {
      const r = dyn.relocs[j];
      const place = places[j];
      switch (r.kind) {
        case DynKind.Relative: {
          const t = values.target(r.file, r.sym, r.addend);
          writeRela(rela, i, place, arch.dynRel.relative, 0, t.state === TargetState.Defined ? t.S + t.A : 0);
          break;
        }
        case DynKind.Symbolic: writeRela(rela, i, place, arch.dynRel.abs64, dyn.dynIndex.get(r.gid)!, r.addend); break;
        case DynKind.GlobDat: writeRela(rela, i, place, arch.dynRel.globDat, dyn.dynIndex.get(r.gid)!, 0); break;
        case DynKind.Copy: writeRela(rela, i, place, arch.dynRel.copy, dyn.dynIndex.get(r.gid)!, 0); break;
        case DynKind.DtpMod: writeRela(rela, i, place, arch.dynRel.dtpmod64, r.gid >= 0 ? dyn.dynIndex.get(r.gid)! : 0, 0); break;
        case DynKind.DtpOff: writeRela(rela, i, place, arch.dynRel.dtpoff64, dyn.dynIndex.get(r.gid)!, 0); break;
        // Against the symbol; or against the module, the addend being the symbol's offset in its TLS block.
        case DynKind.TpOff: case DynKind.TlsDesc: {
          const type = r.kind === DynKind.TpOff ? arch.dynRel.tpoff64 : arch.dynRel.tlsdesc;
          if (r.gid >= 0) writeRela(rela, i, place, type, dyn.dynIndex.get(r.gid)!, 0);
          else writeRela(rela, i, place, type, 0, tlsOffset(r.file, r.sym));
          break;
        }
      }
    });
  }

  // .dynamic
  const d = data(dyn.atoms.dynamic);
  // What the sections use: an incremental layout leaves headroom after them, which is not part of the tables.
  const sec = (name: string) => {
    const s = secOf(name);
    return s ? { addr: s.addr, size: s.used } : { addr: 0, size: 0 };
  };
  dyn.tags.forEach(([tag, v], i) => {
    let value = v;
    switch (tag) {
      case DT.PREINIT_ARRAY: value = sec('.preinit_array').addr; break;
      case DT.PREINIT_ARRAYSZ: value = sec('.preinit_array').size; break;
      case DT.INIT_ARRAY: value = sec('.init_array').addr; break;
      case DT.INIT_ARRAYSZ: value = sec('.init_array').size; break;
      case DT.FINI_ARRAY: value = sec('.fini_array').addr; break;
      case DT.FINI_ARRAYSZ: value = sec('.fini_array').size; break;
      case DT.INIT: value = values.globalAddress(res.symbols[res.byName.get('_init')!]) ?? 0; break;
      case DT.FINI: value = values.globalAddress(res.symbols[res.byName.get('_fini')!]) ?? 0; break;
      case DT.RELA: value = sec('.rela.dyn').addr; break;
      case DT.RELASZ: value = sec('.rela.dyn').size; break;
      case DT.JMPREL: value = sec('.rela.plt').addr; break;
      case DT.PLTRELSZ: value = sec('.rela.plt').size; break;
      case DT.PLTGOT: value = dyn.atoms.gotPlt >= 0 ? addrOf(dyn.atoms.gotPlt) : sec('.got.plt').addr; break;
      case DT.SYMTAB: value = addrOf(dyn.atoms.dynsym); break;
      case DT.STRTAB: value = addrOf(dyn.atoms.dynstr); break;
      case DT.STRSZ: value = internal.atoms[dyn.atoms.dynstr].size; break;
      case DT.GNU_HASH: value = addrOf(dyn.atoms.gnuHash); break;
      case DT.HASH: value = addrOf(dyn.atoms.hash); break;
      case DT.VERSYM: value = addrOf(dyn.atoms.versym); break;
      case DT.VERNEED: value = addrOf(dyn.atoms.verneed); break;
      case DT.VERDEF: value = addrOf(dyn.atoms.verdef); break;
    }
    write64(d, i * DYN_SIZE, tag);
    write64(d, i * DYN_SIZE + 8, value);
  });
}

function writeRela(buf: Uint8Array, i: number, offset: number, type: number, sym: number, addend: number): void {
  write64(buf, i * RELA_SIZE, offset);
  write64(buf, i * RELA_SIZE + 8, sym * 2 ** 32 + type);
  write64(buf, i * RELA_SIZE + 16, addend);
}

