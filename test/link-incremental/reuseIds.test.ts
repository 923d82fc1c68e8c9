/**
 * A live session's patch takes the ids of an edited object's unchanged atoms
 * from the object's last version instead of hashing them again
 * (reuseAtomIds, src/obj/contentId.ts; LinkSession.parseForPatch). An id
 * may be taken only where hashing would give the same one: the atom's
 * bytes, alignment, flags and relocations (offset, type, addend, target
 * name) all as before. And the last version the session compares with must
 * be the bytes its ids came from, even when the caller reuses its buffer.
 */
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { atomContentId, reuseAtomIds } from '../../src/obj/contentId.js';
import { AtomKind, PackedSymbol, SecFlag, SymBinding, SymType, Visibility, type InputSymbol, type ObjectFile } from '../../src/obj/model.js';
import { Relocs } from '../../src/obj/relocs.js';
import { readElfObject } from '../../src/obj/readElf.js';
import { LinkSession } from '../../src/session/LinkSession.js';
import { compile, repoRoot, requireTools, run, tmpDir, type Arch } from '../support/toolchain.js';
import { sameBytes, sessionOptions } from './support.js';

const SOURCE = `#include "start.h"
int arr[4] = { 1, 2, 3, 4 };
__attribute__((noinline)) int g1(int x) { return x + 1; }
__attribute__((noinline)) int g2(int x) { return x + 2; }
__attribute__((noinline)) int body(int x) { return x * K; }
__attribute__((noinline)) int caller(int x) { return CALLEE(x); }
__attribute__((noinline)) int *ptr(void) { return &arr[IDX]; }
__attribute__((noinline)) int HELPER(int x) { return x + 9; }
__attribute__((noinline)) int uses_helper(int x) { return HELPER(x); }
extern int EXT(int) __attribute__((weak));
__attribute__((noinline)) int uses_ext(int x) { return EXT ? EXT(x) : x; }
static volatile int svar __attribute__((section(SEC))) = 5;
__attribute__((noinline)) int read_svar(void) { return svar; }
ALIGN int aligned_var = 7;
int test_main(void) { return body(2) + caller(3) + *ptr() + aligned_var; }
`;

const BASE = { K: '3', CALLEE: 'g1', IDX: '1', ALIGN: '', HELPER: 'helper_a', EXT: 'ext_a', SEC: '".data.one"' };
/** Each edit, and the one atom whose id it changes. */
const EDITS: Record<string, { defs: Partial<typeof BASE>; atom: string }> = {
  'a function body': { defs: { K: '5' }, atom: '.text.body' },
  'a call to another function (same bytes, another target name)': { defs: { CALLEE: 'g2' }, atom: '.text.caller' },
  'an address with another addend (same bytes)': { defs: { IDX: '2' }, atom: '.text.ptr' },
  'a call to a function renamed (same bytes, same symbol index)': { defs: { HELPER: 'helper_b' }, atom: '.text.uses_helper' },
  'a call to an undefined function renamed (same bytes, same symbol index)': { defs: { EXT: 'ext_b' }, atom: '.text.uses_ext' },
  'a static variable put in a section of another name (same bytes)': { defs: { SEC: '".data.two"' }, atom: '.text.read_svar' },
  'a variable\'s alignment': { defs: { ALIGN: '__attribute__((aligned(64)))' }, atom: '.data.aligned_var' },
};

