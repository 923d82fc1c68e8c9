// The benchmark's generated C program (doc/benchmarks.md), deterministic.
//
// A program of F functions is ceil(F / 100) units `u0000.c` .. plus
// `main.c`. Each unit has 100 global functions, a few static helpers, an
// entry function, and data of every kind a linker places differently:
// a const table (.rodata), a mutable array and a scalar (.data), an array
// without initialiser (.bss), string literals (.rodata.str), and a const
// table of function pointers (.data.rel.ro, absolute relocations).
// Functions call functions of other units anywhere in the program (about
// two calls each, plus some through another unit's pointer table) and read
// and write other units' data, so relocations cross units everywhere. A
// depth argument bounds the calls: `main` calls every unit's entry, an
// entry calls each of its functions with depth 1, and a call made at depth
// 1 goes one level deeper and stops. The program prints a checksum, which
// every linker's output must agree on.
//
// Everything comes from a PRNG seeded by (GEN_VERSION, unit index) and the
// number of units: the same size always prints the same text.
//
// Edits (each changes exactly one unit's text, one function's body):
//   const  one function's additive constant + 1: same code size, fits its slot
//   grow   one function gains a run of volatile steps (several hundred bytes
//          more than its 33% slack): it has to move
//
// Usage as a script: node bench/gen.mjs FUNCTIONS OUTDIR  (writes the .c files)

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

/** Bump when the generated text changes: it keys the build cache. */
export const GEN_VERSION = 1;

export const FUNCS_PER_UNIT = 100;

function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

