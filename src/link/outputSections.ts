import {
  AtomKind, SecFlag, SymPlace, SymType,
  type Atom, type ObjectFile,
} from '../obj/model.js';
import { SHT } from '../obj/elfConstants.js';
import { Relocs } from '../obj/relocs.js';
import { isMergeable, MergedSection, type MergeMap } from './mergeSections.js';
import { SymState, type Resolution } from './resolve.js';

/**
 * Assigns every live input atom to an output section, in the order the
 * output will have them, and creates the linker's own atoms (merged strings,
 * common symbols) in an internal object that the rest of the link treats like
 * any other input.
 */

export interface AtomRef {
  file: number;
  atom: number;
}

export interface OutputSection {
  name: string;
  kind: AtomKind;
  /** SecFlag bits of the section (union of its atoms' Alloc/Write/Exec/TLS/NoBits...). */
  flags: number;
  /** ELF section type to write (PROGBITS, NOBITS, INIT_ARRAY, NOTE...). */
  rawType: number;
  /** Entry size (merged string sections such as .comment keep 1). */
  entSize: number;
  /** sh_link: the section it names (dynamic sections: their string or symbol table). */
  link?: string;
  /** sh_info: a section it names, or a number. */
  info?: string | number;
  /** Sort key: segment class then position within it. */
  rank: number;
  atoms: AtomRef[];
  align: number;
  // Set by layout:
  addr: number;
  offset: number;
  /** Bytes reserved: what the atoms use plus headroom for incremental growth. */
  size: number;
  /** Bytes the atoms (with their slack) use. */
  used: number;
}

export interface SectionPlan {
  /** Resolution files plus the internal object, last. */
  files: ObjectFile[];
  internal: number;
  sections: OutputSection[];
  /** Per file, per atom: output section index, or -1 when the atom is not in the output. */
  atomOut: Int32Array[];
  /** Per file, per atom: the merge map when the atom was merged into an internal atom. */
  mergeMaps: Array<Array<MergeMap | undefined>>;
  /** Global symbol id -> internal atom holding that common symbol. */
  commonAtoms: Map<number, number>;
}

/**
 * How a format names, separates and orders output sections. ELF's rules are
 * below (ELF_RULES); PE's are in src/link/pe/sections.ts.
 */
export interface SectionRules {
  /** The output section an input atom goes to. */
  outputName(atom: Atom, file: ObjectFile): string;
  /** What separates output sections of one name (ELF: their flags). */
  key(name: string, flags: number): string;
  rank(name: string, flags: number): number;
  /** A last ordering of each output section's atoms (PE: by their full input names). */
  order?(sec: OutputSection, files: readonly ObjectFile[]): void;
}

export const ELF_RULES: SectionRules = {
  outputName: (atom) => outputSectionName(atom.name),
  key: (name, flags) => name + '\0' + (flags & (SecFlag.Alloc | SecFlag.Write | SecFlag.Exec | SecFlag.TLS | SecFlag.NoBits)),
  rank: (name, flags) => rankOf(name, flags),
};

/** lld's mapping of input section names to output section names. */
const PREFIXES = [
  '.text', '.rodata', '.data.rel.ro', '.data', '.bss', '.tdata', '.tbss', '.init_array', '.fini_array',
  '.preinit_array', '.gcc_except_table', '.ldata', '.lrodata', '.lbss',
];

export function outputSectionName(name: string): string {
  for (const p of PREFIXES) {
    if (name === p || (name.startsWith(p) && name[p.length] === '.')) return p;
  }
  return name;
}

/**
 * Rank: the segment class in the hundreds, then the section's place within it.
 * R (headers, .interp, notes, the dynamic symbol and relocation tables,
 * read-only data, unwind tables), RX (code, PLT), RELRO (what is written only
 * while the program loads: TLS templates, init arrays, relro data, .dynamic,
 * the GOT), RW (.got.plt, data), RW zero-fill (bss), then non-allocated.
 * lld's order.
 */
export const enum SegClass {
  R = 0,
  RX = 1,
  RelRo = 2,
  RW = 3,
  Bss = 4,
  None = 5,
}

export function segClassOf(rank: number): SegClass {
  return Math.floor(rank / 100) as SegClass;
}

/** Read-only sections the linker makes for dynamic linking, in lld's order. */
const DYNAMIC_R: Record<string, number> = {
  '.interp': 5, '.dynsym': 11, '.gnu.version': 12, '.gnu.version_d': 13, '.gnu.version_r': 13, '.gnu.hash': 14, '.hash': 15, '.dynstr': 16,
  '.rela.dyn': 17, '.rela.plt': 18, '.rela.iplt': 18,
};

