/**
 * Incremental relinking of dynamically linked programs (the default `clang`
 * output: a PIE using the C library's shared objects), through the compiler
 * driver as a user runs it:
 *
 *   clang --ld-path=tslink -Wl,--incremental,--explain main.o lib.o -o prog
 *
 * Each case links the original program, edits lib.c, recompiles it, relinks,
 * and checks the outcome --explain reports: a body edit is patched; an edit
 * that needs something the dynamic loader's tables do not have (a PLT entry,
 * a copy, a new RELATIVE relocation in a PIE) falls back, with the reason.
 * Either way the program must then run exactly like a cold ld.lld link of
 * the same objects (AArch64 under qemu-aarch64 -L /usr/aarch64-linux-gnu).
 */
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ARCHES, type Arch, describeExit, exec, repoRoot, requireTools, run, showCommand, tmpDir, tool } from '../support/toolchain.js';

const TSLINK = path.join(repoRoot(), 'bin', 'tslink.js');

const MAIN = `
#include <stdio.h>
long lib_value(void);
const char *lib_name(int i);
long lib_call(void);
long lib_parse(void);
long lib_ref(void);
int main(void) {
  printf("value %ld\\n", lib_value());
  for (int i = 0; lib_name(i); i++) printf("name %s\\n", lib_name(i));
  printf("call %ld\\n", lib_call());
  printf("parse %ld\\n", lib_parse());
  printf("ref %ld\\n", lib_ref());
  puts("done");
  return (int)(lib_value() % 100);
}
`;

/** The original lib.c; each case's edit is a replacement of one part of it. */
const LIB = `
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
const char *names[4] = { "alpha", "beta", 0, 0 };
void *volatile sink;
long lib_value(void) { return 42; }
const char *lib_name(int i) { return names[i]; }
long lib_call(void) { sink = (void *)&rand; return getpid() > 0; }
long lib_parse(void) { return getpid() != 0; }
long seven = 7;
long *volatile refs[2] = { &seven, 0 };
long lib_ref(void) { return *refs[0] + (long)refs[1]; }
`;

interface Case {
  title: string;
  from: string;
  to: string;
  /** Flags for both units and the link, e.g. -fno-pie -no-pie. */
  flags: string[];
  outcome: 'patched' | 'fell-back-full';
  /** A part of the reason (fall-backs). */
  reason?: RegExp;
}

const CASES: Case[] = [
  { title: 'a body edit in a PIE is patched', from: 'return 42;', to: 'return 57;', flags: [], outcome: 'patched' },
  { title: 'a body edit in a non-PIE is patched', from: 'return 42;', to: 'return 57;', flags: ['-fno-pie', '-no-pie'], outcome: 'patched' },
  {
    // refs[0] keeps its RELATIVE record (a PIE), the same one: the changed atom is looked at, and may be patched.
    title: 'an edit of pointers in writable data that keeps their dynamic relocations is patched',
    from: '{ &seven, 0 }', to: '{ &seven, (long *)3 }', flags: [], outcome: 'patched',
  },
  {
    title: 'a first call to a C library function that was only address-taken (no PLT entry) falls back',
    from: 'sink = (void *)&rand; return getpid() > 0;', to: 'sink = 0; return rand() % 1 + 1;', flags: [], outcome: 'fell-back-full', reason: /now calls rand, which has no PLT entry/,
  },
  {
    title: 'a new pointer in writable data of a PIE (a new RELATIVE relocation) falls back',
    from: '{ "alpha", "beta", 0, 0 }', to: '{ "alpha", "beta", "gamma", 0 }', flags: [], outcome: 'fell-back-full', reason: /dynamic relocation/,
  },
  {
    title: 'taking the address of a called C library function in non-PIC code (a canonical PLT entry) falls back',
    from: 'return getpid() != 0;', to: 'sink = (void *)&getpid; return getpid() != 0;', flags: ['-fno-pie', '-no-pie'], outcome: 'fell-back-full', reason: /address of getpid/,
  },
];

async function compile(arch: Arch, src: string, obj: string, flags: string[]): Promise<void> {
  await tool('clang', [`--target=${arch}-linux-gnu`, '-O1', '-ffunction-sections', '-fdata-sections', ...flags.filter((f) => f !== '-no-pie'), '-c', src, '-o', obj], { timeoutMs: 120_000 });
}

async function driverLink(arch: Arch, objs: string[], out: string, flags: string[], linker: 'tslink' | 'ld.lld'): Promise<string> {
  const ld = linker === 'tslink' ? [`--ld-path=${TSLINK}`, '-Wl,--incremental,--explain'] : ['-fuse-ld=lld'];
  const args = [`--target=${arch}-linux-gnu`, ...flags.filter((f) => f === '-no-pie'), ...ld, ...objs, '-o', out];
  const r = await exec('clang', args, { timeoutMs: 120_000 });
  if (r.status !== 0) throw new Error(`${linker} link failed (${describeExit(r)}): ${showCommand('clang', args)}\n${r.stdout}${r.stderr}`);
  return r.stdout;
}

for (const arch of ARCHES) {
  describe(`incremental relinking of dynamic programs (${arch})`, function () {
    this.timeout(240_000);
    let work = '';

    before(async function () {
      await requireTools(['clang', 'ld.lld', ...(arch === 'aarch64' ? ['qemu-aarch64'] : [])]);
      work = tmpDir(`tslink-dyninc-${arch}`);
    });
    after(function () {
      if (work && !process.env.TSLINK_KEEP_TMP) fs.rmSync(work, { recursive: true, force: true });
    });

    CASES.forEach((c, n) => {
      it(c.title, async function () {
        expect(LIB.split(c.from).length - 1, `"${c.from}" occurs once in lib.c`).to.equal(1);
        const dir = path.join(work, `case${n}`);
        fs.mkdirSync(dir, { recursive: true });
        fs.writeFileSync(path.join(dir, 'main.c'), MAIN);
        fs.writeFileSync(path.join(dir, 'lib.c'), LIB);
        const objs = [path.join(dir, 'main.o'), path.join(dir, 'lib.o')];
        await compile(arch, path.join(dir, 'main.c'), objs[0], c.flags);
        await compile(arch, path.join(dir, 'lib.c'), objs[1], c.flags);
        const prog = path.join(dir, 'prog');
        expect(await driverLink(arch, objs, prog, c.flags, 'tslink')).to.match(/^tslink: full: /m);
        const before = await run(prog, arch);
        expect(before.stdout).to.match(/^value 42\n/);

        fs.writeFileSync(path.join(dir, 'lib.c'), LIB.replace(c.from, c.to));
        await compile(arch, path.join(dir, 'lib.c'), objs[1], c.flags);
        const explain = await driverLink(arch, objs, prog, c.flags, 'tslink');
        expect(explain, explain).to.match(new RegExp(`^tslink: ${c.outcome}: `, 'm'));
        if (c.reason) expect(explain, explain).to.match(c.reason);

        const cold = path.join(dir, 'prog.lld');
        await driverLink(arch, objs, cold, c.flags, 'ld.lld');
        const want = await run(cold, arch);
        const got = await run(prog, arch);
        expect({ status: got.status, stdout: got.stdout }, `${prog}: ${describeExit(got)} ${got.stderr}`)
          .to.deep.equal({ status: want.status, stdout: want.stdout });
      });
    });
  });
}
