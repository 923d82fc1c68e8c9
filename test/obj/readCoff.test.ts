import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isCoff, readCoffObject } from '../../src/obj/readCoff.js';
import { readArchive } from '../../src/obj/archive.js';
import { LinkError } from '../../src/obj/LinkError.js';
import { AtomKind, ComdatSelect, SecFlag, SymBinding, SymPlace, SymType, type ArchName, type ObjectFile } from '../../src/obj/model.js';
import { requireTools, tmpDir } from '../support/toolchain.js';
import { PE_DEFAULTS, linkPe } from '../../src/link/pe/linkPe.js';

/**
 * The COFF reader (src/obj/readCoff.ts, doc/coff.md): objects clang writes
 * for x86_64-windows-msvc, x86_64-w64-mingw32 and aarch64-windows-msvc,
 * read and cross-checked against llvm-readobj (sections, symbols,
 * relocations, COMDAT selections and associations); implicit addends
 * against the values the sources put there; /bigobj, more than 65535
 * relocations and base-64 long names through llvm-mc; COFF archives from
 * llvm-lib, llvm-ar, llvm-dlltool and in lib.exe's layout; targeted
 * corruptions; and a seeded mutation fuzzer: every input is read or refused
 * with a LinkError naming it, and what is read is a consistent model.
 */

const SOURCES: Record<string, string> = {
  'basic.c': `
int counter = 5;
static int hidden = 3;
int zeroed;
int common_var;
static int sbss;
const char *greeting(void) { return "hello, world"; }
extern int external_fn(int);
__attribute__((section(".data$zz"))) int dollar = 7;
__attribute__((section(".averyverylongsectionname"))) int longsec = 9;
static int helper(int x) { return x + counter + greeting()[0] + hidden + sbss++; }
int entry(void) { return helper(3) + external_fn(counter) + zeroed + common_var + dollar + longsec; }
`,
  'comdat.cpp': `
inline int twice(int x) { return 2 * x; }
template <typename T> struct Box { static T value; T get() const { return value + twice(1); } };
template <typename T> T Box<T>::value = 3;
int arr[16];
int *mid() { return &arr[3]; }
int callit(int y) { Box<int> b; return b.get() + twice(y) + *mid(); }
`,
  'weak.c': `
__attribute__((weak)) int weakfn(int x) { return x + 1; }
__attribute__((weak)) extern int weakref(int);
__attribute__((weak)) int weakvar = 4;
int use(void) { return weakfn(2) + (weakref ? weakref(1) : 0) + weakvar; }
`,
  'addend.c': `
int arr[16];
extern int ext[8];
extern void callee(void);
static int sloc = 1;
int *mid(void) { return &arr[3]; }
int getext(void) { return ext[5] + sloc; }
long long tab8[4];
long long getq(void) { return tab8[2]; }
typedef int v4 __attribute__((vector_size(16)));
v4 vt[4];
v4 getv(void) { return vt[1]; }
void tail(void) { callee(); }
int *ptrs[] = { &arr[2], &ext[1] };
__declspec(thread) int tlsv = 5;
int gettls(void) { return tlsv; }
`,
  'directives.c': `
#pragma comment(lib, "kernel32")
__declspec(dllexport) int exported(void) { return 1; }
int common_var;
`,
};

/** Every COMDAT selection, through the assembler: `discard` is Any, `one_only` NoDuplicates, `same_contents` ExactMatch. */
const SELECTIONS_S = `
.text
.globl main
main: ret
.section .text$any,"xr",discard,any_fn
.globl any_fn
any_fn: ret
.globl any_fn_alias
any_fn_alias: ret
.section .text$one,"xr",one_only,one_fn
.globl one_fn
one_fn: ret
.section .data$same,"dw",same_size,same_var
.globl same_var
same_var: .long 1
.section .rdata$exact,"dr",same_contents,exact_var
.globl exact_var
exact_var: .long 2
.section .data$largest,"dw",largest,largest_var
.globl largest_var
largest_var: .quad 3
.section .data$newest,"dw",newest,newest_var
.globl newest_var
newest_var: .long 4
.section .xdata$any,"dr",associative,any_fn
.long 5
.section .data$static,"dw",discard,static_leader
static_leader: .long 6
`;

interface Compiled {
  target: string;
  src: string;
  flags: string[];
}

/** Objects by file name: what clang compiles them from. */
const OBJECTS: Record<string, Compiled> = {
  'basic-msvc.obj': { target: 'x86_64-windows-msvc', src: 'basic.c', flags: ['-O1'] },
  'basic-msvc-common.obj': { target: 'x86_64-windows-msvc', src: 'basic.c', flags: ['-O1', '-fcommon'] },
  'basic-mingw.obj': { target: 'x86_64-w64-mingw32', src: 'basic.c', flags: ['-O1', '-fcommon'] },
  'basic-arm64.obj': { target: 'aarch64-windows-msvc', src: 'basic.c', flags: ['-O1'] },
  'basic-msvc-fs.obj': { target: 'x86_64-windows-msvc', src: 'basic.c', flags: ['-O1', '-ffunction-sections', '-fdata-sections'] },
  'basic-mingw-fs.obj': { target: 'x86_64-w64-mingw32', src: 'basic.c', flags: ['-O1', '-ffunction-sections', '-fdata-sections'] },
  'basic-mingw-g.obj': { target: 'x86_64-w64-mingw32', src: 'basic.c', flags: ['-O1', '-g'] },
  'comdat-msvc.obj': { target: 'x86_64-windows-msvc', src: 'comdat.cpp', flags: ['-O0'] },
  'comdat-msvc-g.obj': { target: 'x86_64-windows-msvc', src: 'comdat.cpp', flags: ['-O0', '-g', '-gcodeview'] },
  'comdat-mingw.obj': { target: 'x86_64-w64-mingw32', src: 'comdat.cpp', flags: ['-O0'] },
  'comdat-arm64.obj': { target: 'aarch64-windows-msvc', src: 'comdat.cpp', flags: ['-O0'] },
  'weak-mingw.obj': { target: 'x86_64-w64-mingw32', src: 'weak.c', flags: ['-O1'] },
  'addend-x64.obj': { target: 'x86_64-windows-msvc', src: 'addend.c', flags: ['-O1'] },
  'addend-arm64.obj': { target: 'aarch64-windows-msvc', src: 'addend.c', flags: ['-O1'] },
  'directives-msvc.obj': { target: 'x86_64-windows-msvc', src: 'directives.c', flags: ['-fcommon'] },
  'directives-mingw.obj': { target: 'x86_64-w64-mingw32', src: 'directives.c', flags: ['-fcommon'] },
};

// ---------------------------------------------------------------------------
// llvm-readobj's text output, parsed into a tree.

interface RoNode {
  title: string;
  fields: Map<string, string>;
  /** Lines that are not `key: value` (the flag names in a Characteristics list). */
  items: string[];
  children: RoNode[];
}

