import { SecFlag, type Atom, type ObjectFile } from '../../obj/model.js';
import { IMAGE_SCN } from '../../obj/readCoff.js';
import type { AtomRef, OutputSection, SectionRules } from '../outputSections.js';

/**
 * Output sections of a PE image, as lld-link forms them
 * (lld/COFF/Writer.cpp, createSections and the default /MERGE list).
 *
 * - An input section goes to the output section named by what precedes its
 *   `$` (and, for MinGW's `.ctors.01234`, a later `.`): `.text$mn` to
 *   `.text`, `.CRT$XCU` to `.CRT`.
 * - Some output sections are then merged into others by default:
 *   `.idata`, `.didat`, `.edata`, `.xdata`, `.00cfg`, `.CRT`, `.ctors`,
 *   `.dtors` into `.rdata`, `.bss` into `.data`.
 * - Within an output section, input sections are ordered by their full
 *   names (the suffix after `$` is an ordering key: `.CRT$XCA` <
 *   `.CRT$XCU` < `.CRT$XCZ` brackets the CRT's initializer table), stably,
 *   so that sections of one name keep the input order. MinGW's COMDAT
 *   sections `.text$name` are sorted as plain `.text` (their suffix is a
 *   group name, not an ordering key).
 * - GNU import libraries' `.idata$N` sections are grouped by library and,
 *   within one, by member name: the head object (`...h.o`) sorts first, the
 *   tail (`...t.o`) last, which is what closes each DLL's tables. Short
 *   import members' are grouped by DLL and sorted by symbol name
 *   (lld's order), the DLL's null entries after them.
 * - Zero-fill atoms go last in their section (a merged `.bss` at the end
 *   of `.data`), so that the file holds only the initialized part.
 */

const MERGES: Record<string, string> = {
  '.idata': '.rdata', '.didat': '.rdata', '.edata': '.rdata', '.xdata': '.rdata', '.00cfg': '.rdata',
  '.CRT': '.rdata', '.ctors': '.rdata', '.dtors': '.rdata', '.bss': '.data',
};

/** The output section before default merges: `.text$mn` -> `.text`, `.ctors.01234` -> `.ctors`. */
export function peBaseName(inputName: string): string {
  const s = inputName.split('$')[0];
  const dot = s.indexOf('.', 1);
  return dot > 0 ? s.slice(0, dot) : s;
}

export function peOutputName(inputName: string): string {
  const base = peBaseName(inputName);
  return MERGES[base] ?? base;
}

/** lld's output section order: link.exe's, then discardable sections, then DWARF. */
const ORDER = ['.text', '.bss', '.rdata', '.buildid', '.data', '.pdata', '.idata', '.edata', '.didat', '.rsrc', '.reloc', '.ctors', '.dtors'];

export function peSectionRank(name: string, flags: number): number {
  if (name.startsWith('.debug_')) return 3000;
  if (name === '.reloc' || !(flags & SecFlag.Alloc)) return 2000;
  if (name === '.rsrc') return 1000;
  const k = ORDER.indexOf(name);
  return k >= 0 ? k * 10 : 500;
}

/**
 * Input sections that are tables the loader or the C runtime walks entry by
 * entry or across a range: imports, exceptions, the CRT's initializer and
 * TLS-callback tables, MinGW's constructor lists, the TLS template, base
 * relocations. An incremental link leaves no gap in them and never grows
 * one of their atoms.
 */
export function isPeTable(inputName: string): boolean {
  return /^\.(idata|pdata|CRT|ctors|dtors|tls|reloc)(\$|\.|$)/.test(inputName);
}

/**
 * Internal atoms with a fixed place among the input sections of their
 * name: the import directory's null terminator after every `.idata$2`,
 * the `-1` header of MinGW's constructor list before every `.ctors` and
 * its terminator after.
 */
export interface Pin {
  /** The name to sort by, in place of the atom's own. */
  sortName: string;
  /** -1: before the inputs of that name; 1: after them; 0: among them, by `lib`. */
  side: -1 | 0 | 1;
  /** With side 0: the import group key to sort by (`importKey`). */
  lib?: string;
}
export const pins = new WeakMap<Atom, Pin>();

function isMinGWComdatName(name: string): boolean {
  return name.startsWith('.text$') || name.startsWith('.data$') || name.startsWith('.rdata$')
    || name.startsWith('.pdata$') || name.startsWith('.xdata$') || name.startsWith('.eh_frame$');
}

/**
 * The key `.idata$N` sections are grouped by. GNU import libraries': library,
 * then member. Short import members': their DLL and symbol name,
 * after which the DLL's own closing entries sort (`shortImportKey(dll, true)`).
 */
function importKey(file: ObjectFile): string {
  if (file.dllImport) return shortImportKey(file.dllImport.dll, false) + file.dllImport.symbol;
  const m = /^(.*)\(([^()]*)\)$/.exec(file.name);
  return m ? `${m[1]}/${m[2]}` : `/${file.name}`;
}

export function shortImportKey(dll: string, last: boolean): string {
  return `\u0001${dll.toLowerCase()}\u0001${last ? '\uffff' : ''}`;
}

function orderAtoms(sec: OutputSection, files: readonly ObjectFile[]): void {
  const keyed = sec.atoms.map((r: AtomRef, i) => {
    const atom = files[r.file].atoms[r.atom];
    const pin = pins.get(atom);
    let name = pin?.sortName ?? atom.name;
    if (!pin && atom.rawType & IMAGE_SCN.LNK_COMDAT && isMinGWComdatName(name)) name = name.split('$')[0];
    const base = peBaseName(name);
    return {
      r, i,
      bss: atom.flags & SecFlag.NoBits ? 1 : 0,
      merged: base === sec.name ? '' : base,
      name,
      side: pin?.side ?? 0,
      lib: pin ? pin.lib ?? '' : name.startsWith('.idata') ? importKey(files[r.file]) : '',
    };
  });
  keyed.sort((a, b) => a.bss - b.bss || cmp(a.merged, b.merged) || cmp(a.name, b.name) || a.side - b.side || cmp(a.lib, b.lib) || a.i - b.i);
  sec.atoms = keyed.map((k) => k.r);
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export const PE_RULES: SectionRules = {
  // The core's atoms for common symbols are named COMMON: zero-fill, in `.bss` (so in `.data`) as lld puts them.
  outputName: (atom) => peOutputName(atom.name === 'COMMON' && atom.flags & SecFlag.NoBits ? '.bss' : atom.name),
  key: (name) => name,
  rank: peSectionRank,
  order: orderAtoms,
};
