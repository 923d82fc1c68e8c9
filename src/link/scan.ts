import { SecFlag, Visibility, type Atom } from '../obj/model.js';
import { LinkError, placeName } from '../obj/LinkError.js';
import { RelExpr, type Arch } from './arch/Arch.js';
import type { SectionPlan } from './outputSections.js';
import { SymState, isPreemptibleId, type Resolution } from './resolve.js';

/**
 * The relocation scan: before addresses exist, decide for every reference
 * whether it needs a GOT slot, and which GOT-indirect and initial-exec TLS
 * references are relaxed to direct ones. In a static executable every
 * defined symbol's address and thread-pointer offset is a link-time
 * constant, so relaxation applies wherever the instruction allows it.
 *
 * The decision table (output kind: static executable):
 *
 *   expression        | defined symbol           | undefined weak
 *   ------------------+--------------------------+----------------
 *   GotPC             | relax if insn allows,    | GOT slot (0)
 *                     | else GOT slot (address)  |
 *   GotPagePC, Got    | GOT slot (address)       | GOT slot (0)
 *   GotTPRel*         | relax to local-exec if   | error
 *                     | insn allows, else slot   |
 *                     | holding the TP offset    |
 */

export const enum GotDecision {
  /** Not a GOT reference. */
  None,
  /** Rewritten to address the symbol directly. */
  Relax,
  /** Uses a GOT slot. */
  Slot,
}

export const enum GotSlotKind {
  Address = 0,
  TPOffset = 1,
  /** General dynamic: the module id and the offset in its TLS block (two slots). */
  TlsGd = 2,
  /** Local dynamic: the module id of this output and 0 (two slots, one pair per output). */
  TlsLd = 3,
  /** A TLS descriptor: the resolver and its argument (two slots). */
  TlsDesc = 4,
}

/** Whether a kind takes two consecutive slots. */
export function isTlsPair(kind: GotSlotKind): boolean {
  return kind === GotSlotKind.TlsGd || kind === GotSlotKind.TlsLd || kind === GotSlotKind.TlsDesc;
}

export interface GotSlot {
  file: number;
  sym: number;
  kind: GotSlotKind;
  /** The first reference that needed it, `file:(section+0xoff)`, for messages. */
  where: string;
  /** The second slot of a pair (isTlsPair). */
  second?: boolean;
}

export interface GotPlan {
  slots: GotSlot[];
  /** Key (see slotKey) -> slot index. */
  index: Map<string, number>;
  /**
   * The atoms with relaxed TLS sequences, and the relocations the relaxation
   * makes void (tlsRelaxedAway): found once here, for the passes after it,
   * rather than by each pass looking at every relocation again.
   */
  relaxedAway: Map<Atom, Set<number>>;
}

export function isTlsGotExpr(e: RelExpr): boolean {
  return e === RelExpr.GotTPRelPC || e === RelExpr.GotTPRelPagePC || e === RelExpr.GotTPRel;
}

export function isGotExpr(e: RelExpr): boolean {
  return e === RelExpr.GotPC || e === RelExpr.GotPagePC || e === RelExpr.Got || e === RelExpr.GotRelPage || isTlsGotExpr(e);
}

/** The key of a GOT slot: globals by symbol id, locals by file and index; the one local-dynamic pair. */
export function slotKey(res: Resolution, plan: SectionPlan, file: number, sym: number, kind: GotSlotKind): string {
  if (kind === GotSlotKind.TlsLd) return `${kind}module`;
  const f = plan.files[file];
  if (sym >= f.firstGlobal && file !== plan.internal) return `${kind}g${res.globalIds[file][sym]}`;
  return `${kind}l${file}:${sym}`;
}

/** Whether a file's symbol resolved to nothing (an undefined weak reference). */
export type UndefWeakTest = (file: number, sym: number) => boolean;

/**
 * What a GOT-indirect reference becomes. A preemptible symbol (one a shared
 * library defines) keeps its slot: its address or TP offset is known only
 * at load time.
 */
