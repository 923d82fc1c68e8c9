import { LinkError } from '../../obj/LinkError.js';
import { SymPlace } from '../../obj/model.js';
import { IMAGE_SCN } from '../../obj/readCoff.js';
import { SymState, type Resolution } from '../resolve.js';
import { directivesOf } from './directives.js';

/**
 * A DLL's exports: what the export directory lists and the import library
 * describes. They come from three places, as in lld-link:
 *
 * - `/EXPORT:` on the command line, and `EXPORTS` in a module-definition
 *   (`.def`) file: `name[=internal][,@ordinal[,NONAME]][,DATA][,PRIVATE]`;
 * - the objects' directives (`__declspec(dllexport)`: clang and MSVC write
 *   `/EXPORT:name` or `-export:name[,data]` into `.drectve`);
 * - in MinGW, when nothing names an export, every global the DLL's own
 *   objects define (lld's AutoExporter, GNU ld's --export-all-symbols),
 *   but those of the C runtime and the compiler's libraries.
 */

export interface ExportSpec {
  /** The name the DLL exports. */
  name: string;
  /** The symbol it exports, when not the same (`name=internal`). */
  internal?: string;
  /** A forwarder (`name=dll.other`): the loader resolves it to another DLL's export; no symbol here. */
  forward?: string;
  /** 0: assigned by the link. */
  ordinal: number;
  noName: boolean;
  data: boolean;
  /** Listed in the export directory, left out of the import library. */
  private: boolean;
}

/** An export as linked: its symbol (a global id; -1 for a forwarder) and ordinal. */
export interface Export extends ExportSpec {
  id: number;
}

/** `name[=internal][,@ordinal[,NONAME]][,DATA][,PRIVATE]`, and MinGW's lower-case `-export:name,data`. */
export function parseExport(text: string, where: string): ExportSpec {
  const parts = splitUnquoted(text, ',');
  const [name, internal] = splitUnquoted(parts[0], '=').map(unquote);
  if (!name) throw new LinkError(`${where}: an export without a name: '${text}'`);
  const spec: ExportSpec = { name, ordinal: 0, noName: false, data: false, private: false };
  setTarget(spec, internal);
  for (const p of parts.slice(1)) {
    const word = p.trim().toLowerCase();
    if (/^@\d+$/.test(word)) spec.ordinal = ordinalOf(word.slice(1), where, text);
    else if (word === 'noname') spec.noName = true;
    else if (word === 'data') spec.data = true;
    else if (word === 'private') spec.private = true;
    else if (word === 'constant') throw new LinkError(`${where}: export '${text}': CONSTANT exports are not supported`);
    else throw new LinkError(`${where}: export '${text}': unknown attribute '${p.trim()}'`);
  }
  if (spec.noName && !spec.ordinal) throw new LinkError(`${where}: export '${text}': NONAME needs an ordinal (@N)`);
  return spec;
}

export interface ModuleDefinition {
  /** `LIBRARY name`: the DLL's name (the output's, unless the command line names one). */
  library?: string;
  /** `LIBRARY name BASE=address`: the preferred base (unless the command line gives one). */
  base?: number;
  /** HEAPSIZE and STACKSIZE: reserve[,commit]; VERSION: major[.minor]. */
  heap?: [number, number | undefined];
  stack?: [number, number | undefined];
  version?: [number, number];
  exports: ExportSpec[];
}

/** `name=internal` exports `internal` as `name`; `name=dll.other` forwards to another DLL's export. */
function setTarget(spec: ExportSpec, target: string | undefined): void {
  if (target === undefined || target === spec.name) return;
  if (target.includes('.')) spec.forward = target;
  else spec.internal = target;
}

/**
 * A module-definition file: `LIBRARY`/`NAME`, `EXPORTS` and its entries
 * (`name[=internal] [@ordinal [NONAME]] [DATA] [PRIVATE]`, `name=dll.other`
 * a forwarder), `HEAPSIZE`, `STACKSIZE`, `VERSION`, `;` comments.
 * `SECTIONS` is refused by name.
 */
