import { SecFlag, SymPlace, type ObjectFile } from '../obj/model.js';
import { hex, placeName } from '../obj/LinkError.js';
import { RELA_SIZE, SHN, SYM_SIZE } from '../obj/elfConstants.js';
import { RelExpr, read32, type Arch } from '../link/arch/Arch.js';
import type { RelocContext } from '../link/relocate.js';
import { isGotExpr, isTlsGotExpr, tlsRelaxedAway } from '../link/scan.js';
import { TargetState } from '../link/symbols.js';
import { partitionPoint } from '../link/search.js';
import { GlobalKind, type AtomRecord, type GlobalLookup, type GlobalRecord, type LinkState } from './state.js';
import { Fallback } from './patch.js';

/**
 * The gate's dynamic-linking rules (DESIGN.md section 5: "a new or removed
 * dynamic import or export" falls back). A changed object's symbol shape is
 * already known to be the same, so the imports and exports are; what an
 * edit can still change is how the object uses them, and which of its own
 * addresses a PIE's loader must relocate. The image says what the last link
 * decided: its .rela.dyn lists every dynamic relocation, and its .dynsym
 * whether an import has a copy or a canonical PLT entry. A patch is allowed
 * only if the changed objects need exactly what is there:
 *
 *  - a call to a shared function: a PLT entry;
 *  - a reference that needs the symbol's address in the program (a
 *    PC-relative one, or an absolute one outside writable data): a copy or a
 *    canonical PLT entry;
 *  - a 64-bit absolute in writable data: the same symbolic (import) or
 *    RELATIVE (PIE) record at the same place, with the same addend;
 *  - in a PIE, a GOT slot holding a local symbol's address: the same
 *    RELATIVE record.
 *
 * And no dynamic relocation may be left at a place inside a changed atom
 * that no longer needs one. Anything else is a full link.
 */

interface DynRecord {
  type: number;
  sym: string;
  addend: number;
}

export interface ImageTables {
  pie: boolean;
  /** A shared library: its own exports and its undefined symbols are preemptible. */
  shared: boolean;
  /** Symbol name -> its PLT entry's address (from the JUMP_SLOT records). */
  pltEntries: Map<string, number>;
  /** .rela.dyn's records by place. */
  relaDyn: RelaDynIndex;
  /** Dynamic symbol name -> (value, section index). */
  dynsyms: Map<string, { value: number; shndx: number }>;
  plt: { addr: number; size: number } | null;
}

/** Reads the prior image's dynamic tables through `read` (offset, length); null for a static executable. */
export function readImageTables(state: LinkState, read: (offset: number, length: number) => Uint8Array, arch: Arch): ImageTables | null {
  const sec = (name: string) => state.sections.find((s) => s.name === name && s.flags & SecFlag.Alloc);
  const dynsym = sec('.dynsym');
  const dynstr = sec('.dynstr');
  if (!dynsym || !dynstr) return null;
  const view = (s: { offset: number; used: number }) => {
    const bytes = read(s.offset, s.used);
    return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  };
  const strs = read(dynstr.offset, dynstr.used);
  const syms = view(dynsym);
  const decoder = new TextDecoder();
  const names: string[] = [];
  const dynsyms = new Map<string, { value: number; shndx: number }>();
  for (let at = 0; at + SYM_SIZE <= dynsym.used; at += SYM_SIZE) {
    const nameOff = syms.getUint32(at, true);
    let end = nameOff;
    while (end < strs.length && strs[end] !== 0) end++;
    const name = decoder.decode(strs.subarray(nameOff, end));
    names.push(name);
    if (name) dynsyms.set(name, { value: Number(syms.getBigUint64(at + 8, true)), shndx: syms.getUint16(at + 6, true) });
  }
  const relaDyn = relaDynIndex(sec('.rela.dyn'), read, names, arch.dynRel.relative);
  const plt = sec('.plt');
  // Entry i of .plt jumps through .got.plt slot 3 + i; .rela.plt names each slot's symbol.
  const pltEntries = new Map<string, number>();
  const relaPlt = sec('.rela.plt');
  const gotPlt = sec('.got.plt');
  if (plt && relaPlt && gotPlt) {
    const dv = view(relaPlt);
    for (let at = 0; at + RELA_SIZE <= relaPlt.used; at += RELA_SIZE) {
      const info = dv.getBigUint64(at + 8, true);
      if (Number(info & 0xffffffffn) !== arch.dynRel.jumpSlot) continue;
      const slot = Number(dv.getBigUint64(at, true));
      const i = (slot - gotPlt.addr) / 8 - 3;
      pltEntries.set(names[Number(info >> 32n)] ?? '', plt.addr + arch.pltHeaderSize + i * arch.pltEntrySize);
    }
  }
  let shared = false;
  try {
    shared = (JSON.parse(state.optionsKey) as { output?: string }).output === 'shared';
  } catch {
    shared = false;
  }
  return {
    shared, pltEntries,
    pie: view({ offset: 0x10, used: 2 }).getUint16(0, true) === 3, // e_type ET_DYN
    relaDyn, dynsyms,
    plt: plt ? { addr: plt.addr, size: plt.used } : null,
  };
}

