import { SymPlace, SymType, type InputSymbol } from '../obj/model.js';
import { LinkError } from '../obj/LinkError.js';
import { mergedOffset } from './mergeSections.js';
import type { Layout } from './layout.js';
import type { SectionPlan } from './outputSections.js';
import { SymState, isPreemptibleId, type GlobalSymbol, type Resolution } from './resolve.js';

/**
 * Symbol values once addresses are known. A reference is (file, symbol
 * index); globals are looked up through the resolution, locals directly.
 */

/** Where a reference's target ended up. */
export const enum TargetState {
  /** A real address (or absolute value). */
  Defined,
  /** An undefined weak symbol: value 0. */
  UndefWeak,
  /** In a section that was discarded (a losing COMDAT group): a tombstone. */
  Discarded,
}

export interface Target {
  state: TargetState;
  /** S, with the addend already folded in for section symbols of merge sections. */
  S: number;
  /** The addend still to add (0 when it was folded into S). */
  A: number;
  /** The symbol's size, for SIZE relocations. */
  Z: number;
  /** A name for messages. */
  name: string;
}

/** An IFUNC the link gives a PLT entry: STT_GNU_IFUNC on a symbol defined in a section (see ifunc.ts). */
export function isIfunc(s: InputSymbol): boolean {
  return s.type === SymType.IFunc && s.atom >= 0;
}

export class SymbolValues {
  /**
   * The PLT entries of IFUNCs by key (see ifunc.ts): references to an IFUNC
   * resolve to its entry, not to its resolver.
   */
  ifuncEntry: (key: string) => number | undefined = () => undefined;
  /**
   * Where a shared library's symbol is in this program (dynamic.ts): its copy
   * or its PLT entry; undefined when it has neither (reached only through
   * the GOT or dynamic relocations).
   */
  sharedAddress: (gid: number) => number | undefined = () => undefined;

  constructor(
    readonly res: Resolution,
    readonly plan: SectionPlan,
    readonly layout: Layout,
    /** Values of linker-defined symbols (__init_array_start, _end, ...). */
    readonly synthetic: Map<string, number>,
  ) {}

  /** The global symbol a file's symbol index refers to, or undefined for locals. */
  global(file: number, sym: number): GlobalSymbol | undefined {
    const f = this.plan.files[file];
    if (sym < f.firstGlobal || file === this.plan.internal) return undefined;
    return this.res.symbols[this.res.globalIds[file][sym]];
  }

  target(file: number, sym: number, addend: number): Target {
    const g = this.global(file, sym);
    if (!g) {
      const s = this.plan.files[file].symbols[sym];
      if (isIfunc(s)) return this.viaPlt(`l${file}:${sym}`, s, addend, s.name);
      return this.definedIn(file, s, addend);
    }
    switch (g.state) {
      case SymState.Defined: {
        const s = this.res.files[g.file].symbols[g.sym];
        if (isIfunc(s)) return this.viaPlt(`g${this.res.globalIds[file][sym]}`, s, addend, g.name);
        // A shared library's preemptible function: its references go through its PLT entry.
        const plt = this.pltOf(file, sym);
        if (plt !== undefined) return { state: TargetState.Defined, S: plt, A: addend, Z: s.size, name: g.name };
        return this.definedIn(g.file, s, addend, g.name);
      }
      case SymState.Common: {
        const a = this.plan.commonAtoms.get(this.res.byName.get(g.name)!)!;
        const size = this.res.files[g.file].symbols[g.sym].size;
        return { state: TargetState.Defined, S: this.layout.atomAddr[this.plan.internal][a], A: addend, Z: size, name: g.name };
      }
      case SymState.Synthetic: {
        const v = this.synthetic.get(g.name);
        if (v === undefined) {
          // __start_X with no section X (none in the inputs, or --gc-sections removed them): 0 if only weakly referenced, as in lld.
          if (g.weak) return { state: TargetState.UndefWeak, S: 0, A: addend, Z: 0, name: g.name };
          throw new LinkError(`undefined symbol: ${g.name} (no section defines it)`);
        }
        return { state: TargetState.Defined, S: v, A: addend, Z: 0, name: g.name };
      }
      case SymState.Shared: {
        const size = this.res.shared[g.file].symbols[g.sym].size;
        return { state: TargetState.Defined, S: this.sharedAddress(this.res.globalIds[file][sym]) ?? 0, A: addend, Z: size, name: g.name };
      }
      default: {
        // A shared library's import: calls go through its PLT entry.
        const plt = this.pltOf(file, sym);
        if (plt !== undefined) return { state: TargetState.Defined, S: plt, A: addend, Z: 0, name: g.name };
        return { state: TargetState.UndefWeak, S: 0, A: addend, Z: 0, name: g.name };
      }
    }
  }