export function parseModuleDefinition(text: string, file: string): ModuleDefinition {
  const def: ModuleDefinition = { exports: [] };
  let inExports = false;
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.replace(/;.*$/, '').trim();
    if (!line) return;
    const where = `${file}:${i + 1}`;
    const words = line.split(/\s+/);
    const keyword = words[0].toUpperCase();
    if (keyword === 'LIBRARY' || keyword === 'NAME') {
      inExports = false;
      for (const w of words.slice(1)) {
        const base = /^BASE=(.*)$/i.exec(w);
        if (base) {
          const v = /^(0x[0-9a-f]+|\d+)$/i.test(base[1]) ? Number(base[1]) : NaN;
          if (!Number.isSafeInteger(v) || v <= 0) throw new LinkError(`${where}: BASE=${base[1]} is not an address`);
          def.base = v;
        } else if (def.library === undefined) def.library = unquote(w);
        else throw new LinkError(`${where}: unexpected '${w}' after LIBRARY ${def.library}`);
      }
      return;
    }
    if (keyword === 'EXPORTS') {
      inExports = true;
      if (words.length > 1) def.exports.push(defExport(words.slice(1), where));
      return;
    }
    if (keyword === 'HEAPSIZE' || keyword === 'STACKSIZE') {
      inExports = false;
      const [reserve, commit] = (words[1] ?? '').split(',').map((x) => (/^(0x[0-9a-f]+|\d+)$/i.test(x) ? Number(x) : NaN));
      if (!(reserve >= 0) || (commit !== undefined && !(commit >= 0)) || words.length > 2) throw new LinkError(`${where}: expected ${keyword} RESERVE[,COMMIT]`);
      def[keyword === 'HEAPSIZE' ? 'heap' : 'stack'] = [reserve, commit];
      return;
    }
    if (keyword === 'VERSION') {
      inExports = false;
      const m = /^(\d+)(?:\.(\d+))?$/.exec(words[1] ?? '');
      if (!m || words.length > 2 || Number(m[1]) > 0xffff || Number(m[2] ?? 0) > 0xffff) throw new LinkError(`${where}: expected VERSION MAJOR[.MINOR]`);
      def.version = [Number(m[1]), Number(m[2] ?? 0)];
      return;
    }
    if (['SECTIONS', 'IMPORTS', 'DESCRIPTION'].includes(keyword)) {
      throw new LinkError(`${where}: '${keyword}' in a module-definition file is not supported yet`);
    }
    if (!inExports) throw new LinkError(`${where}: unexpected '${words[0]}' (expected LIBRARY or EXPORTS)`);
    def.exports.push(defExport(words, where));
  });
  return def;
}

function defExport(tokens: string[], where: string): ExportSpec {
  // `name = internal`, spaced or not, is one word here.
  const words = tokens.join(' ').replace(/\s*=\s*(?!=)/, '=').split(/\s+/);
  const [head, ...rest] = words;
  const [name, internal] = splitUnquoted(head, '=').map(unquote);
  if (!name) throw new LinkError(`${where}: an export without a name`);
  const spec: ExportSpec = { name, ordinal: 0, noName: false, data: false, private: false };
  setTarget(spec, internal);
  for (let k = 0; k < rest.length; k++) {
    const w = rest[k];
    const upper = w.toUpperCase();
    if (w.startsWith('@')) spec.ordinal = ordinalOf(w.slice(1) || rest[++k] || '', where, head);
    else if (upper === 'NONAME') spec.noName = true;
    else if (upper === 'DATA') spec.data = true;
    else if (upper === 'PRIVATE') spec.private = true;
    else if (upper === 'CONSTANT') throw new LinkError(`${where}: CONSTANT exports are not supported`);
    else if (w.startsWith('==')) throw new LinkError(`${where}: export-as names ('==') are not supported yet`);
    else throw new LinkError(`${where}: unexpected '${w}' in the export of ${name}`);
  }
  if (spec.noName && !spec.ordinal) throw new LinkError(`${where}: export '${name}': NONAME needs an ordinal (@N)`);
  return spec;
}

function ordinalOf(s: string, where: string, what: string): number {
  const n = /^\d+$/.test(s) ? Number(s) : NaN;
  if (!(n >= 1 && n <= 0xffff)) throw new LinkError(`${where}: export '${what}': the ordinal must be 1 to 65535, not '${s}'`);
  return n;
}