describe('incremental linking: ids of unchanged atoms taken from the last version', function () {
  this.timeout(120_000);
  let dir = '';
  const objects = new Map<string, string>();

  async function build(arch: Arch, label: string, defs: Partial<typeof BASE>): Promise<string> {
    const key = `${arch}/${label}`;
    const done = objects.get(key);
    if (done) return done;
    const out = path.join(dir, arch, `${label.replace(/\W+/g, '_')}.o`);
    await compile(path.join(dir, 'unit.c'), out, arch, ['-g', '-I', path.join(repoRoot(), 'test', 'programs'), ...Object.entries({ ...BASE, ...defs }).map(([k, v]) => `-D${k}=${v}`)]);
    objects.set(key, out);
    return out;
  }

  const parse = (file: string): ObjectFile => readElfObject('unit.o', fs.readFileSync(file));
  const hex = (id: Uint8Array | undefined) => (id ? Buffer.from(id).toString('hex') : 'none');

  before(async function () {
    await requireTools(['clang']);
    dir = tmpDir('tslink-reuse-ids');
    fs.writeFileSync(path.join(dir, 'unit.c'), SOURCE);
  });

  after(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  for (const arch of ['x86_64', 'aarch64'] as const) {
    for (const [what, edit] of Object.entries(EDITS)) {
      it(`${arch}: ${what}: an atom takes its last id exactly when hashing gives that id`, async function () {
        const before = parse(await build(arch, 'base', {}));
        const baseIds = before.atoms.map((a) => hex(atomContentId(before, a)));
        const file = await build(arch, what, edit.defs);
        const after = parse(file);
        reuseAtomIds(before, after);
        const taken = after.atoms.map((a) => hex(a.id));
        const fresh = parse(file);
        const hashed = fresh.atoms.map((a) => hex(atomContentId(fresh, a)));
        expect(after.atoms.length).to.equal(before.atoms.length);
        after.atoms.forEach((a, i) => {
          if (taken[i] !== 'none') expect(taken[i], `${a.name}: the id taken is the one hashing gives`).to.equal(hashed[i]);
          expect(taken[i] !== 'none', `${a.name}: taken exactly when its hashed id is the last one`).to.equal(hashed[i] === baseIds[i]);
        });
        const changed = after.atoms.filter((_, i) => taken[i] === 'none').map((a) => a.name);
        expect(changed, 'the edited atom').to.include(edit.atom);
        expect(changed.length, `only a few atoms: ${changed.join(', ')}`).to.be.below(after.atoms.length / 2);
      });
    }
  }

  it('a section symbol and another symbol of the section\'s name are different targets', () => {
    // An object of one atom whose relocation targets symbol 1: its section's symbol in one version, a symbol
    // named like the section in the other (hand-made: a compiler would not put them at one index).
    const object = (sym: InputSymbol): ObjectFile => ({
      name: 't.o', format: 'elf', arch: 'x86_64', firstGlobal: 1, groups: [], bytes: new Uint8Array(0),
      symbols: [new PackedSymbol('', 0, -1, 0, 0), sym],
      atoms: [{
        index: 0, name: '.text.t', kind: AtomKind.Code, flags: SecFlag.Alloc | SecFlag.Exec, align: 16, size: 8, data: new Uint8Array(8),
        relocs: Relocs.of([{ offset: 1, type: 2, sym: 1, addend: -4 }]), entSize: 0, group: -1, rawType: 1,
      }],
    });
    const before = object(new PackedSymbol('.text.t', PackedSymbol.bits(SymBinding.Local, SymType.Section, Visibility.Default), 0, 0, 0));
    const after = object(new PackedSymbol('.text.t', PackedSymbol.bits(SymBinding.Global, SymType.NoType, Visibility.Default), -1, 0, 0));
    atomContentId(before, before.atoms[0]);
    reuseAtomIds(before, after);
    expect(after.atoms[0].id, 'not taken').to.equal(undefined);
    expect(hex(atomContentId(after, after.atoms[0]))).to.not.equal(hex(before.atoms[0].id));
  });

  it('COFF: a section symbol of another section of the same name is another target', () => {
    // Two sections named .text (as a COFF object's COMDAT functions have); the relocation's symbol 1 is the
    // first's section symbol in one version, the second's in the other: the target names differ by index.
    const object = (target: number): ObjectFile => {
      const atom = (index: number) => ({
        index, name: '.text', kind: AtomKind.Code, flags: SecFlag.Alloc | SecFlag.Exec, align: 16, size: 8, data: new Uint8Array(8),
        relocs: index === 0 ? Relocs.of([{ offset: 1, type: 4, sym: 1, addend: 0 }]) : Relocs.none, entSize: 0, group: -1, rawType: 0x60000020,
      });
      return {
        name: 't.obj', format: 'coff', arch: 'x86_64', firstGlobal: 2, groups: [], bytes: new Uint8Array(0), atoms: [atom(0), atom(1)],
        symbols: [new PackedSymbol('', 0, -1, 0, 0), new PackedSymbol('.text', PackedSymbol.bits(SymBinding.Local, SymType.Section, Visibility.Default), target, 0, 0)],
      };
    };
    const before = object(0);
    const after = object(1);
    before.atoms.forEach((a) => atomContentId(before, a));
    reuseAtomIds(before, after);
    expect(after.atoms[0].id, 'the atom whose relocation changed target: not taken').to.equal(undefined);
    expect(hex(after.atoms[1].id), 'the other: taken').to.equal(hex(before.atoms[1].id));
    expect(hex(atomContentId(after, after.atoms[0]))).to.not.equal(hex(before.atoms[0].id));
  });

  it('a caller that reuses its buffer for the next version still gets that version linked', async function () {
    const arch = 'x86_64';
    const versions = [await build(arch, 'base', {}), await build(arch, 'k5', { K: '5' }), await build(arch, 'k7', { K: '7' })].map((f) => fs.readFileSync(f));
    // One session given fresh buffers, one given the same buffer, refilled, each time.
    const fresh = new LinkSession(sessionOptions(arch));
    const pooled = new LinkSession(sessionOptions(arch));
    const pool = new Uint8Array(Math.max(...versions.map((v) => v.length)));
    const fill = (v: Uint8Array) => {
      pool.fill(0);
      pool.set(v);
      return pool.subarray(0, v.length);
    };
    const a = fresh.addObject('unit.o', versions[0].slice());
    const b = pooled.addObject('unit.o', fill(versions[0]));
    expect(fresh.link().outcome).to.equal('full');
    expect(pooled.link().outcome).to.equal('full');
    for (const v of [versions[1], versions[2], versions[1]]) {
      fresh.replaceInput(a, v.slice());
      pooled.replaceInput(b, fill(v));
      const rf = fresh.link();
      const rp = pooled.link();
      expect(rf.outcome, rf.reason ?? '').to.equal('patched');
      expect(rp.outcome, rp.reason ?? '').to.equal('patched');
      expect(sameBytes(pooled.image(), fresh.image()), 'the two sessions\' images').to.equal(true);
    }
    const out = path.join(dir, 'pooled');
    fs.writeFileSync(out, pooled.image(), { mode: 0o755 });
    const r = await run(out, arch);
    expect(r.status, 'body(2) with K = 5, + caller(3), + arr[1], + aligned_var').to.equal(10 + 4 + 2 + 7);
  });
});