  /** The PLT entry of a preemptible global (a library's own export, or an import), if it has one. */
  private pltOf(file: number, sym: number): number | undefined {
    const id = this.res.globalIds[file][sym];
    return isPreemptibleId(this.res, id) ? this.sharedAddress(id) : undefined;
  }

  private viaPlt(key: string, s: InputSymbol, addend: number, name: string): Target {
    const at = this.ifuncEntry(key);
    if (at === undefined) throw new LinkError(`internal error: IFUNC '${name}' has no PLT entry`);
    return { state: TargetState.Defined, S: at, A: addend, Z: s.size, name };
  }

  /** The address the program uses for a global symbol: an IFUNC's PLT entry, else its definition. */
  programAddress(g: GlobalSymbol): number | undefined {
    if (g.state === SymState.Defined && isIfunc(this.res.files[g.file].symbols[g.sym])) {
      return this.ifuncEntry(`g${this.res.byName.get(g.name)}`) ?? this.globalAddress(g);
    }
    return this.globalAddress(g);
  }

  /** Where a symbol is defined, ignoring IFUNC redirection (the resolver's address). */
  definitionAddress(file: number, sym: number): number {
    const t = this.definedIn(file, this.plan.files[file].symbols[sym], 0);
    return t.S;
  }

  private definedIn(file: number, s: InputSymbol, addend: number, name = s.name): Target {
    if (s.atom === SymPlace.Absolute) return { state: TargetState.Defined, S: s.value, A: addend, Z: s.size, name };
    if (s.atom < 0) return { state: TargetState.Discarded, S: 0, A: addend, Z: 0, name };
    const map = this.plan.mergeMaps[file][s.atom];
    if (map) {
      // A section symbol's addend selects the piece; a named symbol's value does.
      const isSection = s.type === SymType.Section;
      const off = mergedOffset(map, isSection ? s.value + addend : s.value, this.plan.files[file].name);
      const base = this.layout.atomAddr[this.plan.internal][map.target];
      return { state: TargetState.Defined, S: base + off, A: isSection ? 0 : addend, Z: s.size, name };
    }
    const addr = this.layout.atomAddr[file][s.atom];
    if (Number.isNaN(addr)) return { state: TargetState.Discarded, S: 0, A: addend, Z: 0, name };
    return { state: TargetState.Defined, S: addr + s.value, A: addend, Z: s.size, name };
  }

  /** The address a global symbol has in the output, or undefined when it has none. */
  globalAddress(g: GlobalSymbol): number | undefined {
    switch (g.state) {
      case SymState.Defined: {
        const d = this.definedIn(g.file, this.res.files[g.file].symbols[g.sym], 0, g.name);
        return d.state === TargetState.Defined ? d.S : undefined;
      }
      case SymState.Common:
        return this.layout.atomAddr[this.plan.internal][this.plan.commonAtoms.get(this.res.byName.get(g.name)!)!];
      case SymState.Synthetic:
        return this.synthetic.get(g.name);
      case SymState.Shared:
        return this.sharedAddress(this.res.byName.get(g.name)!);
      default:
        return undefined;
    }
  }
}

/** A global's target as remembered by `rememberingTargets`: its name is looked up only for a message. */
class RememberedTarget implements Target {
  constructor(readonly state: TargetState, readonly S: number, readonly A: number, readonly Z: number, private readonly g: GlobalSymbol[], private readonly id: number) {}
  get name(): string {
    return this.g[this.id].name;
  }
}

/**
 * `values.target` for one pass over the relocations, remembering each
 * global's target by its id. A global's target does not depend on who refers
 * to it or with what addend (A is the addend as given), so after the first
 * reference the rest read three typed arrays instead of the four objects
 * behind it (the global, its definition, a merge map, an atom address),
 * which in a large link are each a cache miss away. Valid only while the
 * layout and the PLT stay as they are: make one per pass.
 */
export function rememberingTargets(values: SymbolValues): (file: number, sym: number, addend: number) => Target {
  const { res, plan } = values;
  const n = res.symbols.length;
  const known = new Uint8Array(n); // 0: not yet; else 1 + TargetState
  const S = new Float64Array(n);
  const Z = new Float64Array(n);
  return (file, sym, addend) => {
    if (file === plan.internal || sym < plan.files[file].firstGlobal) return values.target(file, sym, addend);
    const id = res.globalIds[file][sym];
    let k = known[id];
    if (k === 0) {
      const t = values.target(file, sym, 0);
      if (t.A !== 0) return values.target(file, sym, addend); // not a plain global after all: ask every time
      known[id] = k = t.state + 1;
      S[id] = t.S;
      Z[id] = t.Z;
    }
    return new RememberedTarget(k - 1, S[id], addend, Z[id], res.symbols, id);
  };
}
