import { SecFlag, type Atom, type Reloc } from '../obj/model.js';
import { LinkError, hex } from '../obj/LinkError.js';
import { RelExpr, type Arch } from './arch/Arch.js';
import type { SectionPlan } from './outputSections.js';
import { SymState, type Resolution } from './resolve.js';

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
}

export interface GotSlot {
  file: number;
  sym: number;
  kind: GotSlotKind;
}

export interface GotPlan {
  slots: GotSlot[];
  /** Key (see slotKey) -> slot index. */
  index: Map<string, number>;
}

function isTlsGotExpr(e: RelExpr): boolean {
  return e === RelExpr.GotTPRelPC || e === RelExpr.GotTPRelPagePC || e === RelExpr.GotTPRel;
}

function isGotExpr(e: RelExpr): boolean {
  return e === RelExpr.GotPC || e === RelExpr.GotPagePC || e === RelExpr.Got || isTlsGotExpr(e);
}

/** The key of a GOT slot: globals by symbol id, locals by file and index. */
export function slotKey(res: Resolution, plan: SectionPlan, file: number, sym: number, kind: GotSlotKind): string {
  const f = plan.files[file];
  if (sym >= f.firstGlobal && file !== plan.internal) return `${kind}g${res.globalIds[file][sym]}`;
  return `${kind}l${file}:${sym}`;
}

export function gotDecision(arch: Arch, res: Resolution, plan: SectionPlan, file: number, atom: Atom, r: Reloc, expr: RelExpr): GotDecision {
  if (!isGotExpr(expr)) return GotDecision.None;
  const data = atom.data!;
  if (isTlsGotExpr(expr)) return arch.canRelaxTlsIeToLe(data, r.offset, r.type) ? GotDecision.Relax : GotDecision.Slot;
  if (expr !== RelExpr.GotPC) return GotDecision.Slot;
  const f = plan.files[file];
  const undefWeak = r.sym >= f.firstGlobal && (() => {
    const st = res.symbols[res.globalIds[file][r.sym]].state;
    return st === SymState.Undefined || st === SymState.Lazy;
  })();
  return !undefWeak && arch.canRelaxGot(data, r.offset, r.type, r.addend) ? GotDecision.Relax : GotDecision.Slot;
}

export function scanRelocations(arch: Arch, res: Resolution, plan: SectionPlan): GotPlan {
  const got: GotPlan = { slots: [], index: new Map() };
  for (const sec of plan.sections) {
    for (const ref of sec.atoms) {
      const file = plan.files[ref.file];
      const atom = file.atoms[ref.atom];
      for (const r of atom.relocs) {
        const expr = arch.relExpr(r.type);
        if (expr === undefined) {
          throw new LinkError(`${file.name}:(${atom.name}+${hex(r.offset)}): unsupported relocation type ${arch.relName(r.type)} against symbol '${file.symbols[r.sym].name}'`);
        }
        if (!(atom.flags & SecFlag.Alloc) && isGotExpr(expr)) {
          throw new LinkError(`${file.name}:(${atom.name}+${hex(r.offset)}): ${arch.relName(r.type)} in a non-allocated section`);
        }
        if (gotDecision(arch, res, plan, ref.file, atom, r, expr) !== GotDecision.Slot) continue;
        const kind = isTlsGotExpr(expr) ? GotSlotKind.TPOffset : GotSlotKind.Address;
        const key = slotKey(res, plan, ref.file, r.sym, kind);
        if (!got.index.has(key)) {
          got.index.set(key, got.slots.length);
          got.slots.push({ file: ref.file, sym: r.sym, kind });
        }
      }
    }
  }
  return got;
}