/**
 * .rela.dyn as the patch looks at it, over the image's bytes. The full link
 * writes its RELATIVE records first, then the others, each group ascending
 * by place, equal places in the order made (dynamic.ts writeDynamic): two
 * sorted runs, the first found by a binary search on the record type. A
 * lookup reads and decodes O(log n) records, each through `read`, and
 * nothing is sorted or copied: a large PIE has tens of thousands (576 kB at
 * 200k functions), of which a patch looks at the few inside the changed
 * atoms, and a fresh process reads of the previous output only the 4 KiB
 * pages those records lie in (image.ts). (The image is the one the state describes,
 * checked by its identity or hash; a state from before this order was
 * written has another STATE_VERSION.)
 */
export function relaDynIndex(
  rela: { offset: number; used: number } | undefined, read: (offset: number, length: number) => Uint8Array, names: string[], relativeType: number,
): RelaDynIndex {
  const n = rela ? Math.floor(rela.used / RELA_SIZE) : 0;
  if (!rela || n === 0) return { relocAt: () => undefined, placesIn: () => [] };
  /** The 32-bit word at byte `field` of row k. */
  const word = (k: number, field: number) => read32(read(rela.offset + k * RELA_SIZE + field, 4), 0);
  const place = (k: number) => word(k, 4) * 0x100000000 + word(k, 0);
  /** The first row of [lo, hi), a run, whose place is at least `x`; hi if none. */
  const firstAtLeast = (lo: number, hi: number, x: number) => partitionPoint(lo, hi, (k) => place(k) < x);
  const relatives = partitionPoint(0, n, (k) => word(k, 8) === relativeType);
  /** The last row of [lo, hi) at `at`, or -1. */
  const lastAt = (lo: number, hi: number, at: number) => {
    const k = firstAtLeast(lo, hi, at + 1) - 1;
    return k >= lo && place(k) === at ? k : -1;
  };
  return {
    relocAt(at) {
      // The later run first: of several records at a place, the last in the table is the one that counts.
      let k = lastAt(relatives, n, at);
      if (k < 0) k = lastAt(0, relatives, at);
      if (k < 0) return undefined;
      return {
        type: word(k, 8),
        sym: names[word(k, 12)] ?? '',
        addend: (word(k, 20) | 0) * 0x100000000 + word(k, 16),
      };
    },
    placesIn(from, to) {
      const out: number[] = [];
      for (let k = firstAtLeast(0, relatives, from); k < relatives && place(k) < to; k++) out.push(place(k));
      const inFirst = out.length;
      for (let k = firstAtLeast(relatives, n, from); k < n && place(k) < to; k++) out.push(place(k));
      if (inFirst > 0 && out.length > inFirst) out.sort((a, b) => a - b);
      return out.filter((p, i) => i === 0 || out[i - 1] !== p);
    },
  };
}

