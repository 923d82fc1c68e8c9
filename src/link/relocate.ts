import { SecFlag, type Atom } from '../obj/model.js';
import { LinkError, placeName } from '../obj/LinkError.js';
import { RelExpr, write64, type Arch, type RelocSite } from './arch/Arch.js';
import type { ObjectFile } from '../obj/model.js';
import type { TlsTemplate } from './layout.js';
import { GotDecision, GotSlotKind, gotDecision, gotSlotKind, relaxesTls, tlsPairKind, tlsRelaxedAway, type GotSlot, type UndefWeakTest } from './scan.js';
import { TargetState, type Target } from './symbols.js';
import { inBranchRange } from './thunks.js';

/**
 * Copies every placed atom into the image and applies its relocations. The
 * value of each relocation is computed here from its generic expression with
 * the ABI's names (S, A, P, G, TP); the architecture only encodes it.
 */

/**
 * What relocation needs to know of the rest of the link. A full link answers
 * from its resolution and layout; an incremental patch answers from the prior
 * state for everything it did not change.
 */
export interface RelocContext {
  arch: Arch;
  files: readonly ObjectFile[];
  /** S (and A, Z) of a file's symbol. */
  target(file: number, sym: number, addend: number): Target;
  isUndefWeak: UndefWeakTest;
  /** Whether the dynamic loader decides a file's symbol's address (a shared library's symbol, or a library's own export). */
  isPreemptible: UndefWeakTest;
  /** A shared library: TLS is never relaxed, DTPOFF is an offset in its own block. */
  sharedOutput: boolean;
  /** Address of the GOT slot of this kind for a file's symbol. */
  gotSlotAddr(file: number, sym: number, kind: GotSlotKind): number;
  tls: TlsTemplate | null;
  /** Address of _GLOBAL_OFFSET_TABLE_ (the GOT's start), for GOT-relative expressions. */
  gotBase: number;
  /**
   * The address of a range-extension thunk to S + A (thunks.ts) that a
   * branch at P reaches, for a branch that does not reach its target; absent
   * or undefined when the link has none (a patch never adds thunks).
   */
  thunkFor?(file: number, sym: number, addend: number, P: number): number | undefined;
  /** The relocations relaxed TLS sequences make void, by atom, as scanRelocations found them; found per atom when absent. */
  relaxedAway?: ReadonlyMap<Atom, Set<number>>;
  /** A PE image: its preferred base, which RVAs (COFF ADDR32NB) are measured from. */
  imageBase?: number;
  /** A PE image: the 1-based index and the start of the output section holding `addr` (COFF SECTION, SECREL). */
  outputSectionOf?(addr: number): { index: number; addr: number } | undefined;
}

/** Work counters: what a link did, for tests and for the incremental claims. */
export interface WorkCounters {
  atomsWritten: number;
  relocsApplied: number;
}

const page = (x: number): number => Math.floor(x / 4096) * 4096;

/** The thread-pointer offset of `addr`; `where` names the reference for the error when there is no TLS. */
export function tpOffsetOf(ctx: RelocContext, addr: number, where: () => string): number {
  const tls = ctx.tls;
  if (!tls) throw new LinkError(`${where()}: a TLS relocation, but the output has no TLS segment (is the symbol really thread-local?)`);
  return ctx.arch.tpOffset(addr - tls.addr, tls.memSize, tls.align);
}

/** Copies an atom into `image` at file offset `base` (address `addr`) and relocates it there. */
export function writeAtom(ctx: RelocContext, image: Uint8Array, base: number, addr: number, fileIdx: number, atom: Atom, counters: WorkCounters): void {
  counters.atomsWritten++;
  if (!atom.data) return;
  image.set(atom.data, base);
  if (atom.relocs.length) applyRelocations(ctx, image, base, addr, fileIdx, atom, counters);
}

/**
 * The relocation being applied, as errors name it: one per atom, moved along
 * its relocations (an error is thrown at once, never kept), so that the
 * hundreds of thousands of relocations of a link allocate nothing for it.
 */