function mix(...parts) {
  let h = 0x9e3779b9;
  for (const p of parts) {
    h = Math.imul(h ^ (p >>> 0), 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
  }
  return h >>> 0;
}

class Rng {
  constructor(seed) { this.next = mulberry32(seed); }
  int(n) { return this.next() % n; }
  range(lo, hi) { return lo + this.int(hi - lo + 1); }
  chance(p) { return this.next() / 0x1_0000_0000 < p; }
}

export function unitCount(functions) {
  return Math.max(1, Math.ceil(functions / FUNCS_PER_UNIT));
}

export function unitName(i) {
  return `u${String(i).padStart(4, '0')}`;
}

/** The shape of unit i of a program of `units` units (a pure function of its arguments). */
function unitModel(i, units) {
  const r = new Rng(mix(GEN_VERSION, i, units));
  const u = unitName(i);
  const other = () => unitName(units === 1 ? 0 : (i + 1 + r.int(units - 1)) % units);
  const statics = [];
  for (let s = 0; s < 4; s++) statics.push({ name: `${u}_s${s}`, mul: r.range(3, 250) * 2 + 1, add: r.range(1, 100) });
  const fns = [];
  for (let f = 0; f < FUNCS_PER_UNIT; f++) {
    const fn = {
      name: `${u}_f${f}`,
      mul: (r.next() | 1) >>> 0,
      add: r.range(1, 100),
      steps: [],
      calls: [],
      ops: null,
    };
    const nsteps = r.range(1, 8);
    for (let k = 0; k < nsteps; k++) {
      const kind = r.int(7);
      if (kind === 0) fn.steps.push({ kind: 'rotl', n: r.range(1, 31) });
      else if (kind === 1) fn.steps.push({ kind: 'tab', unit: r.chance(0.3) ? other() : u, idx: r.int(64) });
      else if (kind === 2) fn.steps.push({ kind: 'state', unit: r.chance(0.3) ? other() : u });
      else if (kind === 3) fn.steps.push({ kind: 'static', name: statics[r.int(statics.length)].name });
      else if (kind === 4) fn.steps.push({ kind: 'str', n: r.int(3) });
      else if (kind === 5) fn.steps.push({ kind: 'loop', n: r.range(2, 6), c: r.range(1, 1000) });
      else fn.steps.push({ kind: 'bss', unit: r.chance(0.3) ? other() : u, idx: r.int(128) });
    }
    const ncalls = r.range(1, 3);
    for (let c = 0; c < ncalls; c++) fn.calls.push(`${other()}_f${r.int(FUNCS_PER_UNIT)}`);
    if (r.chance(0.25)) fn.ops = { unit: other(), idx: r.int(8) };
    fns.push(fn);
  }
  const tab = Array.from({ length: 64 }, () => r.next() >>> 0);
  const state = Array.from({ length: 32 }, () => r.next() >>> 0);
  const ops = Array.from({ length: 8 }, () => fns[r.int(fns.length)].name);
  return { u, statics, fns, tab, state, ops, scalar: r.next() >>> 0 };
}

/** An edit of the program: `{ kind: 'const' | 'grow', unit, fn }`. */
export function editTarget(kind, functions, k = 0) {
  const units = unitCount(functions);
  // (const) the middle unit; (grow) the k-th of a spread of units, so repeated grows move different functions.
  const unit = kind === 'const' ? Math.floor(units / 2) : (Math.floor(units / 3) + k * 7919) % units;
  const fn = kind === 'const' ? 37 : (11 + k * 13) % FUNCS_PER_UNIT;
  return { kind, unit, fn, symbol: `${unitName(unit)}_f${fn}` };
}

function hex(n) {
  return `0x${(n >>> 0).toString(16)}u`;
}

/** The C text of unit i; `edit` (from editTarget) changes one of its functions. */
export function unitSource(i, units, edit = null) {
  const m = unitModel(i, units);
  const { u } = m;
  const out = [];
  out.push(`/* ${u}: unit ${i} of ${units}, generated by bench/gen.mjs v${GEN_VERSION}; do not edit */`);
  out.push('typedef unsigned int u32;');
  out.push('typedef u32 (*op_fn)(u32, u32);');
  const externs = new Set();
  const ext = (decl) => externs.add(decl);
  for (const fn of m.fns) {
    for (const c of fn.calls) if (!c.startsWith(`${u}_`)) ext(`u32 ${c}(u32, u32);`);
    if (fn.ops && fn.ops.unit !== u) ext(`extern op_fn const ${fn.ops.unit}_ops[8];`);
    for (const s of fn.steps) {
      if (s.unit && s.unit !== u) {
        if (s.kind === 'tab') ext(`extern const u32 ${s.unit}_tab[64];`);
        if (s.kind === 'state') ext(`extern u32 ${s.unit}_state[32];`);
        if (s.kind === 'bss') ext(`extern u32 ${s.unit}_bss[128];`);
      }
    }
  }
  for (const fn of m.fns) ext(`u32 ${fn.name}(u32, u32);`);
  out.push(...[...externs].sort());
  out.push('');
  out.push(`const u32 ${u}_tab[64] = {${m.tab.map(hex).join(', ')}};`);
  out.push(`u32 ${u}_state[32] = {${m.state.map(hex).join(', ')}};`);
  out.push(`u32 ${u}_bss[128];`);
  out.push(`u32 ${u}_scalar = ${hex(m.scalar)};`);
  out.push(`static const char *const ${u}_names[3] = {"${u} alpha", "${u} beta", "gamma of ${u}"};`);
  out.push(`op_fn const ${u}_ops[8] = {${m.ops.join(', ')}};`);
  out.push('');
  for (const s of m.statics) {
    out.push(`__attribute__((noinline)) static u32 ${s.name}(u32 x) {`);
    out.push(`  return (x ^ (x >> 7)) * ${s.mul}u + ${s.add}u;`);
    out.push('}');
  }
  out.push('');
  m.fns.forEach((fn, f) => {
    const edited = edit && edit.unit === i && edit.fn === f ? edit.kind : null;
    out.push(`__attribute__((noinline)) u32 ${fn.name}(u32 x, u32 d) {`);
    out.push(`  u32 a = x * ${hex(fn.mul)} + ${fn.add + (edited === 'const' ? 1 : 0)}u;`);
    for (const s of fn.steps) {
      switch (s.kind) {
        case 'rotl': out.push(`  a = (a << ${s.n}) | (a >> ${32 - s.n});`); break;
        case 'tab': out.push(`  a ^= ${s.unit}_tab[(a + ${s.idx}u) & 63];`); break;
        case 'state': out.push(`  ${s.unit}_state[a & 31] += a;`); break;
        case 'static': out.push(`  a += ${s.name}(a);`); break;
        case 'str': out.push(`  a += (u32)${u}_names[${s.n}][a % 5];`); break;
        case 'loop': out.push(`  for (u32 k = 0; k < ${s.n}u; k++) a = a * 33u + k + ${s.c}u;`); break;
        case 'bss': out.push(`  ${s.unit}_bss[(a + ${s.idx}u) & 127] ^= a;`); break;
      }
    }
    if (edited === 'grow') {
      // About 24 bytes per step: some 600 bytes, well past 33% slack on any function here.
      out.push('  {');
      out.push('    volatile u32 v = a;');
      for (let k = 0; k < 24; k++) out.push(`    v = v * ${2 * k + 3}u + ${k + 0x1234}u;`);
      out.push('    a ^= v;');
      out.push('  }');
    }
    out.push('  if (d) {');
    for (const c of fn.calls) out.push(`    a += ${c}(a ^ ${fn.add}u, d - 1);`);
    if (fn.ops) out.push(`    a ^= ${fn.ops.unit}_ops[a & 7](a, d - 1);`);
    out.push('  }');
    out.push('  return a;');
    out.push('}');
  });
  out.push('');
  out.push(`u32 ${u}_entry(u32 seed) {`);
  out.push('  u32 r = seed;');
  for (const fn of m.fns) out.push(`  r = r * 31u + ${fn.name}(r, 1);`);
  out.push(`  return r ^ ${u}_scalar ^ ${u}_bss[seed & 127];`);
  out.push('}');
  return out.join('\n') + '\n';
}

export function mainSource(units) {
  const out = [];
  out.push(`/* main: generated by bench/gen.mjs v${GEN_VERSION}; do not edit */`);
  out.push('#include <stdio.h>');
  out.push('#include <stdlib.h>');
  out.push('typedef unsigned int u32;');
  for (let i = 0; i < units; i++) out.push(`u32 ${unitName(i)}_entry(u32);`);
  out.push('static u32 (*const entries[])(u32) = {');
  for (let i = 0; i < units; i++) out.push(`  ${unitName(i)}_entry,`);
  out.push('};');
  out.push('int main(int argc, char **argv) {');
  out.push('  u32 sum = argc > 1 ? (u32)strtoul(argv[1], 0, 0) : 1u;');
  out.push('  for (unsigned i = 0; i < sizeof entries / sizeof entries[0]; i++) sum = sum * 16777619u ^ entries[i](sum + i);');
  out.push(`  printf("checksum %08x over ${units} units\\n", sum);`);
  out.push('  return 0;');
  out.push('}');
  return out.join('\n') + '\n';
}

/** Every file of the program: [name, text]. */
export function programSources(functions) {
  const units = unitCount(functions);
  const files = [['main.c', mainSource(units)]];
  for (let i = 0; i < units; i++) files.push([`${unitName(i)}.c`, unitSource(i, units)]);
  return files;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const [n, dir] = process.argv.slice(2);
  if (!n || !dir) {
    process.stderr.write('usage: node bench/gen.mjs FUNCTIONS OUTDIR\n');
    process.exit(2);
  }
  mkdirSync(dir, { recursive: true });
  for (const [name, text] of programSources(Number(n))) writeFileSync(join(dir, name), text);
}