export function gotDecision(arch: Arch, tests: GotTests, file: number, atom: Atom, k: number, expr: RelExpr): GotDecision {
  if (!isGotExpr(expr)) return GotDecision.None;
  const data = atom.data!;
  const rs = atom.relocs;
  if (tests.isPreemptible(file, rs.sym(k))) return GotDecision.Slot;
  if (isTlsGotExpr(expr)) return !tests.sharedOutput && arch.canRelaxTlsIeToLe(data, rs.offset(k), rs.type(k)) ? GotDecision.Relax : GotDecision.Slot;
  if (expr !== RelExpr.GotPC) return GotDecision.Slot;
  return !tests.isUndefWeak(file, rs.sym(k)) && arch.canRelaxGot(data, rs.offset(k), rs.type(k), rs.addend(k)) ? GotDecision.Relax : GotDecision.Slot;
}

export interface GotTests {
  isUndefWeak: UndefWeakTest;
  isPreemptible: UndefWeakTest;
  /**
   * A shared library: the thread pointer's distance to its TLS block is not
   * a link-time constant, so no TLS access is relaxed.
   */
  sharedOutput: boolean;
}

/** Whether a TLS access to a file's symbol is rewritten to local-exec (an executable's own symbol). */
export function relaxesTls(tests: GotTests, file: number, sym: number): boolean {
  return !tests.sharedOutput && !tests.isPreemptible(file, sym);
}

/** The GOT entry kind of an unrelaxed general- or local-dynamic reference or descriptor. */
export function tlsPairKind(got: 'gd' | 'ld' | 'desc'): GotSlotKind {
  return got === 'gd' ? GotSlotKind.TlsGd : got === 'ld' ? GotSlotKind.TlsLd : GotSlotKind.TlsDesc;
}

export function preemptibleIn(res: Resolution, plan: SectionPlan): UndefWeakTest {
  return (file, sym) => {
    if (sym < plan.files[file].firstGlobal || file === plan.internal) return false;
    return isPreemptibleId(res, res.globalIds[file][sym]);
  };
}

/** The GOT slot kind a GOT expression needs. */
export function gotSlotKind(expr: RelExpr): GotSlotKind {
  return isTlsGotExpr(expr) ? GotSlotKind.TPOffset : GotSlotKind.Address;
}

export function undefWeakIn(res: Resolution, plan: SectionPlan): UndefWeakTest {
  return (file, sym) => {
    if (sym < plan.files[file].firstGlobal || file === plan.internal) return false;
    const st = res.symbols[res.globalIds[file][sym]].state;
    return st === SymState.Undefined || st === SymState.Lazy;
  };
}

/**
 * The relocations a relaxed TLS sequence makes void: those inside the bytes
 * a general- or local-dynamic sequence spans, other than its first (the call
 * to __tls_get_addr). Null when there are none. `relaxes(sym)` says whether
 * a sequence for that symbol is relaxed at all (see relaxesTls).
 */
export function tlsRelaxedAway(arch: Arch, atom: Atom, relaxes: (sym: number) => boolean): Set<number> | null {
  let out: Set<number> | null = null;
  const rs = atom.relocs;
  for (let i = 0; i < rs.length; i++) {
    const e = arch.relExpr(rs.type(i));
    if (e !== RelExpr.TlsGd && e !== RelExpr.TlsLd) continue;
    if (!relaxes(rs.sym(i))) continue;
    const seq = arch.tlsSequence(rs.type(i));
    if (!seq) continue;
    const at = rs.offset(i);
    for (let j = 0; j < rs.length; j++) {
      const q = rs.offset(j);
      if (j !== i && q >= at - seq.before && q < at + seq.after) (out ??= new Set()).add(j);
    }
  }
  return out;
}

