import { AtomKind, SecFlag, type Atom } from '../obj/model.js';
import type { PlacementPolicy } from '../link/layout.js';
import type { OutputSection } from '../link/outputSections.js';
import { isPeTable } from '../link/pe/sections.js';

/**
 * Slack and headroom for incremental links (DESIGN.md section 3). Code gets
 * modest slack, since a code atom that outgrows its slot can move behind a
 * jump island; data gets generous slack, since a data atom that outgrows its
 * slot forces a full link. Sections whose contents must stay gap-free or in
 * order (init/fini arrays, .eh_frame, notes, TLS, the GOT) get none: any
 * change to their size falls back to a full link anyway.
 */

export interface SlackOptions {
  /** Percent of an atom's size left free after each code atom. */
  codeSlackPct: number;
  /** Percent of an atom's size left free after each data atom. */
  dataSlackPct: number;
}

export const DEFAULT_SLACK: SlackOptions = { codeSlackPct: 33, dataSlackPct: 50 };

const MIN_CODE_SLACK = 32;
const MIN_DATA_SLACK = 64;
const MIN_CODE_HEADROOM = 64 * 1024;
const MIN_DATA_HEADROOM = 4 * 1024;

const FIXED = SecFlag.TLS | SecFlag.InitArray | SecFlag.FiniArray | SecFlag.PreinitArray | SecFlag.EhFrame | SecFlag.Note | SecFlag.Fixed;

/**
 * Sections that a patch never grows: no slack, no headroom. Besides the
 * linker's own tables (SecFlag.Fixed) and the arrays the ABI walks, any
 * section named like a C identifier: programs walk those from __start_NAME
 * to __stop_NAME, so a gap would be an entry.
 */
export function isFixedSection(name: string, flags: number): boolean {
  return (flags & FIXED) !== 0 || name === '.init' || name === '.fini' || name.startsWith('.ctors')
    || name.startsWith('.dtors') || C_IDENTIFIER.test(name);
}

const C_IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Debug sections whose pieces are found through offsets from the compile
 * unit (line tables, location and range lists, abbreviations, strings): a
 * piece that grows can move to the section's headroom, leaving a stale,
 * unreferenced copy. .debug_info is walked unit by unit: a unit can move
 * only because its old place is overwritten with an empty padding unit.
 * Sections searched in order (.debug_frame, .debug_aranges, .debug_names)
 * cannot move at all.
 */
export function isMovableDebugSection(name: string): boolean {
  return name.startsWith('.debug_') && !['.debug_frame', '.debug_aranges', '.debug_names', '.debug_types', '.debug_pubnames', '.debug_pubtypes', '.debug_gnu_pubnames', '.debug_gnu_pubtypes'].includes(name);
}

export function incrementalPolicy(o: SlackOptions): PlacementPolicy {
  return {
    slackAfter(atom: Atom): number {
      if (!(atom.flags & SecFlag.Alloc) || isFixedSection(atom.name, atom.flags)) return 0;
      if (atom.kind === AtomKind.Code) return Math.max(MIN_CODE_SLACK, Math.ceil((atom.size * o.codeSlackPct) / 100));
      return Math.max(MIN_DATA_SLACK, Math.ceil((atom.size * o.dataSlackPct) / 100));
    },
    headroom(sec: OutputSection, used: number): number {
      if (!(sec.flags & SecFlag.Alloc)) return isMovableDebugSection(sec.name) ? Math.max(MIN_DATA_HEADROOM, Math.ceil(used / 2)) : 0;
      if (isFixedSection(sec.name, sec.flags)) return 0;
      if (sec.flags & SecFlag.Exec) return Math.max(MIN_CODE_HEADROOM, Math.ceil(used / 2));
      return Math.max(MIN_DATA_HEADROOM, Math.ceil(used / 2));
    },
  };
}

/**
 * PE images: the same slack, but none where the loader or the C runtime
 * walks a table until a null entry or across a range: the import tables
 * (`.idata$N`), the exception table (`.pdata`), the CRT's initializer and
 * TLS callback tables (`.CRT$X*`), MinGW's constructor lists, the TLS
 * template, the base relocations (the linker's own atoms there too). DWARF
 * sections get headroom as in ELF; a PE section header's VirtualSize says
 * how much of a DWARF section is used (link/pe/layout.ts).
 */
export function pePolicy(o: SlackOptions): PlacementPolicy {
  const base = incrementalPolicy(o);
  return {
    slackAfter: (atom) => (isPeTable(atom.name) ? 0 : base.slackAfter(atom)),
    headroom: (sec, used) => (/^\.(pdata|reloc|tls)$/.test(sec.name) ? 0 : base.headroom(sec, used)),
  };
}
