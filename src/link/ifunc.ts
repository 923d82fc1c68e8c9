import { AtomKind, SecFlag } from '../obj/model.js';
import { SHT, RELA_SIZE } from '../obj/elfConstants.js';
import type { Arch } from './arch/Arch.js';
import { write64 } from './arch/Arch.js';
import { addInternalAtom, addSyntheticSection, type SectionPlan } from './outputSections.js';
import { SymState, type Resolution } from './resolve.js';
import { isIfunc } from './symbols.js';

/**
 * IFUNCs in a static executable (STT_GNU_IFUNC: the symbol's value is a
 * resolver that returns the implementation to use, as glibc's memcpy and
 * strlen do). Every reference to one goes through a PLT entry in `.iplt`
 * that jumps through a slot in `.got.plt`. The C library's start-up code
 * walks `.rela.iplt` (bounded by __rela_iplt_start and __rela_iplt_end) and,
 * for each R_*_IRELATIVE there, calls the resolver (the addend) and stores
 * its answer in the slot (the offset). The PLT entry is the function's
 * address as far as the program is concerned, so pointers compare equal.
 * In a dynamic executable the records go into .rela.plt instead, which the
 * dynamic loader applies (adding the load base to a PIE's addends).
 */

export interface IfuncPlan {
  /** Key of the IFUNC symbol (see ifuncKey) -> its entry. */
  index: Map<string, number>;
  /** The resolver's definition (file, symbol index) per entry. */
  entries: Array<{ file: number; sym: number }>;
  /** Internal atoms (indices in the internal object), -1 when there are no IFUNCs. */
  plt: number;
  got: number;
  rela: number;
}

export function ifuncKey(res: Resolution, file: number, sym: number, firstGlobal: number): string {
  return sym >= firstGlobal ? `g${res.globalIds[file][sym]}` : `l${file}:${sym}`;
}

/** Finds every IFUNC a live atom refers to and makes its PLT entry, slot and IRELATIVE record. */
export function planIfuncs(arch: Arch, res: Resolution, plan: SectionPlan, dynamic = false): IfuncPlan {
  const out: IfuncPlan = { index: new Map(), entries: [], plt: -1, got: -1, rela: -1 };
  const refersToIfunc = filesReferringToIfuncs(res, plan);
  for (const sec of plan.sections) {
    for (const ref of sec.atoms) {
      if (ref.file === plan.internal || !refersToIfunc[ref.file]) continue;
      const file = plan.files[ref.file];
      const rs = file.atoms[ref.atom].relocs;
      for (let k = 0; k < rs.length; k++) {
        const sym = rs.sym(k);
        let defFile = ref.file;
        let defSym = sym;
        if (sym >= file.firstGlobal) {
          const g = res.symbols[res.globalIds[ref.file][sym]];
          if (g.state !== SymState.Defined) continue;
          defFile = g.file;
          defSym = g.sym;
        }
        if (!isIfunc(plan.files[defFile].symbols[defSym])) continue;
        const key = ifuncKey(res, ref.file, sym, file.firstGlobal);
        if (out.index.has(key)) continue;
        out.index.set(key, out.entries.length);
        out.entries.push({ file: defFile, sym: defSym });
      }
    }
  }
  const n = out.entries.length;
  if (n === 0) return out;
  const internal = plan.files[plan.internal];
  out.plt = addInternalAtom(internal, {
    name: '.iplt', kind: AtomKind.Code, flags: SecFlag.Alloc | SecFlag.Exec | SecFlag.Fixed, align: 16,
    size: n * arch.ipltEntrySize, data: new Uint8Array(n * arch.ipltEntrySize), rawType: SHT.PROGBITS,
  });
  out.got = addInternalAtom(internal, {
    name: '.got.plt', kind: AtomKind.Data, flags: SecFlag.Alloc | SecFlag.Write | SecFlag.Fixed, align: 8,
    size: n * 8, data: new Uint8Array(n * 8), rawType: SHT.PROGBITS,
  });
  // A dynamic executable's loader applies them from DT_JMPREL (.rela.plt), after the JUMP_SLOTs.
  out.rela = addInternalAtom(internal, {
    name: dynamic ? '.rela.plt' : '.rela.iplt', kind: AtomKind.ROData, flags: SecFlag.Alloc | SecFlag.Fixed, align: 8,
    size: n * RELA_SIZE, data: new Uint8Array(n * RELA_SIZE), rawType: SHT.RELA,
  });
  for (const a of [out.plt, out.got, out.rela]) addSyntheticSection(plan, a);
  plan.sections[plan.atomOut[plan.internal][out.rela]].entSize = RELA_SIZE;
  return out;
}

/**
 * Per file: whether any of its symbols is, or resolves to, an IFUNC. Only
 * those files' relocations can need an entry, so the relocations of all the
 * others (nearly all of a program) are not walked.
 */
function filesReferringToIfuncs(res: Resolution, plan: SectionPlan): boolean[] {
  const ifuncGlobal = res.symbols.map((g) => g.state === SymState.Defined && isIfunc(plan.files[g.file].symbols[g.sym]));
  // The internal object (plan.files' last) is not a resolution file: it has no entry here, so it reads as false.
  return res.files.map((file, f) => {
    const ids = res.globalIds[f];
    for (let i = 0; i < file.symbols.length; i++) {
      if (i < file.firstGlobal ? isIfunc(file.symbols[i]) : ifuncGlobal[ids[i]]) return true;
    }
    return false;
  });
}

/** Fills the PLT entries and the IRELATIVE records once addresses are known. */
export function writeIfuncs(arch: Arch, ifuncs: IfuncPlan, plan: SectionPlan, atomAddr: Float64Array[], resolverAddress: (file: number, sym: number) => number): void {
  if (ifuncs.plt < 0) return;
  const internal = plan.files[plan.internal];
  const pltAddr = atomAddr[plan.internal][ifuncs.plt];
  const gotAddr = atomAddr[plan.internal][ifuncs.got];
  const plt = internal.atoms[ifuncs.plt].data!;
  const rela = internal.atoms[ifuncs.rela].data!;
  ifuncs.entries.forEach((e, i) => {
    arch.writeIpltEntry(plt, i * arch.ipltEntrySize, pltAddr + i * arch.ipltEntrySize, gotAddr + i * 8);
    write64(rela, i * RELA_SIZE, gotAddr + i * 8);
    write64(rela, i * RELA_SIZE + 8, arch.irelativeType);
    write64(rela, i * RELA_SIZE + 16, resolverAddress(e.file, e.sym));
  });
}