/** What a patch asks of the prior image's .rela.dyn (relaDynIndex). */
export interface RelaDynIndex {
  /** The record at a place (r_offset), if any; the last one in the table when several are. */
  relocAt(place: number): DynRecord | undefined;
  /** The places in [from, to) that have records, ascending, each once. */
  placesIn(from: number, to: number): number[];
}

/**
 * The patch's view of preemptibility (the full link's is resolve.ts
 * isPreemptibleId): a shared library's symbol, a library's own preemptible
 * export, and in a library its imports (undefined symbols).
 */
export function isPreemptibleRecord(g: GlobalRecord, sharedOutput: boolean): boolean {
  return g.kind === GlobalKind.Shared || g.kind === GlobalKind.Preemptible || (sharedOutput && g.kind === GlobalKind.UndefWeak);
}

function sameRecord(a: DynRecord | undefined, b: DynRecord | undefined): boolean {
  if (!a || !b) return a === b;
  return a.type === b.type && a.sym === b.sym && a.addend === b.addend;
}

function describe(r: DynRecord | undefined, arch: Arch): string {
  if (!r) return 'none';
  const type = r.type === arch.dynRel.relative ? 'RELATIVE' : r.type === arch.dynRel.abs64 ? 'symbolic' : `type ${r.type}`;
  return `${type}${r.sym ? ` against ${r.sym}` : ''} + ${hex(r.addend)}`;
}

/**
 * Checks one changed object (index `k` of the patch's files) against the
 * prior image's dynamic tables; throws a Fallback naming what would change.
 * An atom `unchanged` says is the same, at the same place, with its targets
 * where they were (patch.ts unchangedAtoms), needs the records it has: it is
 * not looked at.
 */