function parseReadobj(text: string): RoNode {
  const root: RoNode = { title: '', fields: new Map(), items: [], children: [] };
  const stack = [root];
  for (const line of text.split('\n')) {
    const t = line.trim();
    if (!t) continue;
    const top = stack[stack.length - 1];
    if (t === '}' || t === ']') {
      stack.pop();
      continue;
    }
    const list = /^(\w+) \[ \((0x[0-9A-Fa-f]+)\)$/.exec(t) ?? /^(.*?)\s*[{[]$/.exec(t);
    if (list) {
      const node: RoNode = { title: list[1], fields: new Map(), items: [], children: [] };
      if (list[2]) node.fields.set('value', list[2]);
      top.children.push(node);
      stack.push(node);
      continue;
    }
    const colon = t.indexOf(': ');
    if (colon > 0) top.fields.set(t.slice(0, colon), t.slice(colon + 2));
    else if (t.endsWith(':')) top.fields.set(t.slice(0, -1), '');
    else top.items.push(t);
  }
  return root;
}

/** The number in parentheses at the end: `Static (0x3)` -> 3, `.text (5)` -> 5. */
function trailingNumber(s: string): number {
  const m = /\((-?(?:0x)?[0-9A-Fa-f]+)\)$/.exec(s);
  if (!m) throw new Error(`no trailing number in '${s}'`);
  return m[1].startsWith('0x') ? parseInt(m[1], 16) : Number(m[1]);
}

function child(n: RoNode, title: string): RoNode {
  const c = n.children.find((x) => x.title === title);
  if (!c) throw new Error(`llvm-readobj output has no '${title}' under '${n.title}'`);
  return c;
}

interface RoSection {
  number: number;
  name: string;
  size: number;
  dataOffset: number;
  characteristics: number;
  flagNames: string[];
}

interface RoSymbol {
  /** Index in the symbol table, aux records counted. */
  index: number;
  name: string;
  value: number;
  section: number;
  storageClass: number;
  function: boolean;
  sectionDef?: { selection: number; assoc: number | null };
  weakDefault?: number;
  fileName?: string;
}

interface RoReloc {
  offset: number;
  type: number;
  symbol: string;
  symbolIndex: number;
}

interface Readobj {
  sections: RoSection[];
  symbols: RoSymbol[];
  relocs: Map<number, RoReloc[]>;
}

function readobj(path: string): Readobj {
  const text = execFileSync('llvm-readobj', ['--sections', '--symbols', '--relocations', '--expand-relocs', path], { encoding: 'utf8', maxBuffer: 1 << 30 });
  const root = parseReadobj(text);
  const sections = child(root, 'Sections').children.map((s): RoSection => {
    const ch = child(s, 'Characteristics');
    return {
      number: Number(s.fields.get('Number')),
      // `Name: .averyverylongsectionname (2F 34 31 00 00 00 00 00)`: the name, then the raw field.
      name: s.fields.get('Name')!.replace(/ \((?:[0-9A-F]{2} ?){8}\)$/, ''),
      size: Number(s.fields.get('RawDataSize')),
      dataOffset: parseInt(s.fields.get('PointerToRawData')!, 16),
      characteristics: parseInt(ch.fields.get('value')!, 16),
      flagNames: ch.items.map((i) => i.split(' ')[0]),
    };
  });
  let index = 0;
  const symbols = child(root, 'Symbols').children.map((s): RoSymbol => {
    const aux = Number(s.fields.get('AuxSymbolCount'));
    const sym: RoSymbol = {
      index,
      name: s.fields.get('Name')!,
      value: Number(s.fields.get('Value')),
      section: trailingNumber(s.fields.get('Section')!),
      storageClass: trailingNumber(s.fields.get('StorageClass')!),
      function: (s.fields.get('ComplexType') ?? '').startsWith('Function'),
    };
    index += 1 + aux;
    const def = s.children.find((c) => c.title === 'AuxSectionDef');
    if (def) {
      const sel = def.fields.get('Selection')!;
      sym.sectionDef = { selection: sel.includes('(') ? trailingNumber(sel) : parseInt(sel, 16), assoc: def.fields.has('AssocSection') ? trailingNumber(def.fields.get('AssocSection')!) : null };
    }
    const weak = s.children.find((c) => c.title === 'AuxWeakExternal');
    if (weak) sym.weakDefault = trailingNumber(weak.fields.get('Linked')!);
    const file = s.children.find((c) => c.title === 'AuxFileRecord');
    if (file) sym.fileName = file.fields.get('FileName');
    return sym;
  });
  const relocs = new Map<number, RoReloc[]>();
  for (const sec of child(root, 'Relocations').children) {
    const m = /^Section \((\d+)\)/.exec(sec.title);
    if (!m) throw new Error(`unexpected relocation group '${sec.title}'`);
    relocs.set(Number(m[1]), sec.children.map((r) => ({
      offset: parseInt(r.fields.get('Offset')!, 16),
      type: trailingNumber(r.fields.get('Type')!),
      symbol: r.fields.get('Symbol')!,
      symbolIndex: Number(r.fields.get('SymbolIndex')),
    })));
  }
  return { sections, symbols, relocs };
}

// ---------------------------------------------------------------------------
// The cross-check: what the reader made of an object against what llvm-readobj says is in it.

const STATIC = 3;
const EXTERNAL = 2;
const WEAK_EXTERNAL = 105;
const FILE = 103;
const LNK_REMOVE = 0x800;
const LNK_COMDAT = 0x1000;

function has(s: RoSection, flag: string): boolean {
  return s.flagNames.includes(flag);
}

function expectedKind(s: RoSection): AtomKind {
  if (s.name.startsWith('.debug')) return AtomKind.Debug;
  if (s.name === '.tls' || s.name.startsWith('.tls$')) return AtomKind.TData;
  if (has(s, 'IMAGE_SCN_CNT_CODE')) return AtomKind.Code;
  if (has(s, 'IMAGE_SCN_CNT_UNINITIALIZED_DATA')) return AtomKind.Bss;
  if (has(s, 'IMAGE_SCN_MEM_WRITE')) return AtomKind.Data;
  return AtomKind.ROData;
}

/** Checks `o` against llvm-readobj's view of the file at `path`; returns it for further checks. */
function crossCheck(path: string, o: ObjectFile): Readobj {
  const ro = readobj(path);
  const bytes = readFileSync(path);
  const what = (s: string) => `${path}: ${s}`;

  // Sections: every one that is not LNK_REMOVE or .drectve is an atom, in order.
  const atomOf = new Map<number, number>();
  for (const s of ro.sections) if (!(s.characteristics & LNK_REMOVE) && s.name !== '.drectve') atomOf.set(s.number, atomOf.size);
  expect(o.atoms.length, what('atom count')).to.equal(atomOf.size);
  expect(o.format).to.equal('coff');
  for (const s of ro.sections) {
    const a = atomOf.get(s.number);
    if (a === undefined) continue;
    const atom = o.atoms[a];
    const at = what(`section ${s.number} '${s.name}'`);
    expect(atom.index, at).to.equal(a);
    expect(atom.name, at).to.equal(s.name);
    expect(atom.size, at).to.equal(s.size);
    expect(atom.rawType, at).to.equal(s.characteristics);
    const alignFlag = s.flagNames.map((f) => /^IMAGE_SCN_ALIGN_(\d+)BYTES$/.exec(f)).find((m) => m);
    expect(atom.align, at).to.equal(alignFlag ? Number(alignFlag[1]) : 16);
    expect(atom.kind, at).to.equal(expectedKind(s));
    const alloc = atom.kind !== AtomKind.Debug;
    expect(!!(atom.flags & SecFlag.Alloc), at).to.equal(alloc);
    if (alloc) {
      expect(!!(atom.flags & SecFlag.Exec), at).to.equal(has(s, 'IMAGE_SCN_MEM_EXECUTE') || has(s, 'IMAGE_SCN_CNT_CODE'));
      expect(!!(atom.flags & SecFlag.Write), at).to.equal(has(s, 'IMAGE_SCN_MEM_WRITE'));
      expect(!!(atom.flags & SecFlag.Retain), at).to.equal(!(s.characteristics & LNK_COMDAT));
    }
    if (atom.kind === AtomKind.Bss) {
      expect(atom.data, at).to.equal(null);
      expect(!!(atom.flags & SecFlag.NoBits), at).to.equal(true);
    } else {
      expect(Buffer.from(atom.data!).equals(bytes.subarray(s.dataOffset, s.dataOffset + s.size)), `${at}: contents`).to.equal(true);
    }
  }

  // Symbols: the null symbol, the locals, then the globals, each in table order.
  const isGlobal = (s: RoSymbol) => s.storageClass === EXTERNAL || s.storageClass === WEAK_EXTERNAL;
  const locals = ro.symbols.filter((s) => !isGlobal(s));
  const globals = ro.symbols.filter(isGlobal);
  expect(o.symbols.length, what('symbol count')).to.equal(1 + ro.symbols.length);
  expect(o.firstGlobal, what('firstGlobal')).to.equal(1 + locals.length);
  const modelOf = new Map<number, number>();
  [...locals, ...globals].forEach((s, i) => modelOf.set(s.index, 1 + i));
  const byIndex = new Map(ro.symbols.map((s) => [s.index, s]));
  const placeOf = (s: RoSymbol): number => {
    if (s.section > 0) return atomOf.get(s.section) ?? SymPlace.Dropped;
    if (s.section === 0) return s.storageClass === EXTERNAL && s.value > 0 ? SymPlace.Common : SymPlace.Undefined;
    return SymPlace.Absolute;
  };
  for (const s of ro.symbols) {
    const m = o.symbols[modelOf.get(s.index)!];
    const at = what(`symbol ${s.index} '${s.name}'`);
    expect(m.name, at).to.equal(s.storageClass === FILE ? s.fileName : s.name);
    expect(m.binding, at).to.equal(s.storageClass === EXTERNAL ? SymBinding.Global : s.storageClass === WEAK_EXTERNAL ? SymBinding.Weak : SymBinding.Local);
    if (s.storageClass === WEAK_EXTERNAL) {
      let d = byIndex.get(s.weakDefault!)!;
      while (d.storageClass === WEAK_EXTERNAL) d = byIndex.get(d.weakDefault!)!;
      const place = placeOf(d);
      if (place === SymPlace.Undefined || place === SymPlace.Common) {
        expect(m.atom, at).to.equal(SymPlace.Undefined);
        expect(m.weakAlias, at).to.equal(modelOf.get(d.index));
      } else {
        expect(m.atom, at).to.equal(place);
        expect(m.value, at).to.equal(d.value);
        expect(m.weakAlias, at).to.equal(undefined);
      }
      continue;
    }
    expect(m.atom, at).to.equal(placeOf(s));
    if (m.atom === SymPlace.Common) {
      expect(m.size, at).to.equal(s.value);
      expect(m.value, at).to.equal(Math.min(32, 2 ** Math.ceil(Math.log2(s.value))));
    } else {
      expect(m.value, at).to.equal(s.value);
    }
    const type = s.storageClass === FILE ? SymType.File : s.sectionDef && s.storageClass === STATIC ? SymType.Section : s.function ? SymType.Func : SymType.NoType;
    expect(m.type, at).to.equal(type);
  }

  // Relocations: offsets, types and targets, in order.
  for (const s of ro.sections) {
    const a = atomOf.get(s.number);
    const expected = ro.relocs.get(s.number) ?? [];
    if (a === undefined) continue;
    const got = o.atoms[a].relocs;
    expect(got.length, what(`relocation count of section ${s.number} '${s.name}'`)).to.equal(expected.length);
    expected.forEach((e, k) => {
      const r = got.at(k);
      const at = what(`relocation ${k} of section ${s.number} '${s.name}'`);
      expect(r.offset, at).to.equal(e.offset);
      expect(r.type, at).to.equal(e.type);
      expect(r.sym, at).to.equal(modelOf.get(e.symbolIndex));
      const target = byIndex.get(e.symbolIndex)!;
      expect(o.symbols[r.sym].name, at).to.equal(target.storageClass === FILE ? target.fileName : e.symbol);
    });
  }

  // COMDAT: groups named after external leaders, with their selection; associative sections with their parents.
  let groups = 0;
  for (const s of ro.sections) {
    const a = atomOf.get(s.number);
    if (a === undefined) continue;
    const atom = o.atoms[a];
    const at = what(`section ${s.number} '${s.name}'`);
    if (!(s.characteristics & LNK_COMDAT)) {
      expect(atom.group, at).to.equal(-1);
      expect(atom.linkOrder, at).to.equal(undefined);
      continue;
    }
    const defAt = ro.symbols.findIndex((x) => x.section === s.number && x.storageClass === STATIC && x.sectionDef);
    const def = ro.symbols[defAt].sectionDef!;
    if (def.selection === 5) {
      const parent = atomOf.get(def.assoc!)!;
      expect(atom.linkOrder, at).to.equal(parent);
      expect(atom.group, at).to.equal(o.atoms[parent].group);
      continue;
    }
    const leader = ro.symbols.slice(defAt + 1).find((x) => x.section === s.number && !(x.storageClass === STATIC && x.sectionDef));
    if (!leader) {
      // MinGW: .pdata$f and .xdata$f go with .text$f.
      const m = /^\.(?:pdata|xdata)\$(.*)$/.exec(s.name);
      expect(m, `${at}: a leaderless COMDAT section`).to.not.equal(null);
      const parent = atom.linkOrder!;
      expect(o.atoms[parent].name, at).to.equal(`.text$${m![1]}`);
      expect(atom.group, at).to.equal(o.atoms[parent].group);
    } else if (leader.storageClass === EXTERNAL) {
      groups++;
      expect(atom.group, at).to.be.at.least(0);
      const g = o.groups[atom.group];
      expect(g.signature, at).to.equal(leader.name);
      expect(g.selection, at).to.equal(def.selection);
      expect(g.atoms[0], at).to.equal(a);
    } else {
      expect(atom.group, `${at}: a COMDAT with a static leader is not deduplicated`).to.equal(-1);
    }
  }
  expect(o.groups.length, what('group count')).to.equal(groups);
  for (const [g, group] of o.groups.entries()) for (const a of group.atoms) expect(o.atoms[a].group, what(`group ${g}`)).to.equal(g);
  checkConsistent(o);
  return ro;
}

/** The invariants of the model that the linker relies on, whatever the input was. */
function checkConsistent(o: ObjectFile): void {
  const places = [SymPlace.Undefined, SymPlace.Absolute, SymPlace.Common, SymPlace.Dropped];
  const fail = (what: string) => { throw new Error(`${o.name}: inconsistent model: ${what}`); };
  if (o.symbols[0].name !== '' || o.symbols[0].atom !== SymPlace.Undefined) fail('symbol 0 is not the null symbol');
  if (o.firstGlobal < 1 || o.firstGlobal > o.symbols.length) fail(`firstGlobal ${o.firstGlobal}`);
  o.symbols.forEach((s, i) => {
    if ((i < o.firstGlobal) !== (s.binding === SymBinding.Local)) fail(`symbol ${i} binding ${s.binding} on the wrong side of firstGlobal`);
    if (s.atom >= o.atoms.length || (s.atom < 0 && !places.includes(s.atom))) fail(`symbol ${i} place ${s.atom}`);
    if (!Number.isSafeInteger(s.value) || !Number.isSafeInteger(s.size)) fail(`symbol ${i} value ${s.value} size ${s.size}`);
    if (s.weakAlias !== undefined && !(s.weakAlias > 0 && s.weakAlias < o.symbols.length && s.atom === SymPlace.Undefined)) fail(`symbol ${i} weakAlias ${s.weakAlias}`);
  });
  o.atoms.forEach((a, i) => {
    if (a.index !== i) fail(`atom ${i} has index ${a.index}`);
    if (a.align < 1 || (a.align & (a.align - 1)) !== 0) fail(`atom ${i} alignment ${a.align}`);
    if ((a.data === null) !== !!(a.flags & SecFlag.NoBits)) fail(`atom ${i} data vs NoBits`);
    if (a.data && a.data.length !== a.size) fail(`atom ${i} has ${a.data.length} bytes for size ${a.size}`);
    if (a.group < -1 || a.group >= o.groups.length) fail(`atom ${i} group ${a.group}`);
    if (a.linkOrder !== undefined && !(a.linkOrder >= 0 && a.linkOrder < o.atoms.length && a.linkOrder !== i)) fail(`atom ${i} linkOrder ${a.linkOrder}`);
    for (const r of a.relocs) {
      if (r.sym < 0 || r.sym >= o.symbols.length) fail(`atom ${i} relocation symbol ${r.sym}`);
      if (r.offset < 0 || r.offset > a.size) fail(`atom ${i} relocation offset ${r.offset}`);
      if (!Number.isSafeInteger(r.addend)) fail(`atom ${i} relocation addend ${r.addend}`);
    }
  });
  o.groups.forEach((g, k) => {
    for (const a of g.atoms) if (a < 0 || a >= o.atoms.length || o.atoms[a].group !== k) fail(`group ${k} member ${a}`);
  });
}

/** A relocation of `o` as `offset type target+addend`, for compact assertions. */
function relocList(o: ObjectFile, atomName: string): string[] {
  const a = o.atoms.find((x) => x.name === atomName);
  if (!a) throw new Error(`${o.name}: no atom '${atomName}'`);
  return a.relocs.toArray().map((r) => `${r.offset.toString(16)} ${r.type} ${o.symbols[r.sym].name}${r.addend < 0 ? '' : '+'}${r.addend}`);
}

// ---------------------------------------------------------------------------
// Building unusual objects: /bigobj, relocation-count overflow, and MSVC-layout archives.

const BIGOBJ_CLASS_ID = [0xc7, 0xa1, 0xba, 0xd1, 0xee, 0xba, 0xa9, 0x4b, 0xaf, 0x20, 0xfa, 0xf6, 0x6a, 0xa4, 0xdc, 0xb8];

/**
 * Rewrites a regular COFF object (symbol table last, as LLVM writes it) as
 * /bigobj: the 56-byte header, 20-byte symbol records with 32-bit section
 * numbers, aux records padded to 20 bytes.
 */
function toBigObj(src: Uint8Array): Uint8Array {
  const dv = new DataView(src.buffer, src.byteOffset, src.byteLength);
  const sections = dv.getUint16(2, true);
  const symtab = dv.getUint32(8, true);
  const count = dv.getUint32(12, true);
  const strings = symtab + count * 18;
  const shift = 56 - 20;
  const out = new Uint8Array(src.length + shift + count * 2);
  const o = new DataView(out.buffer);
  o.setUint16(2, 0xffff, true);
  o.setUint16(4, 2, true);
  o.setUint16(6, dv.getUint16(0, true), true);
  out.set(BIGOBJ_CLASS_ID, 12);
  o.setUint32(0x2c, sections, true);
  o.setUint32(0x30, symtab + shift, true);
  o.setUint32(0x34, count, true);
  out.set(src.subarray(20, symtab), 56);
  for (let i = 0; i < sections; i++) {
    const at = 56 + 40 * i;
    for (const f of [20, 24]) {
      const v = o.getUint32(at + f, true);
      if (v) o.setUint32(at + f, v + shift, true);
    }
  }
  let p = symtab + shift;
  for (let i = 0; i < count;) {
    const at = symtab + 18 * i;
    const aux = src[at + 17];
    out.set(src.subarray(at, at + 12), p);
    o.setInt32(p + 12, dv.getInt16(at + 12, true), true);
    o.setUint16(p + 16, dv.getUint16(at + 14, true), true);
    out[p + 18] = src[at + 16];
    out[p + 19] = aux;
    p += 20;
    for (let k = 1; k <= aux; k++, p += 20) out.set(src.subarray(at + 18 * k, at + 18 * k + 18), p);
    i += 1 + aux;
  }
  out.set(src.subarray(strings), p);
  return out;
}

const enc = new TextEncoder();

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function arHeader(name: string, size: number): Uint8Array {
  const f = (s: string, w: number) => s.padEnd(w, ' ').slice(0, w);
  return enc.encode(f(name, 16) + f('0', 12) + f('0', 6) + f('0', 6) + f('644', 8) + f(String(size), 10) + '`\n');
}

/**
 * An archive in lib.exe's layout: the first linker member (big-endian
 * offsets), the second linker member (little-endian, member indices, names
 * sorted), a long-name table of NUL-terminated names, then the members.
 */
function msvcLibrary(members: { name: string; bytes: Uint8Array }[], symbols: { name: string; member: number }[]): Uint8Array {
  const sorted = [...symbols].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const names = concat(sorted.map((s) => enc.encode(s.name + '\0')));
  const firstSize = 4 + 4 * sorted.length + names.length;
  const secondSize = 4 + 4 * members.length + 4 + 2 * sorted.length + names.length;
  const longNames = concat(members.map((m) => enc.encode(m.name + '\0')));
  const pad = (n: number) => n + (n & 1);
  let off = 8 + 60 + pad(firstSize) + 60 + pad(secondSize) + 60 + pad(longNames.length);
  const offsets = members.map((m) => {
    const at = off;
    off += 60 + pad(m.bytes.length);
    return at;
  });
  const first = new Uint8Array(pad(firstSize));
  const fv = new DataView(first.buffer);
  fv.setUint32(0, sorted.length, false);
  sorted.forEach((s, i) => fv.setUint32(4 + 4 * i, offsets[s.member], false));
  first.set(names, 4 + 4 * sorted.length);
  const second = new Uint8Array(pad(secondSize));
  const sv = new DataView(second.buffer);
  sv.setUint32(0, members.length, true);
  offsets.forEach((o, i) => sv.setUint32(4 + 4 * i, o, true));
  sv.setUint32(4 + 4 * members.length, sorted.length, true);
  sorted.forEach((s, i) => sv.setUint16(8 + 4 * members.length + 2 * i, s.member + 1, true));
  second.set(names, 8 + 4 * members.length + 2 * sorted.length);
  const parts: Uint8Array[] = [enc.encode('!<arch>\n'), arHeader('/', firstSize), first, arHeader('/', secondSize), second, arHeader('//', longNames.length), longNames];
  if (longNames.length & 1) parts.push(new Uint8Array(1));
  let nameAt = 0;
  for (const m of members) {
    parts.push(arHeader(`/${nameAt}`, m.bytes.length), m.bytes);
    if (m.bytes.length & 1) parts.push(new Uint8Array(1));
    nameAt += m.name.length + 1;
  }
  return concat(parts);
}

// ---------------------------------------------------------------------------
// Mutations, for the targeted corruptions and the fuzzer.

/** A mutable copy of a regular (not /bigobj) COFF object with just enough parsing to aim corruptions. */
class Coff {
  readonly bytes: Uint8Array;
  readonly dv: DataView;
  constructor(src: Uint8Array) {
    this.bytes = Uint8Array.from(src);
    this.dv = new DataView(this.bytes.buffer);
  }
  get sectionCount(): number {
    return this.dv.getUint16(2, true);
  }
  get symtab(): number {
    return this.dv.getUint32(8, true);
  }
  get symbolCount(): number {
    return this.dv.getUint32(12, true);
  }
  get strtab(): number {
    return this.symtab + 18 * this.symbolCount;
  }
  /** Offset of the header of section `n` (1-based). */
  section(n: number): number {
    return 20 + 40 * (n - 1);
  }
  sectionName(n: number): string {
    const at = this.section(n);
    let name = Buffer.from(this.bytes.subarray(at, at + 8)).toString('latin1').replace(/\0.*$/, '');
    if (name.startsWith('/')) name = this.cstr(this.strtab + Number(name.slice(1)));
    return name;
  }
  sectionNumber(name: string, nth = 0): number {
    let seen = 0;
    for (let n = 1; n <= this.sectionCount; n++) if (this.sectionName(n) === name && seen++ === nth) return n;
    throw new Error(`no section '${name}' #${nth}`);
  }
  /** Offset of symbol table entry `i`. */
  symbol(i: number): number {
    return this.symtab + 18 * i;
  }
  symbolName(i: number): string {
    const at = this.symbol(i);
    if (this.dv.getUint32(at, true) === 0) return this.cstr(this.strtab + this.dv.getUint32(at + 4, true));
    return Buffer.from(this.bytes.subarray(at, at + 8)).toString('latin1').replace(/\0.*$/, '');
  }
  /** The table index of the (first) symbol named `name` that is not an aux record. */
  symbolIndex(name: string): number {
    for (let i = 0; i < this.symbolCount; i += 1 + this.bytes[this.symbol(i) + 17]) if (this.symbolName(i) === name) return i;
    throw new Error(`no symbol '${name}'`);
  }
  /** Offset of relocation `k` of section `n`. */
  reloc(n: number, k: number): number {
    return this.dv.getUint32(this.section(n) + 24, true) + 10 * k;
  }
  cstr(at: number): string {
    let e = at;
    while (this.bytes[e] !== 0) e++;
    return Buffer.from(this.bytes.subarray(at, e)).toString('latin1');
  }
  u16(at: number, v: number): this {
    this.dv.setUint16(at, v, true);
    return this;
  }
  u32(at: number, v: number): this {
    this.dv.setUint32(at, v >>> 0, true);
    return this;
  }
}

/** mulberry32, as src/tools/fuzz.ts uses: the same sequence everywhere. */
class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  u32(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  int(max: number): number {
    return max <= 0 ? 0 : Math.floor((this.u32() / 0x100000000) * max);
  }
  pick<T>(a: readonly T[]): T {
    return a[this.int(a.length)];
  }
}

interface Field {
  at: number;
  size: 1 | 2 | 4;
  what: string;
}

/** The structural fields of a COFF object, regular or /bigobj: header, section headers, symbols, aux records, relocations. */
function coffFields(b: Uint8Array): Field[] {
  const out: Field[] = [];
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const add = (at: number, size: 1 | 2 | 4, what: string) => { if (at + size <= b.length) out.push({ at, size, what }); };
  const big = dv.getUint16(0, true) === 0 && dv.getUint16(2, true) === 0xffff;
  const sections = big ? dv.getUint32(0x2c, true) : dv.getUint16(2, true);
  const symtab = dv.getUint32(big ? 0x30 : 8, true);
  const count = dv.getUint32(big ? 0x34 : 12, true);
  const table = big ? 56 : 20;
  const symSize = big ? 20 : 18;
  if (big) for (const [at, size, w] of [[4, 2, 'version'], [6, 2, 'machine'], [0x2c, 4, 'sections'], [0x30, 4, 'symtab'], [0x34, 4, 'symbols']] as const) add(at, size, w);
  else for (const [at, size, w] of [[0, 2, 'machine'], [2, 2, 'sections'], [8, 4, 'symtab'], [12, 4, 'symbols'], [16, 2, 'optional header']] as const) add(at, size, w);
  for (let i = 0; i < sections; i++) {
    const at = table + 40 * i;
    if (at + 40 > b.length) break;
    for (const [o, size, w] of [[0, 4, 'name'], [4, 4, 'name offset'], [16, 4, 'size'], [20, 4, 'data'], [24, 4, 'relocs'], [32, 2, 'reloc count'], [36, 4, 'characteristics']] as const) {
      add(at + o, size, `section ${i + 1} ${w}`);
    }
    const relocs = dv.getUint32(at + 24, true);
    const n = dv.getUint16(at + 32, true);
    for (let k = 0; k < Math.min(n, 64) && relocs + 10 * k + 10 <= b.length; k++) {
      add(relocs + 10 * k, 4, `section ${i + 1} reloc ${k} offset`);
      add(relocs + 10 * k + 4, 4, `section ${i + 1} reloc ${k} symbol`);
      add(relocs + 10 * k + 8, 2, `section ${i + 1} reloc ${k} type`);
    }
  }
  if (symtab + count * symSize > b.length) return out;
  for (let i = 0; i < count;) {
    const at = symtab + symSize * i;
    const aux = b[at + symSize - 1];
    add(at + 4, 4, `symbol ${i} name offset`);
    add(at + 8, 4, `symbol ${i} value`);
    add(at + 12, big ? 4 : 2, `symbol ${i} section`);
    add(at + symSize - 2, 1, `symbol ${i} class`);
    add(at + symSize - 1, 1, `symbol ${i} aux count`);
    for (let k = 1; k <= aux; k++) {
      add(at + symSize * k, 4, `symbol ${i} aux ${k} word 0`);
      add(at + symSize * k + 4, 4, `symbol ${i} aux ${k} word 1`);
      add(at + symSize * k + 12, 2, `symbol ${i} aux ${k} number`);
      add(at + symSize * k + 14, 1, `symbol ${i} aux ${k} selection`);
    }
    i += 1 + aux;
  }
  add(symtab + count * symSize, 4, 'string table size');
  return out;
}

function mutate(rng: Rng, src: Uint8Array, fields: Field[]): { bytes: Uint8Array; what: string } {
  let b: Uint8Array = Uint8Array.from(src);
  const ops: string[] = [];
  const n = 1 + rng.int(3);
  for (let i = 0; i < n; i++) {
    const len = b.length;
    const op = rng.int(10);
    if (op < 6 && fields.length) {
      const f = rng.pick(fields);
      if (f.at + f.size > len) continue;
      const dv = new DataView(b.buffer);
      const orig = f.size === 1 ? b[f.at] : f.size === 2 ? dv.getUint16(f.at, true) : dv.getUint32(f.at, true);
      const max = 2 ** (8 * f.size) - 1;
      const v = rng.pick([0, 1, 2, 4, 5, 0x69, orig + 1, orig - 1, orig + 1 + rng.int(64), orig - 1 - rng.int(64), orig * 2, max, max >>> 1, 0x8000, 0xfffe, 0xfeff, 0xffff, len, len - 1, rng.int(len + 1), rng.u32()]);
      const x = ((v % (max + 1)) + (max + 1)) % (max + 1);
      if (f.size === 1) b[f.at] = x;
      else if (f.size === 2) dv.setUint16(f.at, x, true);
      else dv.setUint32(f.at, x, true);
      ops.push(`${f.what} = 0x${x.toString(16)}`);
    } else if (op === 6 && len) {
      const bit = rng.int(len * 8);
      b[bit >> 3] ^= 1 << (bit & 7);
      ops.push(`flip bit ${bit}`);
    } else if (op === 7 && len) {
      const at = rng.int(len);
      const k = Math.min(len - at, 1 + rng.int(16));
      for (let j = 0; j < k; j++) b[at + j] = rng.int(256);
      ops.push(`random bytes [${at}, ${at + k})`);
    } else if (op === 8) {
      const to = rng.int(len + 1);
      b = b.slice(0, to);
      ops.push(`truncate to ${to}`);
    } else if (len) {
      const at = rng.int(len);
      const k = Math.min(len - at, 1 + rng.int(32));
      b = rng.int(2) ? concat([b.subarray(0, at), b.subarray(at + k)]) : concat([b.subarray(0, at), b.slice(at, at + k), b.subarray(at)]);
      ops.push(`${b.length < len ? 'delete' : 'duplicate'} [${at}, ${at + k})`);
    }
  }
  return { bytes: b, what: ops.join('; ') };
}

/** Reads `bytes`; returns the model or the LinkError. Anything else escapes. */
function readOrError(name: string, bytes: Uint8Array): ObjectFile | LinkError {
  try {
    return readCoffObject(name, bytes);
  } catch (e) {
    if (e instanceof LinkError) return e;
    throw e;
  }
}

function expectLinkError(name: string, bytes: Uint8Array, ...parts: string[]): string {
  const r = readOrError(name, bytes);
  if (!(r instanceof LinkError)) throw new Error(`expected a LinkError containing ${parts.map((p) => `'${p}'`).join(', ')}, but the object was read`);
  expect(r.message.startsWith(`${name}: `), r.message).to.equal(true);
  for (const p of parts) expect(r.message).to.contain(p);
  return r.message;
}

// ---------------------------------------------------------------------------

describe('COFF objects (readCoff)', function () {
  this.timeout(300_000);
  let dir: string;
  const files = new Map<string, Uint8Array>();
  const objects = new Map<string, ObjectFile>();
  const path = (f: string) => join(dir, f);
  const bytesOf = (f: string) => files.get(f)!;
  const objectOf = (f: string) => objects.get(f)!;

  before(async function () {
    await requireTools(['clang', 'llvm-readobj', 'llvm-mc', 'llvm-lib', 'llvm-ar', 'llvm-dlltool']);
    dir = tmpDir('tslink-coff');
    for (const [name, text] of Object.entries(SOURCES)) writeFileSync(path(name), text);
    for (const [name, c] of Object.entries(OBJECTS)) {
      const cc = c.src.endsWith('.cpp') ? 'clang++' : 'clang';
      execFileSync(cc, [`--target=${c.target}`, ...c.flags, '-c', path(c.src), '-o', path(name)], { stdio: ['ignore', 'ignore', 'pipe'] });
    }
    // Through the assembler: more than 65279 sections (/bigobj), more than 65535 relocations in one
    // section (IMAGE_SCN_LNK_NRELOC_OVFL), a string table past 9999999 bytes (names "//BASE64").
    const lines = ['.text', '.globl f', 'f: ret'];
    for (let i = 0; i < 65300; i++) lines.push(`.section .data$s${i},"dw"`, `.byte ${i & 255}`);
    writeFileSync(path('big.s'), lines.join('\n') + '\n');
    const ovfl = ['.text', '.globl f', 'f: ret', '.data'];
    for (let i = 0; i < 70000; i++) ovfl.push(`.quad f+${i % 5}`);
    writeFileSync(path('ovfl.s'), ovfl.join('\n') + '\n');
    const b64 = ['.text'];
    for (let i = 0; i < 800; i++) b64.push(`.section .rdata$${'x'.repeat(13000)}${i},"dr"`, `.byte ${i & 255}`);
    writeFileSync(path('b64.s'), b64.join('\n') + '\n');
    writeFileSync(path('selections.s'), SELECTIONS_S);
    for (const f of ['big', 'ovfl', 'b64', 'selections']) execFileSync('llvm-mc', ['--triple=x86_64-windows-msvc', '--filetype=obj', path(`${f}.s`), '-o', path(`${f}.obj`)]);
    for (const f of [...Object.keys(OBJECTS), 'big.obj', 'ovfl.obj', 'b64.obj', 'selections.obj']) files.set(f, new Uint8Array(readFileSync(path(f))));
    // /bigobj versions of two objects, written out for llvm-readobj.
    for (const f of ['comdat-msvc-g.obj', 'weak-mingw.obj']) {
      const big = f.replace('.obj', '-bigobj.obj');
      files.set(big, toBigObj(bytesOf(f)));
      writeFileSync(path(big), bytesOf(big));
    }
    for (const [f, b] of files) if (f !== 'big.obj' && f !== 'b64.obj') objects.set(f, readCoffObject(f, b));
  });

  after(() => {
    if (dir && !process.env.TSLINK_KEEP_TMP) rmSync(dir, { recursive: true, force: true });
  });

  describe('agrees with llvm-readobj', function () {
    for (const f of Object.keys(OBJECTS)) {
      it(`${f} (${OBJECTS[f].target} ${OBJECTS[f].flags.join(' ')} ${OBJECTS[f].src})`, function () {
        crossCheck(path(f), objectOf(f));
        expect(objectOf(f).arch).to.equal(OBJECTS[f].target.startsWith('aarch64') ? 'aarch64' : 'x86_64');
        expect(isCoff(bytesOf(f))).to.equal(true);
      });
    }
    for (const f of ['comdat-msvc-g-bigobj.obj', 'weak-mingw-bigobj.obj']) {
      it(`${f} (a /bigobj rewrite of the regular object)`, function () {
        crossCheck(path(f), objectOf(f));
        const regular = objectOf(f.replace('-bigobj', ''));
        const big = objectOf(f);
        expect(big.atoms.map((a) => [a.name, a.size, a.group, a.linkOrder, a.relocs.toArray()])).to.deep.equal(regular.atoms.map((a) => [a.name, a.size, a.group, a.linkOrder, a.relocs.toArray()]));
        expect(big.symbols).to.deep.equal(regular.symbols);
        expect(big.groups).to.deep.equal(regular.groups);
      });
    }
    it('selections.obj: every COMDAT selection kind, an associative section, a static leader (llvm-mc)', function () {
      const o = objectOf('selections.obj');
      crossCheck(path('selections.obj'), o);
      const groups = o.groups.map((g) => [g.signature, g.selection, g.atoms.map((a) => o.atoms[a].name)]);
      expect(groups).to.deep.equal([
        ['any_fn', ComdatSelect.Any, ['.text$any', '.xdata$any']],
        ['one_fn', ComdatSelect.NoDuplicates, ['.text$one']],
        ['same_var', ComdatSelect.SameSize, ['.data$same']],
        ['exact_var', ComdatSelect.ExactMatch, ['.rdata$exact']],
        ['largest_var', ComdatSelect.Largest, ['.data$largest']],
        ['newest_var', ComdatSelect.Newest, ['.data$newest']],
      ]);
      const stat = o.atoms.find((a) => a.name === '.data$static')!;
      expect(stat.group).to.equal(-1);
      expect(stat.flags & SecFlag.Retain).to.equal(0);
      // A second global in a COMDAT section is an ordinary symbol of it.
      expect(o.symbols.find((s) => s.name === 'any_fn_alias')).to.include({ atom: o.groups[0].atoms[0], value: 1 });
    });

    it('ovfl.obj: 70000 relocations in one section (IMAGE_SCN_LNK_NRELOC_OVFL)', function () {
      const o = objectOf('ovfl.obj');
      const ro = crossCheck(path('ovfl.obj'), o);
      const data = o.atoms.find((a) => a.name === '.data')!;
      expect(data.rawType & 0x01000000).to.not.equal(0);
      expect(data.relocs.length).to.equal(70000);
      expect(ro.relocs.get(2)!.length).to.equal(70000);
      data.relocs.toArray().forEach((r, k) => {
        if (r.offset !== 8 * k || r.type !== 1 || o.symbols[r.sym].name !== 'f' || r.addend !== k % 5) expect.fail(`relocation ${k}: ${JSON.stringify(r)}`);
      });
    });
  });

  describe('what the model says', function () {
    it('sections: code, data, bss, read-only, `$` names kept, long names, alignment, contents', function () {
      const o = objectOf('basic-msvc.obj');
      const names = o.atoms.map((a) => a.name);
      expect(names).to.include.members(['.text', '.data', '.bss', '.rdata', '.xdata', '.pdata', '.data$zz', '.averyverylongsectionname']);
      expect(names).to.not.include('.llvm_addrsig');
      const atom = (n: string) => o.atoms.find((a) => a.name === n)!;
      expect(atom('.text').kind).to.equal(AtomKind.Code);
      expect(atom('.text').align).to.equal(16);
      expect(atom('.data').kind).to.equal(AtomKind.Data);
      expect(atom('.bss').kind).to.equal(AtomKind.Bss);
      expect(atom('.bss').data).to.equal(null);
      expect(atom('.rdata').kind).to.equal(AtomKind.ROData);
      expect(Buffer.from(atom('.rdata').data!).toString('latin1')).to.equal('hello, world\0');
      expect(atom('.data$zz').kind).to.equal(AtomKind.Data);
      expect(Array.from(atom('.data$zz').data!)).to.deep.equal([7, 0, 0, 0]);
      expect(Array.from(atom('.averyverylongsectionname').data!)).to.deep.equal([9, 0, 0, 0]);
      // The .file symbol carries the source's name.
      expect(o.symbols.some((s) => s.type === SymType.File && s.name === 'basic.c')).to.equal(true);
    });

    it('symbols: globals, statics, section symbols, undefined, commons (size and alignment)', function () {
      const o = objectOf('basic-msvc-common.obj');
      const sym = (n: string) => o.symbols.find((s) => s.name === n)!;
      expect(sym('entry')).to.include({ binding: SymBinding.Global, type: SymType.Func });
      expect(o.atoms[sym('entry').atom].name).to.equal('.text');
      expect(sym('counter')).to.include({ binding: SymBinding.Global, value: 0 });
      expect(sym('sbss').binding).to.equal(SymBinding.Local);
      expect(sym('external_fn')).to.include({ binding: SymBinding.Global, atom: SymPlace.Undefined });
      expect(sym('common_var')).to.include({ binding: SymBinding.Global, atom: SymPlace.Common, size: 4, value: 4 });
      expect(sym('@feat.00')).to.include({ binding: SymBinding.Local, atom: SymPlace.Absolute });
      const text = o.symbols.find((s) => s.type === SymType.Section && s.name === '.text')!;
      expect(text.atom).to.equal(o.atoms.findIndex((a) => a.name === '.text'));
      // Locals first.
      const firstGlobal = o.symbols.findIndex((s, i) => i > 0 && s.binding !== SymBinding.Local);
      expect(firstGlobal).to.equal(o.firstGlobal);
    });

    it('C++ COMDATs: one group per inline function and template static, selection Any, .xdata/.pdata associated', function () {
      const o = objectOf('comdat-msvc.obj');
      const bySig = new Map(o.groups.map((g) => [g.signature, g]));
      expect([...bySig.keys()]).to.have.members(['?twice@@YAHH@Z', '?get@?$Box@H@@QEBAHXZ', '?value@?$Box@H@@2HA']);
      for (const g of o.groups) expect(g.selection).to.equal(ComdatSelect.Any);
      const twice = bySig.get('?twice@@YAHH@Z')!;
      expect(twice.atoms.map((a) => o.atoms[a].name)).to.deep.equal(['.text', '.xdata', '.pdata']);
      const [text, xdata, pdata] = twice.atoms;
      expect(o.atoms[xdata].linkOrder).to.equal(text);
      expect(o.atoms[pdata].linkOrder).to.equal(text);
      // COMDAT sections are not gc roots; the others are.
      expect(o.atoms[text].flags & SecFlag.Retain).to.equal(0);
      expect(o.atoms[0].flags & SecFlag.Retain).to.not.equal(0);
      // The function's .pdata entry points into its own .text and .xdata.
      expect(relocList(o, '.pdata').length).to.equal(3);
      const pdataRelocs = o.atoms[pdata].relocs.toArray().map((r) => o.symbols[r.sym].atom);
      expect(pdataRelocs).to.deep.equal([text, text, xdata]);
    });

    it('CodeView: .debug$S and .debug$T are Debug atoms, a COMDAT\'s .debug$S joins its group', function () {
      const o = objectOf('comdat-msvc-g.obj');
      const debug = o.atoms.filter((a) => a.name.startsWith('.debug$'));
      expect(debug.length).to.be.at.least(3);
      for (const a of debug) {
        expect(a.kind).to.equal(AtomKind.Debug);
        expect(a.flags & SecFlag.Alloc).to.equal(0);
      }
      const associated = debug.filter((a) => a.group >= 0);
      expect(associated.length).to.be.at.least(1);
      for (const a of associated) expect(o.atoms[a.linkOrder!].group).to.equal(a.group);
      // .debug$S refers to code with SECREL and SECTION relocations.
      const types = new Set(debug.flatMap((a) => a.relocs.toArray().map((r) => r.type)));
      expect([...types]).to.include.members([0xa, 0xb]);
    });

    it('DWARF (MinGW -g): .debug_* are Debug atoms with SECREL relocations and their addends', function () {
      const o = objectOf('basic-mingw-g.obj');
      const info = o.atoms.find((a) => a.name === '.debug_info')!;
      expect(info.kind).to.equal(AtomKind.Debug);
      const secrel = info.relocs.toArray().filter((r) => r.type === 0xb && o.symbols[r.sym].name === '.debug_str');
      expect(secrel.length).to.be.at.least(5);
      expect(secrel.some((r) => r.addend > 0)).to.equal(true);
      // Each addend is a string in .debug_str.
      const str = o.atoms.find((a) => a.name === '.debug_str')!;
      for (const r of secrel) expect(r.addend).to.be.below(str.size);
      const names = secrel.map((r) => { const d = str.data!; let e = r.addend; while (d[e]) e++; return Buffer.from(d.subarray(r.addend, e)).toString('latin1'); });
      expect(names).to.include.members(['counter', 'entry', 'greeting']);
    });

    it('MinGW C++: leaderless .xdata$f/.pdata$f go with .text$f (implicitly associative)', function () {
      const o = objectOf('comdat-mingw.obj');
      const g = o.groups.find((x) => x.signature === '_Z5twicei')!;
      expect(g.atoms.map((a) => o.atoms[a].name)).to.deep.equal(['.text$_Z5twicei', '.xdata$_Z5twicei', '.pdata$_Z5twicei']);
      expect(o.atoms[g.atoms[1]].linkOrder).to.equal(g.atoms[0]);
      expect(o.atoms[g.atoms[2]].linkOrder).to.equal(g.atoms[0]);
    });

    it('-ffunction-sections: NoDuplicates groups; a static leader is kept but not deduplicated', function () {
      const o = objectOf('basic-msvc-fs.obj');
      const sig = new Map(o.groups.map((g) => [g.signature, g.selection]));
      expect(sig.get('entry')).to.equal(ComdatSelect.NoDuplicates);
      expect(sig.get('greeting')).to.equal(ComdatSelect.NoDuplicates);
      expect(sig.has('sbss')).to.equal(false);
      const sbss = o.symbols.find((s) => s.name === 'sbss')!;
      expect(o.atoms[sbss.atom]).to.include({ name: '.bss', group: -1 });
      expect(o.atoms[sbss.atom].flags & SecFlag.Retain).to.equal(0);
      const m = objectOf('basic-mingw-fs.obj');
      expect(m.atoms.map((a) => a.name)).to.include.members(['.text$entry', '.xdata$entry', '.pdata$entry', '.bss$sbss']);
      const entry = m.groups.find((g) => g.signature === 'entry')!;
      expect(entry.atoms.map((a) => m.atoms[a].name)).to.deep.equal(['.text$entry', '.xdata$entry', '.pdata$entry']);
    });

    it('weak externals (MinGW __attribute__((weak))): definitions at their default, a weak reference at absolute 0', function () {
      const o = objectOf('weak-mingw.obj');
      const sym = (n: string) => o.symbols.find((s) => s.name === n)!;
      const weakfn = sym('weakfn');
      const def = sym('.weak.weakfn.default.use');
      expect(weakfn).to.include({ binding: SymBinding.Weak, type: SymType.Func, atom: def.atom, value: def.value });
      expect(def.binding).to.equal(SymBinding.Global);
      expect(sym('weakvar')).to.include({ binding: SymBinding.Weak, atom: sym('.weak.weakvar.default.use').atom });
      expect(sym('weakref')).to.include({ binding: SymBinding.Weak, atom: SymPlace.Absolute, value: 0 });
      for (const s of o.symbols) expect(s.weakAlias).to.equal(undefined);
      // Relocations name the weak symbol itself.
      expect(relocList(o, '.rdata$.refptr.weakref')).to.deep.equal(['0 1 weakref+0']);
      expect(relocList(o, '.text')).to.include('1b 4 weakfn+0');
    });

    it('a weak external whose default is undefined: a weak undefined symbol with weakAlias', function () {
      // weakref's default (.weak.weakref.default.use) made undefined: section 0, value 0.
      const c = new Coff(bytesOf('weak-mingw.obj'));
      const d = c.symbolIndex('.weak.weakref.default.use');
      c.u16(c.symbol(d) + 12, 0);
      const o = readCoffObject('weak-undef.obj', c.bytes);
      checkConsistent(o);
      const weakref = o.symbols.find((s) => s.name === 'weakref')!;
      expect(weakref).to.include({ binding: SymBinding.Weak, atom: SymPlace.Undefined });
      expect(o.symbols[weakref.weakAlias!]).to.include({ name: '.weak.weakref.default.use', binding: SymBinding.Global, atom: SymPlace.Undefined });
    });

    it('implicit addends, x86-64: REL32 and ADDR64 displacements, REL32 with -1 before an immediate', function () {
      const o = objectOf('addend-x64.obj');
      expect(relocList(o, '.text')).to.include.members(['3 4 arr+12', '12 4 ext+20', '23 4 tab8+16', '33 4 vt+16', '45 4 callee+0']);
      expect(relocList(o, '.data')).to.deep.equal(['0 1 arr+8', '8 1 ext+4']);
      expect(relocList(objectOf('weak-mingw.obj'), '.text')).to.include.members(['26 4 .refptr.weakref-1', '34 4 .refptr.weakref+0']);
      // TLS: .tls$ is a TLS data atom, reached through SECREL.
      const tls = o.atoms.find((a) => a.name === '.tls$')!;
      expect(tls.kind).to.equal(AtomKind.TData);
      expect(tls.flags & SecFlag.TLS).to.not.equal(0);
      expect(relocList(o, '.text').some((r) => / 11 tlsv\+0$/.test(r))).to.equal(true);
    });

    it('implicit addends, ARM64: ADRP, ADD, scaled LDR (32, 64 and 128 bits), BRANCH26, ADDR64, SECREL_HIGH12A/LOW12L', function () {
      const o = objectOf('addend-arm64.obj');
      const text = relocList(o, '.text').map((r) => r.replace(/^\w+ /, ''));
      // PAGEBASE_REL21 = 4, PAGEOFFSET_12A = 6, PAGEOFFSET_12L = 7, BRANCH26 = 3.
      expect(text).to.include.members(['4 arr+12', '6 arr+12', '4 ext+20', '7 ext+20', '4 tab8+16', '7 tab8+16', '4 vt+16', '7 vt+16', '3 callee+0', '10 tlsv+0', '11 tlsv+0']);
      expect(relocList(o, '.data')).to.deep.equal(['0 14 arr+8', '8 14 ext+4']);
      expect(o.arch).to.equal('aarch64');
    });

    it('directives: .drectve is consumed into ObjectFile.directives', function () {
      const msvc = objectOf('directives-msvc.obj');
      expect(msvc.atoms.map((a) => a.name)).to.not.include('.drectve');
      expect(msvc.directives).to.contain('/DEFAULTLIB:kernel32.lib').and.to.contain('/EXPORT:exported');
      const mingw = objectOf('directives-mingw.obj');
      expect(mingw.directives).to.contain('-export:exported').and.to.contain('-aligncomm:"common_var",2');
      expect(objectOf('basic-msvc.obj').directives).to.equal(undefined);
      // The .drectve section symbol stays, in a section the model does not keep.
      expect(msvc.symbols.find((s) => s.name === '.drectve')!.atom).to.equal(SymPlace.Dropped);
    });

    it('/bigobj: 65303 sections and 130607 symbol entries', function () {
      const started = performance.now();
      const o = readCoffObject('big.obj', bytesOf('big.obj'));
      const ms = performance.now() - started;
      expect(o.atoms.length).to.equal(65303);
      expect(o.atoms[65302].name).to.equal('.data$s65299');
      expect(Array.from(o.atoms[65302].data!)).to.deep.equal([65299 & 255]);
      expect(o.symbols.length).to.equal(1 + 65303 + 1); // the null symbol, the section symbols, f
      expect(o.symbols[o.firstGlobal]).to.include({ name: 'f', binding: SymBinding.Global, atom: 0 });
      const sectionSyms = o.symbols.filter((s) => s.type === SymType.Section);
      expect(sectionSyms.length).to.equal(65303);
      expect(sectionSyms[65302]).to.include({ name: '.data$s65299', atom: 65302 });
      expect(ms, 'reading a 6 MB /bigobj object').to.be.below(5000);
    });

    it('long section names past 9999999 bytes into the string table ("//BASE64")', function () {
      const b = bytesOf('b64.obj');
      let base64 = 0;
      for (let i = 0; i < 803; i++) if (b[20 + 40 * i] === 0x2f && b[21 + 40 * i] === 0x2f) base64++;
      expect(base64, 'sections named //BASE64').to.be.at.least(1);
      const o = readCoffObject('b64.obj', b);
      const rdata = o.atoms.filter((a) => a.name.startsWith('.rdata$'));
      expect(rdata.length).to.equal(800);
      rdata.forEach((a, i) => {
        if (a.name !== `.rdata$${'x'.repeat(13000)}${i}` || a.data![0] !== (i & 255)) expect.fail(`section ${i}: ${a.name.slice(0, 20)}... ${a.data![0]}`);
      });
    });
  });

  describe('COFF archives', function () {
    const check = (lib: string, members: string[]) => {
      const a = readArchive(lib, new Uint8Array(readFileSync(path(lib))));
      expect(a.members.map((m) => m.name)).to.deep.equal(members);
      for (const m of a.members) {
        const o = readCoffObject(`${lib}(${m.name})`, m.bytes);
        expect(Buffer.from(m.bytes).equals(Buffer.from(bytesOf(m.name)))).to.equal(true);
        expect(o.symbols).to.deep.equal(objectOf(m.name).symbols);
      }
      return a;
    };

    it('llvm-lib: members and the symbol index', function () {
      execFileSync('llvm-lib', ['-out:mixed.lib', 'basic-msvc.obj', 'comdat-msvc.obj', 'weak-mingw.obj'], { cwd: dir });
      const a = check('mixed.lib', ['basic-msvc.obj', 'comdat-msvc.obj', 'weak-mingw.obj']);
      expect(a.index!.get('entry')).to.deep.equal([0]);
      expect(a.index!.get('?twice@@YAHH@Z')).to.deep.equal([1]);
      expect(a.index!.get('weakfn')).to.deep.equal([2]);
    });

    it('llvm-ar (GNU format, long member names)', function () {
      execFileSync('llvm-ar', ['rcs', 'libmixed.a', 'basic-mingw-fs.obj', 'directives-mingw.obj', 'addend-arm64.obj'], { cwd: dir });
      const a = check('libmixed.a', ['basic-mingw-fs.obj', 'directives-mingw.obj', 'addend-arm64.obj']);
      expect(a.index!.get('exported')).to.deep.equal([1]);
      expect(a.index!.get('getv')).to.deep.equal([2]);
    });

    it("lib.exe's layout: first and second linker members, NUL-terminated long names", function () {
      const names = ['basic-msvc.obj', 'comdat-msvc-g.obj'];
      const lib = msvcLibrary(names.map((n) => ({ name: n, bytes: bytesOf(n) })), [{ name: 'entry', member: 0 }, { name: 'greeting', member: 0 }, { name: '?callit@@YAHH@Z', member: 1 }]);
      writeFileSync(path('msvc-layout.lib'), lib);
      const a = check('msvc-layout.lib', names);
      expect([...a.index!.entries()]).to.deep.equal([['?callit@@YAHH@Z', [1]], ['entry', [0]], ['greeting', [0]]]);
    });

    it('import libraries (llvm-dlltool): the archive reads; short import members read as the stubs they stand for', function () {
      writeFileSync(path('foo.def'), 'LIBRARY foo.dll\nEXPORTS\n  foo_fn\n  foo_data DATA\n');
      execFileSync('llvm-dlltool', ['-m', 'i386:x86-64', '-d', path('foo.def'), '-l', path('libfoo.dll.a')]);
      const a = readArchive('libfoo.dll.a', new Uint8Array(readFileSync(path('libfoo.dll.a'))));
      expect(a.index!.has('__imp_foo_fn')).to.equal(true);
      expect(a.index!.has('__IMPORT_DESCRIPTOR_foo')).to.equal(true);
      let objects = 0;
      const imports: string[] = [];
      for (const m of a.members) {
        const name = `libfoo.dll.a(${m.name})`;
        expect(isCoff(m.bytes)).to.equal(true);
        const r = readCoffObject(name, m.bytes);
        checkConsistent(r);
        if (r.dllImport) {
          expect(r.dllImport.dll).to.equal('foo.dll');
          imports.push(r.symbols.slice(r.firstGlobal).map((s) => s.name).join(' '));
          expect(r.atoms.map((x) => x.name)).to.include.members(['.idata$4', '.idata$5', '.idata$6']);
        } else {
          objects++;
        }
      }
      // A function has its thunk; data only its address table entry.
      expect(imports).to.have.members(['__imp_foo_fn foo_fn', '__imp_foo_data']);
      expect(objects).to.equal(3); // the import descriptor, the null descriptor, the null thunk
    });
  });

  describe('malformed objects are LinkErrors naming the file and the offset', function () {
    const base = () => new Coff(bytesOf('basic-msvc.obj'));

    it('file header', function () {
      expectLinkError('t.obj', bytesOf('basic-msvc.obj').slice(0, 10), 'too small to be a COFF object', 'at offset 0x0');
      expectLinkError('t.obj', base().u16(0, 0x14c).bytes, 'unsupported machine i386');
      expectLinkError('t.obj', base().u16(0, 0x1234).bytes, 'unknown machine type 0x1234');
      expectLinkError('t.obj', base().u16(16, 0xf0).bytes, 'optional header', 'not an object', 'at offset 0x10');
      expectLinkError('t.obj', base().u16(2, 0xffff).bytes, 'section table (65535 sections)', 'extends past the end');
      const c = base();
      expectLinkError('t.obj', c.u32(8, c.bytes.length - 4).bytes, 'symbol table');
      const big = toBigObj(bytesOf('basic-msvc.obj'));
      big[12] ^= 1;
      expectLinkError('t.obj', big, 'anonymous COFF object (version 2) that is not a /bigobj object');
      expectLinkError('t.obj', toBigObj(bytesOf('basic-msvc.obj')).slice(0, 40), '/bigobj header is truncated');
    });

    it('string table and names', function () {
      const c = base();
      expectLinkError('t.obj', c.u32(c.strtab, 0x7fffffff).bytes, 'string table (2147483647 bytes)');
      const long = base();
      const n = long.sectionNumber('.averyverylongsectionname');
      long.bytes.set(enc.encode('/99999\0\0'), long.section(n));
      expectLinkError('t.obj', long.bytes, `name of section ${n}`, 'string table offset 99999 is out of range');
      const bad = base();
      bad.bytes.set(enc.encode('/12x\0\0\0\0'), bad.section(n));
      expectLinkError('t.obj', bad.bytes, `section ${n} has a malformed long name '/12x'`);
      const sym = base();
      const i = sym.symbolIndex('??_C@_0N@OLAOGCLC@hello?0?5world?$AA@');
      sym.u32(sym.symbol(i) + 4, 2);
      expectLinkError('t.obj', sym.bytes, `name of symbol ${i}`, 'string table offset 2 is out of range');
    });

    it('symbols', function () {
      const c = base();
      const last = c.symbolIndex('.file');
      c.bytes[c.symbol(last) + 17] = 9;
      expectLinkError('t.obj', c.bytes, `symbol ${last} has 9 auxiliary records, past the end of the symbol table`);
      const s = base();
      const entry = s.symbolIndex('entry');
      s.u16(s.symbol(entry) + 12, 100);
      expectLinkError('t.obj', s.bytes, `symbol ${entry} 'entry' has section number 100, past the last section`);
      const neg = base();
      neg.u16(neg.symbol(entry) + 12, 0xfffd);
      expectLinkError('t.obj', neg.bytes, 'section number -3, which is not a special section number');
    });

    it('sections and relocations', function () {
      const text = base().sectionNumber('.text');
      const c = base();
      c.u32(c.section(text) + 20, c.bytes.length - 2);
      expectLinkError('t.obj', c.bytes, `section ${text} '.text'`, 'extends past the end');
      const align = base();
      align.u32(align.section(text) + 36, align.dv.getUint32(align.section(text) + 36, true) | 0x00f00000);
      expectLinkError('t.obj', align.bytes, 'invalid alignment field 0xf');
      const sym = base();
      sym.u32(sym.reloc(text, 0) + 4, 100000);
      expectLinkError('t.obj', sym.bytes, 'refers to symbol index 100000, past the end of the symbol table');
      const aux = base();
      aux.u32(aux.reloc(text, 0) + 4, 1); // the aux record of the .text section symbol
      expectLinkError('t.obj', aux.bytes, 'refers to symbol index 1, which is an auxiliary record');
      const off = base();
      off.u32(off.reloc(text, 0), 0x1000);
      expectLinkError('t.obj', off.bytes, "relocation in section 1 '.text' at offset 0x1000 (type 0x4, 4 bytes) is outside the section");
      const count = base();
      count.u16(count.section(text) + 32, 0xfff0);
      expectLinkError('t.obj', count.bytes, 'relocations of section 1', 'extends past the end');
      const bss = base();
      const b = bss.sectionNumber('.bss');
      bss.u16(bss.section(b) + 32, 1).u32(bss.section(b) + 24, bss.dv.getUint32(bss.section(text) + 24, true));
      expectLinkError('t.obj', bss.bytes, "section 3 '.bss' has relocations but no contents");
      // Two sections over the same bytes, each nearly the whole file.
      const overlap = base();
      const len = overlap.bytes.length;
      for (const n of [text, overlap.sectionNumber('.data')]) overlap.u32(overlap.section(n) + 20, 1).u32(overlap.section(n) + 16, len - 1).u16(overlap.section(n) + 32, 0);
      expectLinkError('t.obj', overlap.bytes, 'overlaps other data');
    });

    it('COMDAT definitions', function () {
      const c = new Coff(bytesOf('comdat-msvc.obj'));
      const twiceSection = c.dv.getUint16(c.symbol(c.symbolIndex('?twice@@YAHH@Z')) + 12, true);
      // The section-definition symbol of that .text is the STATIC one with an aux record in that section.
      let def = -1;
      for (let i = 0; i < c.symbolCount; i += 1 + c.bytes[c.symbol(i) + 17]) {
        if (c.dv.getUint16(c.symbol(i) + 12, true) === twiceSection && c.bytes[c.symbol(i) + 16] === 3 && c.bytes[c.symbol(i) + 17] > 0) { def = i; break; }
      }
      const aux = c.symbol(def + 1);
      const sel = new Coff(c.bytes);
      sel.bytes[aux + 14] = 9;
      expectLinkError('t.obj', sel.bytes, `COMDAT section ${twiceSection} '.text' has unknown selection 9`, `at offset 0x${(aux + 14).toString(16)}`);
      const self = new Coff(c.bytes);
      self.bytes[aux + 14] = 5;
      self.u16(aux + 12, twiceSection);
      expectLinkError('t.obj', self.bytes, `associative COMDAT section ${twiceSection} '.text' names section ${twiceSection} as its parent, which is itself`);
      const range = new Coff(c.bytes);
      range.bytes[aux + 14] = 5;
      range.u16(aux + 12, 999);
      expectLinkError('t.obj', range.bytes, 'names section 999 as its parent, which is out of range');
      // .text (twice) made associative to its own .xdata, which is associative to it: a loop.
      let xdata = -1;
      for (let i = 0; i < c.symbolCount; i += 1 + c.bytes[c.symbol(i) + 17]) {
        const at = c.symbol(i);
        if (c.bytes[at + 16] === 3 && c.bytes[at + 17] > 0 && c.bytes[at + 18 + 14] === 5 && c.dv.getUint16(at + 18 + 12, true) === twiceSection) {
          const n = c.dv.getUint16(at + 12, true);
          if (c.sectionName(n) === '.xdata') xdata = n;
        }
      }
      expect(xdata, "twice's .xdata").to.be.above(0);
      const loop = new Coff(c.bytes);
      loop.bytes[aux + 14] = 5;
      loop.u16(aux + 12, xdata);
      expectLinkError('t.obj', loop.bytes, 'is its own ancestor');
    });

    it('weak externals', function () {
      const c = new Coff(bytesOf('weak-mingw.obj'));
      const w = c.symbolIndex('weakfn');
      const range = new Coff(c.bytes).u32(c.symbol(w + 1), 5000);
      expectLinkError('t.obj', range.bytes, "weak external 'weakfn'", 'names symbol 5000 as its default, which is past the end of the symbol table');
      const aux = new Coff(c.bytes).u32(c.symbol(w + 1), 1);
      expectLinkError('t.obj', aux.bytes, 'names symbol 1 as its default, which is an auxiliary record');
      const cycle = new Coff(c.bytes).u32(c.symbol(w + 1), w);
      expectLinkError('t.obj', cycle.bytes, "weak external 'weakfn'", 'has a cycle of defaults');
      const none = new Coff(c.bytes);
      none.bytes[none.symbol(w) + 17] = 0;
      // Without its aux record the next entry (the aux) reads as a symbol; whatever it reads as, no crash.
      const r = readOrError('t.obj', none.bytes);
      if (!(r instanceof LinkError)) checkConsistent(r);
    });

    it('a long chain of weak externals costs time linear in its length; a chain that loops is an error', function () {
      // An object of nothing but symbols: w0 -> w1 -> ... -> w(n-1) -> end (undefined), each a weak external with its aux record.
      const chain = (n: number, loop: boolean) => {
        const count = 2 * n + 1;
        const b = new Uint8Array(20 + 18 * count + 4);
        const dv = new DataView(b.buffer);
        dv.setUint16(0, 0x8664, true);
        dv.setUint32(8, 20, true);
        dv.setUint32(12, count, true);
        for (let i = 0; i < n; i++) {
          const at = 20 + 36 * i;
          b.set(enc.encode(`w${i}`), at);
          b[at + 16] = 105;
          b[at + 17] = 1;
          dv.setUint32(at + 18, i === n - 1 ? (loop ? 0 : 2 * n) : 2 * (i + 1), true);
        }
        const end = 20 + 36 * n;
        b.set(enc.encode('end'), end);
        b[end + 16] = 2;
        dv.setUint32(20 + 18 * count, 4, true);
        return b;
      };
      const started = performance.now();
      const o = readCoffObject('chain.obj', chain(30000, false));
      expect(performance.now() - started, 'reading 30000 chained weak externals').to.be.below(2000);
      checkConsistent(o);
      const end = o.symbols.findIndex((s) => s.name === 'end');
      expect(o.symbols.filter((s) => s.weakAlias === end).length).to.equal(30000);
      expectLinkError('loop.obj', chain(30000, true), 'has a cycle of defaults');
    });
  });

  describe('fuzzing (seeded mutations)', function () {
    const SEED = Number(process.env.TSLINK_COFF_FUZZ_SEED ?? 20250107);
    const CASES = Number(process.env.TSLINK_COFF_FUZZ_CASES ?? 6000);

    it(`${CASES} mutated objects (seed ${SEED}): each is read into a consistent model or refused with a LinkError naming it`, function () {
      const seeds = ['basic-msvc.obj', 'basic-mingw.obj', 'basic-arm64.obj', 'basic-mingw-fs.obj', 'comdat-msvc-g.obj', 'comdat-mingw.obj', 'weak-mingw.obj', 'addend-arm64.obj', 'directives-mingw.obj', 'addend-x64.obj', 'selections.obj', 'comdat-msvc-g-bigobj.obj', 'weak-mingw-bigobj.obj'];
      const fields = new Map(seeds.map((s) => [s, coffFields(bytesOf(s))]));
      const problems: string[] = [];
      let read = 0;
      let slowest = 0;
      for (let i = 0; i < CASES; i++) {
        const rng = new Rng((SEED ^ Math.imul(i + 1, 0x9e3779b1)) >>> 0);
        const seed = seeds[i % seeds.length];
        const { bytes, what } = mutate(rng, bytesOf(seed), fields.get(seed)!);
        const name = `case${i}.obj`;
        const started = performance.now();
        try {
          const o = readCoffObject(name, bytes);
          checkConsistent(o);
          read++;
        } catch (e) {
          if (!(e instanceof LinkError)) problems.push(`#${i} ${seed} (${what}): ${e instanceof Error ? e.stack : String(e)}`);
          else if (!e.message.startsWith(`${name}: `)) problems.push(`#${i} ${seed} (${what}): message does not name the file: ${e.message}`);
        }
        const ms = performance.now() - started;
        slowest = Math.max(slowest, ms);
        if (ms > 1000) problems.push(`#${i} ${seed} (${what}): took ${ms.toFixed(0)} ms`);
        if (problems.length >= 10) break;
      }
      expect(problems, problems.join('\n')).to.deep.equal([]);
      // Both outcomes occur: the mutations reach the checks, and some leave a readable object.
      expect(read).to.be.above(CASES / 20);
      expect(read).to.be.below(CASES);
      expect(slowest).to.be.below(1000);
    });

    const LINK_CASES = Number(process.env.TSLINK_COFF_LINK_FUZZ_CASES ?? 1500);
    it(`${LINK_CASES} PE links of mutated objects and short import members (seed ${SEED}): each links or fails with a LinkError`, function () {
      // A short import library to link against, for each machine: its members are mutated too.
      writeFileSync(path('fuzz.def'), 'LIBRARY fuzz.dll\nEXPORTS\n  f_code\n  f_data DATA\n  f_ord @4 NONAME\n');
      const libs = new Map<ArchName, Uint8Array>();
      for (const [arch, m] of [['x86_64', 'i386:x86-64'], ['aarch64', 'arm64']] as const) {
        execFileSync('llvm-dlltool', ['-m', m, '-d', path('fuzz.def'), '-l', path(`fuzz-${arch}.lib`)]);
        libs.set(arch, new Uint8Array(readFileSync(path(`fuzz-${arch}.lib`))));
      }
      const shortMembers = [...libs].flatMap(([arch, lib]) => readArchive('fuzz.lib', lib).members.filter((m) => m.bytes[2] === 0xff).map((m) => ({ arch, bytes: m.bytes })));
      const seeds = ['basic-msvc.obj', 'basic-mingw.obj', 'basic-arm64.obj', 'comdat-mingw.obj', 'weak-mingw.obj', 'addend-arm64.obj', 'directives-mingw.obj', 'addend-x64.obj', 'selections.obj'];
      const fields = new Map(seeds.map((s) => [s, coffFields(bytesOf(s))]));
      const problems: string[] = [];
      const outcomes = { linked: 0, refused: 0 };
      for (let i = 0; i < LINK_CASES && problems.length < 10; i++) {
        const rng = new Rng((SEED ^ Math.imul(i + 7, 0x85ebca6b)) >>> 0);
        const shortCase = i % 4 === 3;
        const seed = shortCase ? shortMembers[i % shortMembers.length] : { arch: undefined, bytes: bytesOf(seeds[i % seeds.length]) };
        const { bytes, what } = mutate(rng, seed.bytes, shortCase ? [] : fields.get(seeds[i % seeds.length])!);
        const started = performance.now();
        try {
          const file = readCoffObject(shortCase ? 'fuzz.lib(fuzz.dll)' : `case${i}.obj`, bytes);
          const arch = file.arch;
          const lib = readArchive('fuzz.lib', libs.get(arch)!);
          const inputs = shortCase
            ? [{ kind: 'object' as const, file: readCoffObject('user.obj', bytesOf(arch === 'x86_64' ? 'basic-msvc.obj' : 'basic-arm64.obj')) }, { kind: 'object' as const, file }]
            : [{ kind: 'object' as const, file }, { kind: 'archive' as const, archive: lib, whole: false }];
          linkPe(inputs, (a, m) => readCoffObject(`${a.name}(${a.members[m].name})`, a.members[m].bytes), {
            ...PE_DEFAULTS, arch, entry: '', undefinedRoots: ['f_code', '__imp_f_data'], dllName: 'fuzz.dll',
            dll: rng.int(10) < 3, exportAll: true, gcSections: rng.int(10) < 3,
          });
          outcomes.linked++;
        } catch (e) {
          if (!(e instanceof LinkError)) problems.push(`#${i} (${what}): ${e instanceof Error ? e.stack : String(e)}`);
          else outcomes.refused++;
        }
        const ms = performance.now() - started;
        if (ms > 2000) problems.push(`#${i} (${what}): took ${ms.toFixed(0)} ms`);
      }
      expect(problems, problems.join('\n')).to.deep.equal([]);
      if (process.env.TSLINK_FUZZ_VERBOSE) console.log(outcomes);
      expect(outcomes.linked, 'some mutated inputs link').to.be.above(LINK_CASES / 20);
      expect(outcomes.refused, 'some are refused').to.be.above(0);
    });
  });
});
