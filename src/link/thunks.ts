import { AtomKind, SecFlag } from '../obj/model.js';
import { SHT } from '../obj/elfConstants.js';
import { RelExpr, type Arch } from './arch/Arch.js';
import { alignTo } from './align.js';
import { atomOffsets, sectionAlign, type Layout, type PlacementPolicy } from './layout.js';
import { addInternalAtom, insertIntoSection, type SectionPlan } from './outputSections.js';
import type { RelocContext } from './relocate.js';
import { SymState, type Resolution } from './resolve.js';
import { TargetState } from './symbols.js';

/**
 * Range-extension thunks. A direct branch (RelExpr.Branch: AArch64 B and BL)
 * reaches only +-arch.branchRange (128 MiB); a branch to a target beyond that
 * goes to a thunk nearby, which jumps anywhere (arch.writeThunk). lld does
 * the same with its thunk sections; this is a simpler, deterministic form.
 *
 * Thunks must exist before addresses do, since they take space among the
 * code, so they are planned for an upper bound:
 *
 * - Only when needed: if all code together spans less than the range (minus
 *   a margin for the estimate's error), no branch can be out of range and the
 *   link is exactly what it would be without this pass.
 * - Otherwise each code section is cut into regions of at most half the
 *   range (minus the margin), at atom boundaries; an atom larger than that is
 *   a region of its own. A pool may sit at every region boundary, including
 *   the section's start and end.
 * - Each branch that might be out of range (its target's estimated distance
 *   is not safely within range, or its target is not code) is assigned to
 *   the boundary nearest to it, and that boundary's pool gets one thunk per
 *   distinct target assigned to it. Pools with no thunks are not made.
 *
 * After layout, a branch that is out of range takes the thunk for its target
 * in the nearest pool it reaches (relocate.ts asks through RelocContext);
 * branches in range stay direct. Only the thunks some branch uses are written:
 * the rest of a pool keeps the code fill, a trap.
 */

/** Kept from the range on every estimate: positions before layout are approximate. */
const MARGIN = 4 * 1024 * 1024;
/** Thunks are instructions; AArch64, the one target with a finite range, aligns them to 4. */
const POOL_ALIGN = 4;

/** What a thunk jumps to: S + A of a reference, keyed as thunkKey does. */
interface ThunkTarget {
  key: string;
  file: number;
  sym: number;
  addend: number;
}

export interface ThunkPool {
  /** The pool's internal atom. */
  atom: number;
  /** One thunk slot per target, in this order, arch.thunkSize bytes each. */
  targets: ThunkTarget[];
}

export interface ThunkPlan {
  pools: ThunkPool[];
}

/** One thunk slot, once addresses are known. */
interface ThunkSlot {
  addr: number;
  /** File offset of the slot in the image. */
  offset: number;
  target: ThunkTarget;
  /** Set when a branch takes this thunk: only those are written. */
  used: boolean;
}

/** Target key -> its thunk slots, by ascending address. */
export type ThunkSlots = ReadonlyMap<string, readonly ThunkSlot[]>;

/** The key of a branch target: globals by symbol id, locals by file and index; with the addend. */
export function thunkKey(res: Resolution, plan: SectionPlan, file: number, sym: number, addend: number): string {
  const f = plan.files[file];
  if (sym >= f.firstGlobal && file !== plan.internal) return `g${res.globalIds[file][sym]}+${addend}`;
  return `l${file}:${sym}+${addend}`;
}

/** Whether a direct branch covers `delta` bytes (the field is signed: [-range, range)). */
export function inBranchRange(arch: Arch, delta: number): boolean {
  return delta >= -arch.branchRange && delta < arch.branchRange;
}

interface CodeSection {
  index: number;
  /** Estimated start, from the first code section's start. */
  start: number;
  offsets: number[];
  used: number;
}

interface Boundary {
  /** The pool goes before this atom of the section (atoms.length: at its end). */
  before: number;
  /** Estimated position. */
  pos: number;
  targets: Map<string, ThunkTarget>;
}