function rankOf(name: string, flags: number): number {
  if (!(flags & SecFlag.Alloc)) {
    if (name === '.comment') return 500;
    if (name.startsWith('.debug_')) return 510;
    return 520;
  }
  if (flags & SecFlag.Exec) {
    if (name === '.plt') return 125;
    if (name === '.iplt') return 126;
    return name === '.text' ? 110 : name === '.init' ? 105 : name === '.fini' ? 106 : 120;
  }
  if (flags & SecFlag.TLS) return flags & SecFlag.NoBits ? 202 : 201;
  if (flags & SecFlag.Write) {
    if (flags & SecFlag.NoBits) return name === '.bss' ? 410 : 420;
    if (flags & SecFlag.PreinitArray) return 210;
    if (flags & SecFlag.InitArray) return 211;
    if (flags & SecFlag.FiniArray) return 212;
    if (name === '.data.rel.ro') return 213;
    if (name === '.dynamic') return 214;
    if (name === '.got') return 215;
    if (name === '.got.plt') return 305;
    if (name === '.data') return 320;
    return 330;
  }
  const dynamic = DYNAMIC_R[name];
  if (dynamic !== undefined) return dynamic;
  if (flags & SecFlag.Note) return 10;
  if (name === '.rodata') return 20;
  if (name === '.eh_frame_hdr') return 38;
  if (flags & SecFlag.EhFrame) return 40;
  return 30;
}

/** Priority of `.init_array.N` / `.fini_array.N`; unnumbered ones run last (lld: 65536). */
function initPriority(name: string): number {
  const dot = name.lastIndexOf('.');
  const n = Number(name.slice(dot + 1));
  return dot > 0 && Number.isInteger(n) && name.indexOf('_array.') > 0 ? n : 65536;
}

function newInternalFile(arch: ObjectFile['arch']): ObjectFile {
  return {
    name: '<internal>', format: 'elf', arch, atoms: [], symbols: [{
      name: '', binding: 0, type: SymType.NoType, visibility: 0, atom: SymPlace.Undefined, value: 0, size: 0,
    }], firstGlobal: 1, groups: [], bytes: new Uint8Array(0),
  };
}

export function addInternalAtom(file: ObjectFile, a: Omit<Atom, 'index' | 'relocs' | 'entSize' | 'group'>): number {
  const index = file.atoms.length;
  file.atoms.push({ ...a, index, relocs: Relocs.none, entSize: 0, group: -1 });
  return index;
}

/**
 * Builds the section plan. `isLive(file, atom)` decides which atoms are kept
 * and `isCommonLive(global id)` which common symbols get their .bss atom (all
 * of them without --gc-sections). `extraAtoms` lets later passes add
 * their own internal atoms (GOT, build id) before placement.
 */
