import { LinkError } from '../../obj/LinkError.js';
import type { ObjectFile } from '../../obj/model.js';
import { parseExport, unquote, type ExportSpec } from './exports.js';

/**
 * What an object's `.drectve` section asks of the link (the COFF reader
 * keeps its text in `ObjectFile.directives`): options in lld-link's
 * spelling, `/` or `-`, case-insensitive names.
 *
 * - `/EXPORT:` (`-export:` from MinGW compilers): an export (exports.ts);
 * - `/INCLUDE:NAME`: NAME is a root, as if referenced;
 * - `/ALTERNATENAME:FROM=TO`: FROM, if nothing defines it, is TO;
 * - `-aligncomm:NAME,N`: the common symbol NAME is aligned to 2^N (gcc).
 *
 * `/DEFAULTLIB:` names a library the object wants (MSVC's runtime,
 * `oldnames`); tslink does not search for it (lld-link links it when it
 * finds it): give the library on the command line. Other directives
 * (`/FAILIFMISMATCH`, `/MANIFESTDEPENDENCY`, `/MERGE`, ...) are ignored.
 */
export interface Directives {
  exports: ExportSpec[];
  includes: string[];
  alternateNames: Array<[from: string, to: string]>;
  alignComm: Array<[name: string, align: number]>;
  defaultLibs: string[];
}

const NONE: Directives = { exports: [], includes: [], alternateNames: [], alignComm: [], defaultLibs: [] };
const cache = new WeakMap<ObjectFile, Directives>();

export function directivesOf(file: ObjectFile): Directives {
  if (!file.directives) return NONE;
  let d = cache.get(file);
  if (d) return d;
  d = { exports: [], includes: [], alternateNames: [], alignComm: [], defaultLibs: [] };
  const where = `${file.name}: .drectve`;
  for (const word of directiveWords(file.directives)) {
    const m = /^[-/]([A-Za-z]+)(?::(.*))?$/.exec(word);
    if (!m) continue;
    const value = unquote(m[2] ?? '');
    switch (m[1].toLowerCase()) {
      case 'export':
        d.exports.push(parseExport(m[2] ?? '', where));
        break;
      case 'include':
        if (value) d.includes.push(value);
        break;
      case 'alternatename': {
        const eq = value.indexOf('=');
        if (eq <= 0 || eq === value.length - 1) throw new LinkError(`${where}: /alternatename: expected FROM=TO, not '${value}'`);
        d.alternateNames.push([unquote(value.slice(0, eq)), unquote(value.slice(eq + 1))]);
        break;
      }
      case 'aligncomm': {
        const comma = value.lastIndexOf(',');
        const n = Number(value.slice(comma + 1));
        if (comma <= 0 || !Number.isInteger(n) || n < 0 || n > 31) throw new LinkError(`${where}: -aligncomm: expected NAME,N, not '${value}'`);
        // gcc quotes the name: -aligncomm:"buf",5
        d.alignComm.push([unquote(value.slice(0, comma)), 2 ** n]);
        break;
      }
      case 'defaultlib':
        if (value) d.defaultLibs.push(value);
        break;
      default:
        break;
    }
  }
  cache.set(file, d);
  return d;
}

/** Splits a `.drectve` text into options, keeping quoted parts together. */
export function directiveWords(text: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (const ch of text) {
    if (ch === '"') quoted = !quoted;
    if (/\s/.test(ch) && !quoted) {
      if (cur) out.push(cur);
      cur = '';
    } else cur += ch;
  }
  if (cur) out.push(cur);
  return out;
}