/** Adds thunk pools to the code sections where branches may not reach their targets. */
export function planThunks(arch: Arch, res: Resolution, plan: SectionPlan, policy: PlacementPolicy): ThunkPlan {
  if (!Number.isFinite(arch.branchRange)) return { pools: [] };

  // Code sections in output order (as layout sorts them), with each atom's estimated position.
  const estimate = plan.files.map((f) => new Float64Array(f.atoms.length).fill(NaN));
  const code: CodeSection[] = [];
  let span = 0;
  let alignSlop = 0;
  plan.sections
    .map((s, index) => ({ s, index }))
    .filter(({ s }) => s.flags & SecFlag.Alloc && s.flags & SecFlag.Exec && s.atoms.length > 0)
    .sort((a, b) => a.s.rank - b.s.rank || a.index - b.index)
    .forEach(({ s, index }) => {
      const align = sectionAlign(plan, s);
      const start = alignTo(span, align);
      const { offsets, used } = atomOffsets(plan, s, policy);
      s.atoms.forEach((r, k) => {
        estimate[r.file][r.atom] = start + offsets[k];
      });
      code.push({ index, start, offsets, used });
      span = start + used + policy.headroom(s, used);
      alignSlop += align;
    });
  if (span < arch.branchRange - MARGIN) return { pools: [] };

  // Every branch in code, where it is and where its target is (NaN: not code, or unknown).
  const branches: Array<{ sec: number; at: number; dest: number; target: ThunkTarget }> = [];
  code.forEach((c, sec) => {
    for (const r of plan.sections[c.index].atoms) {
      const atom = plan.files[r.file].atoms[r.atom];
      for (const rel of atom.relocs) {
        if (arch.relExpr(rel.type) !== RelExpr.Branch) continue;
        branches.push({
          sec,
          at: estimate[r.file][r.atom] + rel.offset,
          dest: estimatedTarget(res, plan, estimate, r.file, rel.sym) + rel.addend,
          target: { key: thunkKey(res, plan, r.file, rel.sym, rel.addend), file: r.file, sym: rel.sym, addend: rel.addend },
        });
      }
    }
  });
  // How far layout may move things from the estimate: the pools themselves
  // (at most a thunk per branch) and alignment padding.
  const slop = branches.length * (arch.thunkSize + POOL_ALIGN) + 2 * alignSlop;
  const safe = arch.branchRange - MARGIN - slop;

  // Region boundaries: where pools may go.
  const regionMax = arch.branchRange / 2 - MARGIN;
  const bounds: Boundary[][] = code.map((c) => {
    const atoms = plan.sections[c.index].atoms;
    const list: Boundary[] = [{ before: 0, pos: c.start, targets: new Map() }];
    let regionStart = c.start;
    for (let k = 1; k < atoms.length; k++) {
      const pos = c.start + c.offsets[k];
      const end = pos + plan.files[atoms[k].file].atoms[atoms[k].atom].size;
      if (end - regionStart <= regionMax) continue;
      list.push({ before: k, pos, targets: new Map() });
      regionStart = pos;
    }
    list.push({ before: atoms.length, pos: c.start + c.used, targets: new Map() });
    return list;
  });

  // Each branch that may be out of range gets a thunk for its target at the boundary nearest to it.
  for (const b of branches) {
    if (Math.abs(b.dest - b.at) < safe) continue;
    let best = bounds[b.sec][0];
    for (const bound of bounds[b.sec]) if (Math.abs(bound.pos - b.at) < Math.abs(best.pos - b.at)) best = bound;
    if (!best.targets.has(b.target.key)) best.targets.set(b.target.key, b.target);
  }

  // The pools: internal atoms, inserted from the end of each section so earlier positions stay valid.
  const internal = plan.files[plan.internal];
  const pools: ThunkPool[] = [];
  code.forEach((c, sec) => {
    const name = plan.sections[c.index].name;
    const made = bounds[sec].filter((b) => b.targets.size > 0).map((b) => {
      const size = b.targets.size * arch.thunkSize;
      const atom = addInternalAtom(internal, {
        name: `${name}.thunks`, kind: AtomKind.Code, flags: SecFlag.Alloc | SecFlag.Exec, align: POOL_ALIGN,
        size, data: trapFilled(size, arch.trapFill), rawType: SHT.PROGBITS,
      });
      pools.push({ atom, targets: [...b.targets.values()] });
      return { atom, before: b.before };
    });
    for (const m of made.reverse()) insertIntoSection(plan, c.index, m.before, m.atom);
  });
  return { pools };
}

/** The estimated address of a file's symbol, or NaN when it is not in code (or has no address yet). */
function estimatedTarget(res: Resolution, plan: SectionPlan, estimate: Float64Array[], file: number, sym: number): number {
  let f = file;
  let s = plan.files[file].symbols[sym];
  if (sym >= plan.files[file].firstGlobal && file !== plan.internal) {
    const g = res.symbols[res.globalIds[file][sym]];
    if (g.state !== SymState.Defined) return NaN;
    f = g.file;
    s = res.files[g.file].symbols[g.sym];
  }
  if (s.atom < 0 || plan.mergeMaps[f][s.atom]) return NaN;
  return estimate[f][s.atom] + s.value;
}

function trapFilled(size: number, trap: Uint8Array): Uint8Array {
  const data = new Uint8Array(size);
  for (let p = 0; p + trap.length <= size; p += trap.length) data.set(trap, p);
  return data;
}

/** Where each thunk slot landed. */
export function locateThunks(arch: Arch, thunks: ThunkPlan, plan: SectionPlan, layout: Layout): ThunkSlots {
  const slots = new Map<string, ThunkSlot[]>();
  for (const pool of thunks.pools) {
    const sec = plan.sections[plan.atomOut[plan.internal][pool.atom]];
    const base = layout.atomAddr[plan.internal][pool.atom];
    pool.targets.forEach((target, i) => {
      const addr = base + i * arch.thunkSize;
      const slot: ThunkSlot = { addr, offset: sec.offset + (addr - sec.addr), target, used: false };
      const list = slots.get(target.key);
      if (list) list.push(slot); else slots.set(target.key, [slot]);
    });
  }
  for (const list of slots.values()) list.sort((a, b) => a.addr - b.addr);
  return slots;
}

/** The thunk for `key` nearest to a branch at P that the branch reaches, marked used; undefined if none. */
export function useThunk(arch: Arch, slots: ThunkSlots, key: string, P: number): number | undefined {
  let best: ThunkSlot | undefined;
  for (const slot of slots.get(key) ?? []) {
    if (!inBranchRange(arch, slot.addr - P)) continue;
    if (!best || Math.abs(slot.addr - P) < Math.abs(best.addr - P)) best = slot;
  }
  if (!best) return undefined;
  best.used = true;
  return best.addr;
}

/** Writes the code of the thunks branches use, now that their targets have addresses. */
export function writeThunks(ctx: RelocContext, slots: ThunkSlots, image: Uint8Array): void {
  for (const list of slots.values()) {
    for (const slot of list) {
      if (!slot.used) continue;
      const t = ctx.target(slot.target.file, slot.target.sym, slot.target.addend);
      // A branch to a discarded section is an error at the branch (relocate.ts), never a thunk.
      if (t.state === TargetState.Discarded) continue;
      ctx.arch.writeThunk(image, slot.offset, slot.addr, t.S + t.A);
    }
  }
}
