/**
 * Discovery of the test-program corpus in test/programs.
 *
 * A program is either a single unit `test/programs/NAME.c` (or `.cc`) or a
 * directory `test/programs/NAME/` of units (`*.c`, `*.cc`, `*.s`, `*.S`).
 * In a directory, units named `lib_*` go into an archive `libNAME.a`, linked
 * after the plain objects; the plain objects are linked in file-name order.
 *
 * Metadata sits in the leading `//` comment lines of the units:
 *   // expect: 42          exit status (exactly one unit of a program says it)
 *   // stdout: text        expected standard output (a newline is appended)
 *   // arches: x86_64      restrict the program to these architectures
 *   // pie: no             skip the -fpie variant
 *   // cflags: -fcommon    extra compiler flags for this unit only; they come
 *                          after the variant's -fno-pic / -fpie and so may
 *                          override it
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ARCHES, type Arch } from './toolchain.js';

export interface Unit {
  /** Absolute path of the source file. */
  src: string;
  /** File name without extension, unique within the program. */
  stem: string;
  /** Goes into the program's archive. */
  inArchive: boolean;
  cflags: string[];
}

export interface Program {
  name: string;
  units: Unit[];
  expect: number;
  stdout?: string;
  arches: Arch[];
  pie: boolean;
}

export interface Variant {
  name: 'nopic' | 'pie';
  flags: string[];
}

export const VARIANTS: readonly Variant[] = [
  { name: 'nopic', flags: ['-fno-pic'] },
  { name: 'pie', flags: ['-fpie'] },
];

const SOURCE_RE = /\.(c|cc|cpp|s|S)$/;

/** Parse the leading `// key: value` comment lines of a source file. */
export function parseMetadata(text: string): Map<string, string> {
  const meta = new Map<string, string>();
  for (const line of text.split('\n')) {
    const t = line.trim();
    if (t === '') continue;
    if (!t.startsWith('//')) break;
    const m = /^\/\/\s*([a-z][a-z0-9_-]*):\s?(.*)$/.exec(t);
    if (m) meta.set(m[1], m[2].trim());
  }
  return meta;
}

function splitFlags(s: string | undefined): string[] {
  return s ? s.split(/\s+/).filter(Boolean) : [];
}

function loadProgram(name: string, sources: string[]): Program {
  const units: Unit[] = [];
  let expect: number | undefined;
  let stdout: string | undefined;
  let arches: Arch[] = [...ARCHES];
  let pie = true;
  for (const src of sources) {
    const meta = parseMetadata(fs.readFileSync(src, 'utf8'));
    const base = path.basename(src);
    units.push({
      src,
      stem: base.replace(SOURCE_RE, ''),
      inArchive: base.startsWith('lib_'),
      cflags: splitFlags(meta.get('cflags')),
    });
    const e = meta.get('expect');
    if (e !== undefined) {
      if (expect !== undefined) throw new Error(`${name}: more than one unit has "// expect:"`);
      expect = Number(e);
      if (!Number.isInteger(expect) || expect < 0 || expect > 255) throw new Error(`${src}: bad expect: ${e}`);
    }
    if (meta.has('stdout')) stdout = meta.get('stdout');
    const a = meta.get('arches');
    if (a !== undefined) {
      const list = splitFlags(a.replace(/,/g, ' '));
      for (const x of list) {
        if (!(ARCHES as readonly string[]).includes(x)) throw new Error(`${src}: unknown arch ${x}`);
      }
      arches = list as Arch[];
    }
    if (meta.get('pie') === 'no') pie = false;
  }
  if (expect === undefined) throw new Error(`${name}: no unit has an "// expect: N" line`);
  if (!units.some((u) => !u.inArchive)) throw new Error(`${name}: only archive members, no objects`);
  return { name, units, expect, stdout, arches, pie };
}

/** The corpus directory in the source tree (sources are not copied to dist/). */
export function corpusDir(root: string): string {
  return path.join(root, 'test', 'programs');
}

/** All programs in the corpus, sorted by name. */
export function discoverPrograms(dir: string): Program[] {
  const programs: Program[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      const sources = fs
        .readdirSync(full)
        .filter((f) => SOURCE_RE.test(f))
        .sort()
        .map((f) => path.join(full, f));
      if (sources.length) programs.push(loadProgram(entry.name, sources));
    } else if (SOURCE_RE.test(entry.name)) {
      programs.push(loadProgram(entry.name.replace(SOURCE_RE, ''), [full]));
    }
  }
  return programs;
}

/** The variants a program is built in. */
export function variantsOf(p: Program): Variant[] {
  return VARIANTS.filter((v) => p.pie || v.name !== 'pie');
}