class Site implements RelocSite {
  offset = 0;
  target: Target | null = null;
  constructor(private readonly fileName: string, private readonly atomName: string) {}
  describe(): string {
    return placeName(this.fileName, this.atomName, this.offset);
  }
  symbol(): string {
    return this.target?.name ?? '';
  }
}

function applyRelocations(ctx: RelocContext, image: Uint8Array, base: number, addr: number, fileIdx: number, atom: Atom, counters: WorkCounters): void {
  const { arch } = ctx;
  const file = ctx.files[fileIdx];
  const alloc = (atom.flags & SecFlag.Alloc) !== 0;
  const tombstone = atom.name === '.debug_ranges' || atom.name === '.debug_loc' ? 1 : 0;
  const relaxedAway = ctx.relaxedAway ? ctx.relaxedAway.get(atom) : tlsRelaxedAway(arch, atom, (sym) => relaxesTls(ctx, fileIdx, sym));
  const site = new Site(file.name, atom.name);
  const rs = atom.relocs;
  for (let k = 0; k < rs.length; k++) {
    const type = rs.type(k), sym = rs.sym(k), offset = rs.offset(k), addend = rs.addend(k);
    const expr = arch.relExpr(type)!;
    if (expr === RelExpr.None || relaxedAway?.has(k)) continue;
    counters.relocsApplied++;
    const t = ctx.target(fileIdx, sym, addend);
    const P = addr + offset;
    const off = base + offset;
    site.offset = offset;
    site.target = t;
    if (t.state === TargetState.Discarded) {
      // Debug info and unwind tables may refer to code a COMDAT group discarded.
      if (!alloc || atom.flags & SecFlag.EhFrame) {
        arch.applyReloc(image, off, type, tombstone, P, site);
        continue;
      }
      throw new LinkError(`${site.describe()}: relocation ${arch.relName(type)} refers to '${t.name}', which is in a discarded section`);
    }
    // An undefined weak TLS symbol sits at offset 0 of the TLS segment, as in lld.
    const tlsExpr = expr === RelExpr.TPRel || expr === RelExpr.GotTPRelPC || expr === RelExpr.GotTPRelPagePC || expr === RelExpr.GotTPRel
      || expr === RelExpr.DTPRel || expr === RelExpr.TlsGd || expr === RelExpr.TlsLd;
    const S = t.state === TargetState.UndefWeak && tlsExpr && ctx.tls ? ctx.tls.addr : t.S;
    const A = t.A;
    const decision = gotDecision(arch, ctx, fileIdx, atom, k, expr);
    const G = decision === GotDecision.Slot ? ctx.gotSlotAddr(fileIdx, sym, gotSlotKind(expr)) : 0;
    let val: number;
    switch (expr) {
      case RelExpr.Abs: val = S + A; break;
      case RelExpr.PC: val = S + A - P; break;
      case RelExpr.Branch: {
        val = S + A - P;
        const thunk = inBranchRange(arch, val) ? undefined : ctx.thunkFor?.(fileIdx, sym, addend, P);
        if (thunk !== undefined) val = thunk - P;
        break;
      }
      case RelExpr.PagePC: val = page(S + A) - page(P); break;
      case RelExpr.GotPC:
        if (decision === GotDecision.Relax) {
          arch.applyRelaxedGot(image, off, type, S + A - P, P, site);
          continue;
        }
        val = G + A - P;
        break;
      case RelExpr.GotPagePC: val = page(G + A) - page(P); break;
      case RelExpr.Got: val = G + A; break;
      case RelExpr.GotRelPage: val = G + A - page(ctx.gotBase); break;
      case RelExpr.TPRel: val = tpOffsetOf(ctx, S + A, () => site.describe()); break;
      case RelExpr.GotTPRelPC: case RelExpr.GotTPRelPagePC: case RelExpr.GotTPRel:
        if (decision === GotDecision.Relax) {
          arch.applyTlsIeToLe(image, off, type, tpOffsetOf(ctx, S, () => site.describe()) + A, site);
          continue;
        }
        val = expr === RelExpr.GotTPRelPC ? G + A - P : expr === RelExpr.GotTPRelPagePC ? page(G + A) - page(P) : G + A;
        break;
      case RelExpr.DTPRel:
        // In an executable's code, only a relaxed local-dynamic sequence uses it: the offset is from TP now.
        val = alloc && !ctx.sharedOutput ? tpOffsetOf(ctx, S + A, () => site.describe()) : ctx.tls ? S + A - ctx.tls.addr : S + A;
        break;
      case RelExpr.TlsGd: case RelExpr.TlsLd: {
        if (relaxesTls(ctx, fileIdx, sym)) {
          if (expr === RelExpr.TlsGd) arch.applyTlsGdToLe(image, off, type, tpOffsetOf(ctx, S, () => site.describe()) + A, site);
          else arch.applyTlsLdToLe(image, off, type, site);
          continue;
        }
        // Not relaxed: the place addresses the GOT pair (or descriptor) the dynamic loader fills.
        const d = arch.tlsDynamic(type)!;
        if (d.expr === RelExpr.None) continue;
        const pair = ctx.gotSlotAddr(fileIdx, sym, tlsPairKind(d.got));
        val = d.expr === RelExpr.GotPC ? pair + A - P : d.expr === RelExpr.GotPagePC ? page(pair + A) - page(P) : pair + A;
        break;
      }
      case RelExpr.Size: val = t.Z + A; break;
      case RelExpr.ImageRel: val = S + A - (ctx.imageBase ?? 0); break;
      case RelExpr.SecRel: case RelExpr.SecIndex: {
        const sec = ctx.outputSectionOf?.(S);
        if (!sec) throw new LinkError(`${site.describe()}: relocation ${arch.relName(type)} refers to '${t.name}', which is not in an output section`);
        val = expr === RelExpr.SecIndex ? sec.index : S + A - sec.addr;
        break;
      }
      default: throw new LinkError(`${site.describe()}: unhandled relocation ${arch.relName(type)}`);
    }
    arch.applyReloc(image, off, type, val, P, site);
  }
}

