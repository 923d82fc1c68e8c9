/**
 * Range-extension thunks (src/link/thunks.ts) on AArch64, where B and BL
 * (R_AARCH64_JUMP26, R_AARCH64_CALL26) reach +-128 MiB.
 *
 * The program: an assembly unit whose one code section holds functions at its
 * start, a 130 MiB gap, and functions at its end, which call (bl) and
 * tail-call (b) across the gap both ways; and a C unit whose test_main calls
 * one function at each end and returns 42 when every call arrived. It is
 * linked by tslink and by ld.lld, both are run under qemu-aarch64, and the
 * far branches in tslink's output are read back with llvm-objdump: each must
 * go to an `adrp x16; add x16; br x16` thunk that lands on its target, while
 * the near ones stay direct.
 *
 * Also: the same program linked with the incremental placement policy (slack
 * and headroom) and relinked after an edit; a program whose code spans more
 * than the range's safe part but whose branches are all short (no thunks);
 * and a branch that no pool can reach (lld's range error).
 *
 * The images are large (130 to 270 MiB): they live in a temporary directory
 * that is deleted at the end. Set TSLINK_KEEP_TMP=1 to keep it.
 */
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { link, type LinkResult } from '../../src/link/pipeline.js';
import { LinkSession } from '../../src/session/LinkSession.js';
import { readElfObject } from '../../src/obj/readElf.js';
import type { LinkInput } from '../../src/link/resolve.js';
import {
  compile, describeExit, linkLld, linkTslink, repoRoot, requireTools, run, tmpDir, tool,
} from '../support/toolchain.js';

const MiB = 1024 * 1024;
const RANGE = 128 * MiB;

/**
 * Functions at both ends of one section, `gap` MiB apart. near_entry(x) =
 * x + 10 + 3 + 1 and far_entry(x) = x + 1 + 5, each result built by
 * branches across the gap.
 */
function farAsm(gap: number): string {
  return `
  .section .text.far,"ax",@progbits
  .p2align 2
  .globl near_entry
  .type near_entry,@function
near_entry:
  stp x29, x30, [sp, #-16]!
  bl far_leaf               // CALL26 across the gap: +10
  ldp x29, x30, [sp], #16
  b far_tail                // JUMP26 across the gap: +3, then +1
  .size near_entry, . - near_entry

  .globl near_leaf
  .type near_leaf,@function
near_leaf:
  add x0, x0, #1
  ret
  .size near_leaf, . - near_leaf

  .globl near_tail
  .type near_tail,@function
near_tail:
  add x0, x0, #5
  ret
  .size near_tail, . - near_tail

  .space ${gap} * 1024 * 1024

  .globl far_entry
  .type far_entry,@function
far_entry:
  stp x29, x30, [sp, #-16]!
  bl near_leaf              // CALL26 back across the gap: +1
  ldp x29, x30, [sp], #16
  b near_tail               // JUMP26 back across the gap: +5
  .size far_entry, . - far_entry

  .globl far_leaf
  .type far_leaf,@function
far_leaf:
  add x0, x0, #10
  ret
  .size far_leaf, . - far_leaf

  .globl far_tail
  .type far_tail,@function
far_tail:
  add x0, x0, #3
  b near_leaf
  .size far_tail, . - far_tail
`;
}

/** test_main = near_entry(a) + far_entry(8): 42 when a is 14. */
function mainC(a: number): string {
  return `#include "start.h"
long near_entry(long);
long far_entry(long);
int test_main(void) { return (int)(near_entry(OPAQUE(${a}L)) + far_entry(OPAQUE(8L))); }
`;
}

/** A branch that sits in the middle of a 260 MiB section: no pool can be within reach of it. */
const UNREACHABLE_ASM = `
  .section .text.huge,"ax",@progbits
  .p2align 2
  .space 130 * 1024 * 1024
  .globl mid
  .type mid,@function
mid:
  b far_target
  .size mid, . - mid
  .space 130 * 1024 * 1024

  .section .text.z,"ax",@progbits
  .globl far_target
  .type far_target,@function
far_target:
  ret
  .size far_target, . - far_target
`;

/** Code that spans 126 MiB, more than the range less the planner's margin, with only short branches. */
const SHORT_ASM = `
  .section .text.big,"ax",@progbits
  .p2align 2
  .globl near_entry
  .type near_entry,@function
near_entry:
  add x0, x0, #14
  b near_leaf
  .size near_entry, . - near_entry
near_leaf:
  add x0, x0, #6
  ret
  .globl far_entry
  .type far_entry,@function
far_entry:
  add x0, x0, #0
  ret
  .size far_entry, . - far_entry
  .space 126 * 1024 * 1024
`;