function splitUnquoted(s: string, sep: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (const ch of s) {
    if (ch === '"') quoted = !quoted;
    if (ch === sep && !quoted) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out;
}

/** `"name"` -> `name` (surrounding blanks dropped). */
export function unquote(s: string): string {
  const t = s.trim();
  return t.length >= 2 && t.startsWith('"') && t.endsWith('"') ? t.slice(1, -1) : t;
}

// lld's AutoExporter (lld/COFF/MinGW.cpp): what a MinGW DLL without named exports does not export.
const RUNTIME_LIBS = new Set([
  'libgcc', 'libgcc_s', 'libstdc++', 'libmingw32', 'libmingwex', 'libg2c', 'libsupc++', 'libobjc', 'libgcj',
  'libclang_rt.builtins', 'libclang_rt.builtins-x86_64', 'libclang_rt.builtins-aarch64', 'libclang_rt.profile',
  'libc++', 'libc++abi', 'libunwind', 'libmsvcrt', 'libucrtbase', 'libmoldname', 'libkernel32',
]);
const RUNTIME_OBJECTS = new Set([
  'crt0.o', 'crt1.o', 'crt1u.o', 'crt2.o', 'crt2u.o', 'dllcrt1.o', 'dllcrt2.o', 'gcrt0.o', 'gcrt1.o', 'gcrt2.o', 'crtbegin.o', 'crtend.o',
]);
const NOT_EXPORTED = new Set([
  '__NULL_IMPORT_DESCRIPTOR', '_pei386_runtime_relocator', 'do_pseudo_reloc', 'impure_ptr', '_impure_ptr', '_fmode', 'environ',
  '_dll_crt0@0', 'DllMain', 'DllEntryPoint', 'DllMainCRTStartup', '_DllMainCRTStartup', '__ImageBase',
]);
const NOT_EXPORTED_PREFIXES = ['__head_', '_head_', '__imp_', '_imp_', '__nm_', '_nm_', '__rtti_', '__builtin_', '.refptr.', '.weak.'];
const NOT_EXPORTED_SUFFIXES = ['_iname', '_NULL_THUNK_DATA'];

/** Whether a file is part of the C runtime or the compiler's libraries: `libgcc.a(x.o)`, `.../crt2.o`. */
function isRuntimeFile(name: string): boolean {
  const m = /^(.*)\((.*)\)$/.exec(name);
  const base = (m ? m[1] : name).split(/[\\/]/).pop()!;
  if (m) return RUNTIME_LIBS.has(base.replace(/(\.dll)?\.(a|lib)$/i, ''));
  return RUNTIME_OBJECTS.has(base);
}

/**
 * The DLL's exports, sorted by name, with ordinals: those named explicitly
 * (`specs`, and the objects' directives) or, when there are none and
 * `exportAll` (MinGW), every global the DLL's own code defines. Ordinals
 * not given are assigned after the largest given, in name order (lld).
 */
export function collectExports(res: Resolution, specs: readonly ExportSpec[], exportAll: boolean): Export[] {
  const byName = new Map<string, ExportSpec>();
  const add = (e: ExportSpec) => {
    const had = byName.get(e.name);
    if (!had) byName.set(e.name, e);
    else if (e.ordinal && had.ordinal && e.ordinal !== had.ordinal) {
      throw new LinkError(`duplicate export: ${e.name} with ordinals ${had.ordinal} and ${e.ordinal}`);
    }
  };
  specs.forEach(add);
  for (const f of res.files) directivesOf(f).exports.forEach(add);

  if (byName.size === 0 && exportAll) {
    for (let id = 0; id < res.symbols.length; id++) {
      const g = res.symbols[id];
      if (g.state !== SymState.Defined) continue;
      const file = res.files[g.file];
      const s = file.symbols[g.sym];
      if (s.atom < 0 && s.atom !== SymPlace.Absolute) continue;
      if (s.atom === SymPlace.Absolute || file.dllImport || isRuntimeFile(file.name)) continue;
      if (NOT_EXPORTED.has(g.name) || NOT_EXPORTED_PREFIXES.some((p) => g.name.startsWith(p))
        || NOT_EXPORTED_SUFFIXES.some((p) => g.name.endsWith(p))) continue;
      const data = !(file.atoms[s.atom].rawType & IMAGE_SCN.MEM_EXECUTE);
      byName.set(g.name, { name: g.name, ordinal: 0, noName: false, data, private: false });
    }
  }

  const out: Export[] = [];
  const missing: string[] = [];
  for (const e of byName.values()) {
    if (e.forward) {
      out.push({ ...e, id: -1 });
      continue;
    }
    const target = e.internal ?? e.name;
    const id = res.byName.get(target);
    const g = id === undefined ? undefined : res.symbols[id];
    if (!g || (g.state !== SymState.Defined && g.state !== SymState.Common)) {
      missing.push(`undefined symbol: ${target} (exported${e.internal ? ` as ${e.name}` : ''})`);
      continue;
    }
    out.push({ ...e, id: id! });
  }
  if (missing.length) throw new LinkError(missing.slice(0, 20).join('\n'));
  out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  let max = 0;
  const taken = new Map<number, string>();
  for (const e of out) {
    if (!e.ordinal) continue;
    const other = taken.get(e.ordinal);
    if (other) throw new LinkError(`duplicate export ordinal ${e.ordinal}: ${other} and ${e.name}`);
    taken.set(e.ordinal, e.name);
    max = Math.max(max, e.ordinal);
  }
  for (const e of out) if (!e.ordinal) e.ordinal = ++max;
  if (max > 0xffff) throw new LinkError(`too many exports (${out.length}): ordinals go up to 65535`);
  return out;
}

/** The export directory's size: header, address table, name pointers and ordinals, the DLL's name, the names. */
export function exportTableSize(exports: readonly Export[], dllName: string): number {
  const { count } = ordinalRange(exports);
  const named = exports.filter((e) => !e.noName);
  const enc = new TextEncoder();
  const strings = (list: readonly string[]) => list.reduce((n, s) => n + enc.encode(s).length + 1, 0);
  return 40 + 4 * count + 6 * named.length + strings([dllName, ...named.map((e) => e.name), ...exports.flatMap((e) => (e.forward ? [e.forward] : []))]);
}

function ordinalRange(exports: readonly Export[]): { base: number; count: number } {
  if (exports.length === 0) return { base: 1, count: 0 };
  let lo = Infinity;
  let hi = 0;
  for (const e of exports) {
    lo = Math.min(lo, e.ordinal);
    hi = Math.max(hi, e.ordinal);
  }
  return { base: lo, count: hi - lo + 1 };
}

/**
 * IMAGE_EXPORT_DIRECTORY and its tables, at RVA `at`: the address table
 * (by ordinal - base), the name pointer table (sorted by name, as the
 * loader searches it), the ordinal table beside it, then the strings.
 */
export function writeExportTable(out: Uint8Array, at: number, exports: readonly Export[], dllName: string, rvaOf: (e: Export) => number): void {
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  const enc = new TextEncoder();
  const { base, count } = ordinalRange(exports);
  const named = exports.filter((e) => !e.noName);
  const addresses = 40;
  const names = addresses + 4 * count;
  const ordinals = names + 4 * named.length;
  let strings = ordinals + 2 * named.length;
  const put = (s: string): number => {
    const b = enc.encode(s);
    out.set(b, strings);
    const rva = at + strings;
    strings += b.length + 1;
    return rva;
  };
  view.setUint32(12, put(dllName), true);
  view.setUint32(16, base, true);
  view.setUint32(20, count, true);
  view.setUint32(24, named.length, true);
  view.setUint32(28, at + addresses, true);
  view.setUint32(32, at + names, true);
  view.setUint32(36, at + ordinals, true);
  // A forwarder's address is its `dll.name` string, inside the export directory, which is how the loader tells it.
  for (const e of exports) view.setUint32(addresses + 4 * (e.ordinal - base), e.forward ? put(e.forward) : rvaOf(e), true);
  named.forEach((e, i) => {
    view.setUint32(names + 4 * i, put(e.name), true);
    view.setUint16(ordinals + 2 * i, e.ordinal - base, true);
  });
}