/** The GOT's contents: in a static executable each slot holds a final value, no dynamic relocation. */
export function gotContents(ctx: RelocContext, slots: readonly GotSlot[]): Uint8Array {
  const data = new Uint8Array(slots.length * 8);
  slots.forEach((slot, i) => {
    // A preemptible symbol: the dynamic loader fills the slot (GLOB_DAT, TPOFF64, DTPMOD64/DTPOFF64, TLSDESC).
    if (ctx.isPreemptible(slot.file, slot.sym)) return;
    // Module ids and descriptors are the loader's; the second slot of a general-dynamic pair is the symbol's
    // offset in this module's TLS block.
    if (slot.kind === GotSlotKind.TlsLd || slot.kind === GotSlotKind.TlsDesc || (slot.kind === GotSlotKind.TlsGd && !slot.second)) return;
    const t = ctx.target(slot.file, slot.sym, 0);
    if (slot.kind === GotSlotKind.TlsGd) {
      write64(data, i * 8, t.state === TargetState.Defined && ctx.tls ? t.S - ctx.tls.addr : 0);
      return;
    }
    let v = t.state === TargetState.Defined ? t.S : 0;
    if (slot.kind === GotSlotKind.TPOffset) {
      if (t.state === TargetState.Discarded) throw new LinkError(`${slot.where}: TLS symbol '${t.name}' is in a section that is not in the output`);
      // A shared library's own block is placed by the loader: TPOFF64 against it, with the offset as addend.
      if (ctx.sharedOutput) return;
      v = tpOffsetOf(ctx, t.state === TargetState.Defined ? t.S : ctx.tls?.addr ?? 0, () => slot.where);
    }
    write64(data, i * 8, v);
  });
  return data;
}
