import { SecFlag } from '../obj/model.js';
import { PT } from '../obj/elfConstants.js';
import type { Layout } from './layout.js';
import { SegClass } from './outputSections.js';

/**
 * Symbols the linker defines when something refers to them, as lld does:
 * bounds of the init/fini arrays, of the image and its segments, and
 * `__start_SEC`/`__stop_SEC` for sections whose names are C identifiers.
 */

const FIXED = new Set([
  '__ehdr_start', '__executable_start', '_etext', 'etext', '__etext', '_edata', 'edata', '_end', 'end',
  '__bss_start', '__init_array_start', '__init_array_end', '__fini_array_start', '__fini_array_end',
  '__preinit_array_start', '__preinit_array_end', '_GLOBAL_OFFSET_TABLE_', '__rela_iplt_start', '__rela_iplt_end',
  '__global_pointer$', '_DYNAMIC',
]);

const C_IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function isLinkerDefined(name: string): boolean {
  if (FIXED.has(name)) return true;
  if (name.startsWith('__start_')) return C_IDENT.test(name.slice(8));
  if (name.startsWith('__stop_')) return C_IDENT.test(name.slice(7));
  return false;
}

/** The values of the linker-defined symbols `names`, once the layout is known. */
export function linkerSymbolValues(names: readonly string[], layout: Layout): Map<string, number> {
  const out = new Map<string, number>();
  const sec = (n: string) => layout.sections.find((s) => s.name === n && s.flags & SecFlag.Alloc);
  const loads = layout.segments.filter((s) => s.type === PT.LOAD);
  const segEnd = (cls: SegClass, file: boolean) => {
    const s = loads.filter((l) => l.cls === cls).pop();
    return s ? s.vaddr + (file ? s.filesz : s.memsz) : undefined;
  };
  const lastEnd = () => {
    const s = loads[loads.length - 1];
    return s.vaddr + s.memsz;
  };
  const base = layout.imageBase;
  for (const name of names) {
    let v: number | undefined;
    switch (name) {
      case '__ehdr_start': case '__executable_start': v = base; break;
      case '_etext': case 'etext': case '__etext': v = segEnd(SegClass.RX, false) ?? base; break;
      case '_edata': case 'edata': v = segEnd(SegClass.RW, true) ?? segEnd(SegClass.RelRo, true) ?? segEnd(SegClass.RX, true) ?? base; break;
      case '_end': case 'end': v = lastEnd(); break;
      case '__bss_start': v = sec('.bss')?.addr ?? segEnd(SegClass.RW, true) ?? segEnd(SegClass.RelRo, true) ?? lastEnd(); break;
      case '_GLOBAL_OFFSET_TABLE_': v = sec('.got')?.addr ?? base; break;
      case '__rela_iplt_start': case '__rela_iplt_end': {
        // The IRELATIVE records the C library applies at start-up; an empty range when there are none.
        const s = sec('.rela.iplt');
        v = s ? (name.endsWith('start') ? s.addr : s.addr + s.size) : base;
        break;
      }
      case '__global_pointer$': v = base; break;
      case '_DYNAMIC': v = sec('.dynamic')?.addr; break;
      default: {
        const arr = /^__(init|fini|preinit)_array_(start|end)$/.exec(name);
        if (arr) {
          const s = sec(`.${arr[1]}_array`);
          // Absent arrays are empty: start == end.
          v = s ? (arr[2] === 'start' ? s.addr : s.addr + s.size) : base;
          break;
        }
        const se = /^__(start|stop)_(.*)$/.exec(name);
        if (se) {
          const s = sec(se[2]);
          if (s) v = se[1] === 'start' ? s.addr : s.addr + s.size;
        }
      }
    }
    if (v !== undefined) out.set(name, v);
  }
  return out;
}