export function checkDynamicUse(
  arch: Arch, tables: ImageTables, globals: GlobalLookup, file: ObjectFile, atoms: AtomRecord[], k: number, ctx: RelocContext,
  sectionFlags: (sec: number) => number, gotSlotsOfLocals: Array<{ addr: number; sym: number }>, unchanged: (atom: number) => boolean,
): void {
  const expected = new Map<number, DynRecord>();
  file.atoms.forEach((atom, a) => {
    const rec = atoms[a];
    if (rec.sec < 0 || unchanged(a) || !(sectionFlags(rec.sec) & SecFlag.Alloc) || !atom.relocs.length) return;
    const writable = (atom.flags & SecFlag.Write) !== 0;
    const relaxedAway = tlsRelaxedAway(arch, atom, (sym) => {
      if (tables.shared) return false;
      const g = sym >= file.firstGlobal ? globals.get(file.symbols[sym].name) : undefined;
      return !(g && isPreemptibleRecord(g, false));
    });
    const rs = atom.relocs;
    // Named only for a message: a large object has thousands of relocations.
    const where = (offset: number) => placeName(file.name, atom.name, offset);
    for (let i = 0; i < rs.length; i++) {
      if (relaxedAway?.has(i)) continue;
      const type = rs.type(i);
      const expr = arch.relExpr(type);
      if (expr === undefined || expr === RelExpr.None || expr === RelExpr.Size) continue;
      const sym = rs.sym(i);
      const offset = rs.offset(i);
      const s = file.symbols[sym];
      const place = rec.addr + offset;
      const g = sym >= file.firstGlobal ? globals.get(s.name) : undefined;
      if (tables.shared && (expr === RelExpr.TlsGd || expr === RelExpr.TlsLd || expr === RelExpr.TPRel || isTlsGotExpr(expr))) {
        throw new Fallback(`${where(offset)} uses a thread-local variable, which a shared library cannot yet have`);
      }
      if (g && isPreemptibleRecord(g, tables.shared)) {
        if (expr === RelExpr.Branch) {
          if (!tables.pltEntries.has(s.name)) throw new Fallback(`${where(offset)} now calls ${s.name}, which has no PLT entry yet`);
        } else if (isGotExpr(expr)) {
          // Checked where the slot is looked up.
        } else if (expr === RelExpr.Abs && type === arch.dynRel.abs64 && writable) {
          expected.set(place, { type: arch.dynRel.abs64, sym: s.name, addend: rs.addend(i) });
        } else {
          const d = tables.dynsyms.get(s.name);
          if (tables.shared || !d || (d.shndx === SHN.UNDEF && d.value === 0)) {
            throw new Fallback(`${where(offset)} now needs the address of ${s.name} in the program (a copy or a canonical PLT entry), which it does not have yet`);
          }
        }
        continue;
      }
      if (!tables.pie || expr !== RelExpr.Abs || arch.usesOnlyLowPageBits(type)) continue;
      if (sym < file.firstGlobal ? s.atom === SymPlace.Absolute : g?.kind === GlobalKind.UndefWeak) continue;
      if (type !== arch.dynRel.abs64 || !writable) throw new Fallback(`${where(offset)}: ${arch.relName(type)} needs a load-time relocation`);
      const t = ctx.target(k, sym, rs.addend(i));
      if (t.state !== TargetState.Defined) continue;
      expected.set(place, { type: arch.dynRel.relative, sym: '', addend: t.S + t.A });
    }
  });
  if (tables.pie) {
    for (const { addr, sym } of gotSlotsOfLocals) {
      const t = ctx.target(k, sym, 0);
      if (t.state === TargetState.Defined && file.symbols[sym].atom !== SymPlace.Absolute) {
        expected.set(addr, { type: arch.dynRel.relative, sym: '', addend: t.S });
      }
    }
  }

  // Every place the object's changed atoms cover (old and new): the records there must be exactly the expected ones.
  const ranges: Array<[number, number]> = [];
  file.atoms.forEach((_, a) => {
    const rec = atoms[a];
    if (rec.sec < 0 || unchanged(a) || !(sectionFlags(rec.sec) & SecFlag.Alloc)) return;
    ranges.push([rec.addr, rec.addr + Math.max(rec.slot, 1)]);
    if (rec.canonical !== rec.addr) ranges.push([rec.canonical, rec.canonical + 1]);
  });
  const seen = new Set<number>();
  for (const [from, to] of coalesceRanges(ranges)) {
    for (const place of tables.relaDyn.placesIn(from, to)) {
      seen.add(place);
      const have = tables.relaDyn.relocAt(place);
      const want = expected.get(place);
      if (!sameRecord(have, want)) {
        throw new Fallback(`the dynamic relocation at ${hex(place)} in ${file.name} would change (${describe(have, arch)} -> ${describe(want, arch)})`);
      }
    }
  }
  for (const [place, want] of expected) {
    if (seen.has(place)) continue;
    if (!sameRecord(tables.relaDyn.relocAt(place), want)) {
      throw new Fallback(`${file.name} now needs a dynamic relocation at ${hex(place)} (${describe(want, arch)}), which the image does not have`);
    }
  }
}

/**
 * The union of `ranges` ([from, to) each) as disjoint ranges, ascending:
 * an object's atoms lie side by side, slot after slot, so its dozens of
 * ranges are a few, and each costs a search of .rela.dyn.
 */
export function coalesceRanges(ranges: ReadonlyArray<readonly [number, number]>): Array<[number, number]> {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  const out: Array<[number, number]> = [];
  for (const [from, to] of sorted) {
    const last = out[out.length - 1];
    if (last && from <= last[1]) last[1] = Math.max(last[1], to);
    else out.push([from, to]);
  }
  return out;
}