function readBytes(file: string): Uint8Array {
  const b = fs.readFileSync(file);
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/** Links objects in-process with the pipeline (no archives), the way the CLI's options would. */
function linkInProcess(objects: readonly string[]): LinkResult {
  const inputs: LinkInput[] = objects.map((o) => ({ kind: 'object', file: readElfObject(path.basename(o), readBytes(o)) }));
  return link(inputs, () => {
    throw new Error('no archives here');
  }, { arch: 'aarch64', entry: '_start', buildId: { kind: 'none' }, undefinedRoots: [], keepChunkDigests: false, ehFrameHdr: false, dynamic: null, relro: true, gcSections: false });
}

/** Symbol name -> address, from llvm-nm. */
async function symbolsOf(exe: string): Promise<Map<string, number>> {
  const out = await tool('llvm-nm', [exe]);
  const map = new Map<string, number>();
  for (const line of out.split('\n')) {
    const m = /^([0-9a-f]+) \w (\S+)$/.exec(line.trim());
    if (m) map.set(m[2], parseInt(m[1], 16));
  }
  return map;
}

interface Insn {
  addr: number;
  mnemonic: string;
  operands: string;
}

/** The instructions in [from, to), from llvm-objdump -d. */
async function disassemble(exe: string, from: number, to: number): Promise<Insn[]> {
  const out = await tool('llvm-objdump', ['-d', '--no-show-raw-insn', `--start-address=0x${from.toString(16)}`, `--stop-address=0x${to.toString(16)}`, exe]);
  const insns: Insn[] = [];
  for (const line of out.split('\n')) {
    const m = /^\s*([0-9a-f]+):\s+(\S+)\s*(.*)$/.exec(line);
    if (m) insns.push({ addr: parseInt(m[1], 16), mnemonic: m[2], operands: m[3].trim() });
  }
  return insns;
}

/** The target of the branch instruction `mnemonic` (b or bl) at `at`. */
async function branchTarget(exe: string, at: number, mnemonic: 'b' | 'bl'): Promise<number> {
  const [insn] = await disassemble(exe, at, at + 4);
  expect(insn?.mnemonic, `instruction at 0x${at.toString(16)}`).to.equal(mnemonic);
  const m = /^0x([0-9a-f]+)/.exec(insn.operands);
  expect(m, `operands of ${mnemonic} at 0x${at.toString(16)}: ${insn.operands}`).to.not.equal(null);
  return parseInt(m![1], 16);
}

/** Where the thunk at `at` jumps: it must be `adrp x16, page; add x16, x16, #lo12; br x16`. */
async function thunkDestination(exe: string, at: number): Promise<number> {
  const insns = await disassemble(exe, at, at + 12);
  const text = insns.map((i) => `${i.mnemonic} ${i.operands}`).join('; ');
  expect(insns.map((i) => i.mnemonic), `thunk at 0x${at.toString(16)}: ${text}`).to.deep.equal(['adrp', 'add', 'br']);
  const adrp = /^x16, 0x([0-9a-f]+)/.exec(insns[0].operands);
  const add = /^x16, x16, #(0x[0-9a-f]+|\d+)$/.exec(insns[1].operands);
  expect(adrp, text).to.not.equal(null);
  expect(add, text).to.not.equal(null);
  expect(insns[2].operands, text).to.equal('x16');
  return parseInt(adrp![1], 16) + Number(add![1]);
}

describe('range-extension thunks (AArch64)', function () {
  this.timeout(300_000);
  let dir = '';
  let mainObj = '';
  let mainObj2 = '';
  let farObj = '';

  before(async function () {
    await requireTools(['clang', 'ld.lld', 'llvm-nm', 'llvm-objdump', 'qemu-aarch64']);
    dir = tmpDir('tslink-thunks');
    const include = ['-I', path.join(repoRoot(), 'test', 'programs')];
    // Both versions of main.c are compiled from a file of that name, so their symbol tables agree.
    for (const [sub, a] of [['v1', 14], ['v2', 15]] as const) {
      fs.mkdirSync(path.join(dir, sub));
      fs.writeFileSync(path.join(dir, sub, 'main.c'), mainC(a));
      await compile(path.join(dir, sub, 'main.c'), path.join(dir, sub, 'main.o'), 'aarch64', include);
    }
    mainObj = path.join(dir, 'v1', 'main.o');
    mainObj2 = path.join(dir, 'v2', 'main.o');
    fs.writeFileSync(path.join(dir, 'far.s'), farAsm(130));
    farObj = path.join(dir, 'far.o');
    await compile(path.join(dir, 'far.s'), farObj, 'aarch64');
  });

  after(function () {
    if (!dir) return;
    if (process.env.TSLINK_KEEP_TMP) console.log(`      kept ${dir}`);
    else fs.rmSync(dir, { recursive: true, force: true });
  });

  it('routes branches beyond 128 MiB through adrp/add/br x16 thunks, and runs as the ld.lld link does', async function () {
    const ts = path.join(dir, 'ts.out');
    const lld = path.join(dir, 'lld.out');
    try {
      await linkTslink(ts, [mainObj, farObj]);
      await linkLld(lld, [mainObj, farObj]);
      const [rTs, rLld] = [await run(ts, 'aarch64'), await run(lld, 'aarch64')];
      expect(describeExit(rLld), 'ld.lld output').to.equal('exit status 42');
      expect(describeExit(rTs), 'tslink output').to.equal(describeExit(rLld));

      const sym = await symbolsOf(ts);
      for (const name of ['test_main', 'near_entry', 'near_leaf', 'near_tail', 'far_entry', 'far_leaf', 'far_tail']) {
        expect(sym.has(name), name).to.equal(true);
      }
      expect(sym.get('far_leaf')! - sym.get('near_entry')!).to.be.greaterThan(RANGE);
      // Far branches, both ways, calls and tail calls: each to a thunk in reach that lands on the target.
      const far: Array<[at: number, kind: 'b' | 'bl', target: string]> = [
        [sym.get('near_entry')! + 4, 'bl', 'far_leaf'],
        [sym.get('near_entry')! + 12, 'b', 'far_tail'],
        [sym.get('far_entry')! + 4, 'bl', 'near_leaf'],
        [sym.get('far_entry')! + 12, 'b', 'near_tail'],
        [sym.get('far_tail')! + 4, 'b', 'near_leaf'],
      ];
      for (const [at, kind, target] of far) {
        const thunk = await branchTarget(ts, at, kind);
        expect(thunk, `${kind} to ${target}`).to.not.equal(sym.get(target));
        expect(Math.abs(thunk - at), `${kind} to ${target}: thunk in reach`).to.be.lessThan(RANGE);
        expect(await thunkDestination(ts, thunk), `thunk for ${target}`).to.equal(sym.get(target));
      }
      // A near branch stays direct: test_main's first call is to near_entry.
      const calls = (await disassemble(ts, sym.get('test_main')!, sym.get('test_main')! + 0x40)).filter((i) => i.mnemonic === 'bl');
      expect(calls.length, 'calls in test_main').to.be.greaterThanOrEqual(2);
      expect(parseInt(/^0x([0-9a-f]+)/.exec(calls[0].operands)![1], 16)).to.equal(sym.get('near_entry'));
    } finally {
      fs.rmSync(ts, { force: true });
      fs.rmSync(lld, { force: true });
    }
  });

  it('keeps working with incremental placement: a cold link, then a relink after an edit', async function () {
    const exe = path.join(dir, 'inc.out');
    try {
      const s = new LinkSession({ format: 'elf', arch: 'aarch64', output: 'exe', entry: '_start', incremental: true });
      const main = s.addObject('main.o', readBytes(mainObj));
      s.addObject('far.o', readBytes(farObj));
      expect(s.link().outcome).to.equal('full');
      fs.writeFileSync(exe, s.image(), { mode: 0o755 });
      expect(describeExit(await run(exe, 'aarch64')), 'cold incremental link').to.equal('exit status 42');

      // test_main's far call needs its thunk, which a patch cannot give it: the relink is a full one.
      s.replaceInput(main, readBytes(mainObj2));
      const r = s.link();
      expect(r.outcome).to.equal('fell-back-full');
      expect(r.reason).to.match(/R_AARCH64_CALL26 out of range.*far_entry/);
      fs.writeFileSync(exe, s.image(), { mode: 0o755 });
      expect(describeExit(await run(exe, 'aarch64')), 'relink').to.equal('exit status 43');
    } finally {
      fs.rmSync(exe, { force: true });
    }
  });

  it('adds no thunks when every branch is short, even in code that spans nearly the whole range', async function () {
    const src = path.join(dir, 'short.s');
    const obj = path.join(dir, 'short.o');
    const exe = path.join(dir, 'short.out');
    try {
      fs.writeFileSync(src, SHORT_ASM);
      await compile(src, obj, 'aarch64');
      const r = linkInProcess([mainObj, obj]);
      expect(r.layout.sections.find((s) => s.name === '.text')!.size).to.be.greaterThan(RANGE - 4 * MiB);
      expect(r.thunks.pools).to.deep.equal([]);
      expect(r.plan.files[r.plan.internal].atoms.filter((a) => a.name.endsWith('.thunks'))).to.deep.equal([]);
      fs.writeFileSync(exe, r.image!, { mode: 0o755 });
      expect(describeExit(await run(exe, 'aarch64'))).to.equal('exit status 42');
    } finally {
      for (const f of [src, obj, exe]) fs.rmSync(f, { force: true });
    }
  });

  it('reports the lld-style range error for a branch no thunk pool can reach', async function () {
    const src = path.join(dir, 'huge.s');
    const obj = path.join(dir, 'huge.o');
    try {
      fs.writeFileSync(src, UNREACHABLE_ASM);
      await compile(src, obj, 'aarch64');
      expect(() => linkInProcess([obj])).to.throw(
        /^huge\.o:\(\.text\.huge\+0x8200000\): relocation R_AARCH64_JUMP26 out of range: \d+ is not in \[-134217728, 134217727\]; references 'far_target'$/,
      );
    } finally {
      for (const f of [src, obj]) fs.rmSync(f, { force: true });
    }
  });
});