export function planSections(
  res: Resolution, arch: ObjectFile['arch'], isLive: (file: number, atom: number) => boolean,
  isCommonLive: (id: number) => boolean = () => true,
  rules: SectionRules = ELF_RULES,
): SectionPlan {
  const internal = newInternalFile(arch);
  const files = [...res.files, internal];
  const internalIndex = files.length - 1;
  const byName = new Map<string, number>();
  const sections: OutputSection[] = [];
  const atomOut: Int32Array[] = files.map((f) => new Int32Array(f.atoms.length).fill(-1));
  const mergeMaps: Array<Array<MergeMap | undefined>> = files.map(() => []);
  const merged = new Map<string, { builder: MergedSection; atom: number }>();

  const sectionFor = (name: string, atom: Atom): number => {
    const key = rules.key(name, atom.flags);
    let idx = byName.get(key);
    if (idx === undefined) {
      idx = sections.length;
      byName.set(key, idx);
      sections.push({
        name, kind: atom.kind, flags: atom.flags & ~(SecFlag.Merge | SecFlag.Retain), rawType: outputType(atom),
        entSize: atom.flags & SecFlag.Strings && !(atom.flags & SecFlag.Alloc) ? 1 : 0,
        rank: rules.rank(name, atom.flags), atoms: [], align: 1, addr: 0, offset: 0, size: 0, used: 0,
      });
    }
    return idx;
  };

  for (let f = 0; f < res.files.length; f++) {
    const file = res.files[f];
    const discarded = res.discarded[f];
    for (const atom of file.atoms) {
      if (discarded[atom.index] || !isLive(f, atom.index)) continue;
      const name = rules.outputName(atom, file);
      if (isMergeable(atom)) {
        const strings = (atom.flags & SecFlag.Strings) !== 0;
        const key = `${name}\0${atom.entSize}\0${strings}\0${atom.flags & (SecFlag.Alloc | SecFlag.Write)}`;
        let m = merged.get(key);
        if (!m) {
          const mAtom = addInternalAtom(internal, {
            name: name, kind: atom.kind, flags: atom.flags & ~SecFlag.Merge, align: 1, size: 0,
            data: new Uint8Array(0), rawType: atom.rawType,
          });
          m = { builder: new MergedSection(key, name, strings, atom.entSize), atom: mAtom };
          merged.set(key, m);
          atomOut[internalIndex] = grow(atomOut[internalIndex], internal.atoms.length);
          const sec = sectionFor(name, atom);
          sections[sec].atoms.push({ file: internalIndex, atom: mAtom });
          atomOut[internalIndex][mAtom] = sec;
        }
        mergeMaps[f][atom.index] = m.builder.add(atom, file.name, m.atom);
        continue;
      }
      const sec = sectionFor(name, atom);
      sections[sec].atoms.push({ file: f, atom: atom.index });
      atomOut[f][atom.index] = sec;
    }
  }
  for (const { builder, atom } of merged.values()) {
    const a = internal.atoms[atom];
    a.data = builder.contents();
    a.size = builder.size;
    a.align = builder.align;
  }

  // Common symbols: each its own zero-filled atom in .bss, so each can move alone.
  const commonAtoms = new Map<number, number>();
  for (let id = 0; id < res.symbols.length; id++) {
    const g = res.symbols[id];
    if (g.state !== SymState.Common || !isCommonLive(id)) continue;
    const s = res.files[g.file].symbols[g.sym];
    const a = addInternalAtom(internal, {
      name: 'COMMON', kind: AtomKind.Bss, flags: SecFlag.Alloc | SecFlag.Write | SecFlag.NoBits,
      align: g.commonAlign, size: s.size, data: null, rawType: SHT.NOBITS,
    });
    commonAtoms.set(id, a);
    atomOut[internalIndex] = grow(atomOut[internalIndex], internal.atoms.length);
    const sec = sectionFor(rules.outputName(internal.atoms[a], internal), internal.atoms[a]);
    sections[sec].atoms.push({ file: internalIndex, atom: a });
    atomOut[internalIndex][a] = sec;
  }

  // Init and fini arrays run in priority order.
  for (const sec of sections) {
    if (sec.flags & (SecFlag.InitArray | SecFlag.FiniArray)) {
      const prio = (r: AtomRef) => initPriority(files[r.file].atoms[r.atom].name);
      sec.atoms = sec.atoms
        .map((r, i) => ({ r, i, p: prio(r) }))
        .sort((a, b) => a.p - b.p || a.i - b.i)
        .map((x) => x.r);
    }
    rules.order?.(sec, files);
  }

  return { files, internal: internalIndex, sections, atomOut, mergeMaps, commonAtoms };
}

/** Places an internal atom created after planning (GOT, build id) into a section of its own name. */
export function addSyntheticSection(plan: SectionPlan, atomIndex: number): number {
  const atom = plan.files[plan.internal].atoms[atomIndex];
  plan.atomOut[plan.internal] = grow(plan.atomOut[plan.internal], plan.files[plan.internal].atoms.length);
  let sec = plan.sections.findIndex((s) => s.name === atom.name && s.flags === (atom.flags & ~SecFlag.Retain));
  if (sec < 0) {
    sec = plan.sections.length;
    plan.sections.push({
      name: atom.name, kind: atom.kind, flags: atom.flags & ~SecFlag.Retain, rawType: atom.rawType, entSize: 0,
      rank: rankOf(atom.name, atom.flags), atoms: [], align: 1, addr: 0, offset: 0, size: 0, used: 0,
    });
  }
  plan.sections[sec].atoms.push({ file: plan.internal, atom: atomIndex });
  plan.atomOut[plan.internal][atomIndex] = sec;
  return sec;
}

/** Places an internal atom created after planning (a thunk pool) into an existing section, before its `at`-th atom. */
export function insertIntoSection(plan: SectionPlan, secIndex: number, at: number, atomIndex: number): void {
  plan.atomOut[plan.internal] = grow(plan.atomOut[plan.internal], plan.files[plan.internal].atoms.length);
  plan.sections[secIndex].atoms.splice(at, 0, { file: plan.internal, atom: atomIndex });
  plan.atomOut[plan.internal][atomIndex] = secIndex;
}

function outputType(atom: Atom): number {
  if (atom.flags & SecFlag.NoBits) return SHT.NOBITS;
  if (atom.flags & SecFlag.InitArray) return SHT.INIT_ARRAY;
  if (atom.flags & SecFlag.FiniArray) return SHT.FINI_ARRAY;
  if (atom.flags & SecFlag.PreinitArray) return SHT.PREINIT_ARRAY;
  if (atom.flags & SecFlag.Note) return SHT.NOTE;
  if (atom.flags & SecFlag.EhFrame) return SHT.PROGBITS;
  return atom.rawType === SHT.X86_64_UNWIND ? SHT.PROGBITS : atom.rawType;
}

function grow(a: Int32Array, n: number): Int32Array {
  if (a.length >= n) return a;
  const b = new Int32Array(Math.max(n, a.length * 2)).fill(-1);
  b.set(a);
  return b;
}