/** `allowUndefined`: a shared library, whose undefined symbols other modules define at load time. */
export function scanRelocations(arch: Arch, res: Resolution, plan: SectionPlan, allowUndefined = false): GotPlan {
  const got: GotPlan = { slots: [], index: new Map(), relaxedAway: new Map() };
  const tests: GotTests = { isUndefWeak: undefWeakIn(res, plan), isPreemptible: preemptibleIn(res, plan), sharedOutput: allowUndefined };
  // `where` names the first reference, for errors: built only when a slot is made.
  const addSlot = (file: number, sym: number, kind: GotSlotKind, atom: Atom, offset: number) => {
    const key = slotKey(res, plan, file, sym, kind);
    if (got.index.has(key)) return;
    const where = placeName(plan.files[file].name, atom.name, offset);
    got.index.set(key, got.slots.length);
    got.slots.push({ file, sym, kind, where });
    if (isTlsPair(kind)) got.slots.push({ file, sym, kind, where, second: true });
  };
  const undefinedRefs = new Map<number, Set<string>>();
  // Which globals a reference may not leave undefined, by id: one byte per global
  // rather than a look at each global's record for every relocation against it.
  const mustDefine = new Uint8Array(res.symbols.length);
  res.symbols.forEach((g, id) => {
    if (g.state === SymState.Undefined && !g.weak && !(allowUndefined && g.visibility === Visibility.Default)) mustDefine[id] = 1;
  });
  for (const sec of plan.sections) {
    for (const ref of sec.atoms) {
      const file = plan.files[ref.file];
      const atom = file.atoms[ref.atom];
      const relaxedAway = tlsRelaxedAway(arch, atom, (sym) => relaxesTls(tests, ref.file, sym));
      if (relaxedAway) got.relaxedAway.set(atom, relaxedAway);
      const rs = atom.relocs;
      for (let k = 0; k < rs.length; k++) {
        const type = rs.type(k), sym = rs.sym(k);
        if (relaxedAway?.has(k)) continue;
        if (sym >= file.firstGlobal && ref.file !== plan.internal) {
          const id = res.globalIds[ref.file][sym];
          if (mustDefine[id]) {
            let files = undefinedRefs.get(id);
            if (!files) undefinedRefs.set(id, (files = new Set()));
            files.add(file.name);
          }
        }
        const expr = arch.relExpr(type);
        if (expr === undefined) {
          throw new LinkError(`${placeName(file.name, atom.name, rs.offset(k))}: unsupported relocation type ${arch.relName(type)} against symbol '${file.symbols[sym].name}'`);
        }
        if (!(atom.flags & SecFlag.Alloc) && isGotExpr(expr)) {
          throw new LinkError(`${placeName(file.name, atom.name, rs.offset(k))}: ${arch.relName(type)} in a non-allocated section`);
        }
        if ((expr === RelExpr.TlsGd || expr === RelExpr.TlsLd) && !relaxesTls(tests, ref.file, sym)) {
          const d = arch.tlsDynamic(type);
          if (!d) throw new LinkError(`${placeName(file.name, atom.name, rs.offset(k))}: ${arch.relName(type)} can only be relaxed, and ${tests.sharedOutput ? 'a shared library cannot relax it' : `'${file.symbols[sym].name}' is another module's`}`);
          addSlot(ref.file, sym, tlsPairKind(d.got), atom, rs.offset(k));
          continue;
        }
        if (gotDecision(arch, tests, ref.file, atom, k, expr) !== GotDecision.Slot) continue;
        addSlot(ref.file, sym, gotSlotKind(expr), atom, rs.offset(k));
      }
    }
  }
  if (undefinedRefs.size) {
    const lines = [...undefinedRefs].map(([id, files]) => {
      const names = [...files];
      const more = names.length > 8 ? ` and ${names.length - 8} more` : '';
      return `undefined symbol: ${res.symbols[id].name} (referenced by ${names.slice(0, 8).join(', ')}${more})`;
    });
    throw new LinkError(lines.join('\n'));
  }
  return got;
}
