/**
 * The dynamic-linking options compiler drivers and users pass, each checked
 * against ld.lld on the same objects: the dynamic section's entries that
 * the option controls, the sections it adds, and that the program runs the
 * same.
 */
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ARCHES, type Arch, aarch64Sysroot, describeExit, exec, repoRoot, requireTools, showCommand, tmpDir, tool } from '../support/toolchain.js';

const TSLINK = path.join(repoRoot(), 'bin', 'tslink.js');

const MAIN = `
#include <math.h>
#include <stdio.h>
int main(int argc, char **argv) { printf("sqrt %.3f\\n", sqrt(argc + 1.0)); return 3; }
`;

interface Case {
  title: string;
  flags: string[];
  /** Dynamic tags to compare (their values, as llvm-readelf prints them). */
  tags: string[];
  /** Sections whose presence must match. */
  sections?: string[];
  /** More objects to link after main.o. */
  objs?: string[];
}

const CASES: Case[] = [
  { title: '-rpath adds DT_RUNPATH', flags: ['-Wl,-rpath,/opt/a:/opt/b', '-Wl,-rpath,/opt/c'], tags: ['RUNPATH'] },
  { title: '-z now sets BIND_NOW and NOW', flags: ['-Wl,-z,now'], tags: ['FLAGS', 'FLAGS_1', 'BIND_NOW'] },
  { title: '--hash-style=gnu writes only .gnu.hash', flags: ['-Wl,--hash-style=gnu'], tags: ['GNU_HASH', 'HASH'], sections: ['.gnu.hash', '.hash'] },
  { title: '--hash-style=sysv writes only .hash', flags: ['-Wl,--hash-style=sysv'], tags: ['GNU_HASH', 'HASH'], sections: ['.gnu.hash', '.hash'] },
  { title: '--as-needed drops libraries nothing uses; --no-as-needed keeps them', flags: ['-Wl,--as-needed', '-lm', '-lz', '-Wl,--no-as-needed', '-lrt'], tags: ['NEEDED'] },
  { title: '-z norelro: no PT_GNU_RELRO', flags: ['-Wl,-z,norelro'], tags: [], sections: [] },
  { title: '--export-dynamic exports main', flags: ['-Wl,--export-dynamic'], tags: [] },
  {
    title: '--as-needed with --gc-sections: a library only removed code uses is not needed',
    flags: ['-Wl,--gc-sections', '-Wl,--as-needed', '-lz', '-Wl,--no-as-needed'], tags: ['NEEDED'], objs: ['dead.o'],
  },
];

async function clang(arch: Arch, args: string[]): Promise<void> {
  const all = [`--target=${arch}-linux-gnu`, ...args];
  const r = await exec('clang', all, { timeoutMs: 120_000 });
  if (r.status !== 0) throw new Error(`${showCommand('clang', all)} failed (${describeExit(r)}):\n${r.stdout}${r.stderr}`);
}

function tagValues(readelf: string, tags: string[]): string[] {
  const out: string[] = [];
  for (const line of readelf.split('\n')) {
    const m = /^\s*0x[0-9a-f]+\s+\((\w+)\)\s+(.*)$/.exec(line);
    if (m && tags.includes(m[1])) out.push(`${m[1]} ${m[1].endsWith('HASH') ? 'present' : m[2].trim()}`);
    for (const t of tags) if (t === 'BIND_NOW' && m && /BIND_NOW/.test(m[2])) out.push('BIND_NOW flag');
  }
  return out;
}

for (const arch of ARCHES) {
  describe(`dynamic-linking options against ld.lld (${arch})`, function () {
    this.timeout(240_000);
    let work = '';
    before(async function () {
      await requireTools(['clang', 'ld.lld', 'llvm-readelf', ...(arch === 'aarch64' ? ['qemu-aarch64'] : [])]);
      work = tmpDir(`tslink-dynopts-${arch}`);
      fs.writeFileSync(path.join(work, 'main.c'), MAIN);
      await clang(arch, ['-O1', '-c', path.join(work, 'main.c'), '-o', path.join(work, 'main.o')]);
      // A function nothing calls, which alone uses zlib.
      fs.writeFileSync(path.join(work, 'dead.c'), 'const char *zlibVersion(void);\nconst char *unused_version(void) { return zlibVersion(); }\n');
      await clang(arch, ['-O1', '-ffunction-sections', '-c', path.join(work, 'dead.c'), '-o', path.join(work, 'dead.o')]);
    });
    after(function () {
      if (work && !process.env.TSLINK_KEEP_TMP) fs.rmSync(work, { recursive: true, force: true });
    });

    CASES.forEach((c, n) => {
      it(c.title, async function () {
        const out: Record<string, string> = {};
        for (const linker of ['tslink', 'ld.lld']) {
          out[linker] = path.join(work, `case${n}.${linker}`);
          const ld = linker === 'tslink' ? `--ld-path=${TSLINK}` : '-fuse-ld=lld';
          await clang(arch, [ld, path.join(work, 'main.o'), ...(c.objs ?? []).map((o) => path.join(work, o)), ...c.flags, '-lm', '-o', out[linker]]);
        }
        const ours = await tool('llvm-readelf', ['-d', '-S', '-l', '--dyn-syms', '--wide', out.tslink]);
        const theirs = await tool('llvm-readelf', ['-d', '-S', '-l', '--dyn-syms', '--wide', out['ld.lld']]);
        expect(tagValues(ours, c.tags), 'dynamic entries').to.deep.equal(tagValues(theirs, c.tags));
        for (const s of c.sections ?? []) {
          expect(ours.includes(` ${s} `), `${s} present`).to.equal(theirs.includes(` ${s} `));
        }
        expect(/GNU_RELRO/.test(ours), 'PT_GNU_RELRO').to.equal(/GNU_RELRO/.test(theirs));
        expect(/ main$/m.test(ours), 'main in .dynsym').to.equal(/ main$/m.test(theirs));
        const runIt = (p: string) => (arch === 'x86_64' ? exec(p, ['x']) : exec('qemu-aarch64', [...aarch64Sysroot(), p, 'x']));
        const [a, b] = [await runIt(out.tslink), await runIt(out['ld.lld'])];
        expect({ status: a.status, stdout: a.stdout }).to.deep.equal({ status: b.status, stdout: b.stdout });
        expect(b.stdout).to.equal('sqrt 1.732\n');
      });
    });
  });
}
