/**
 * Transactional writes through the command line (DESIGN.md section 5: "A
 * patch is all or nothing"; section 8: `tslink --incremental --explain`):
 *
 *  - a running program: the x86-64 program sleeps ~2 s (raw nanosleep) and
 *    then exits with compute(); while it runs, an edit is relinked (patched).
 *    A second edit is relinked while it still runs (its file is now the
 *    output's shadow, which the patch must not write into). The running
 *    process still exits with the OLD status (its mapping was not rewritten:
 *    each patch wrote a copy and renamed it over the output), the
 *    output run again gives the NEW status, and nothing fails with ETXTBSY;
 *  - a failed relink (an edit that introduces an undefined symbol) exits 1
 *    and leaves the output and the state byte-identical; the next relink with
 *    a good edit patches against the unchanged state;
 *  - the state is written after the image: an interruption between the two is
 *    simulated by restoring the previous state after a successful patch (the
 *    image new, the state old); the next link falls back, saying the output
 *    no longer matches, and its result runs correctly;
 *  - the output's shadow (the image before the last patch, --shadow-output):
 *    patches write through it, byte for byte as patches onto a copy of the
 *    output; a shadow that a running program executes (ETXTBSY) or that was
 *    changed behind tslink's back is not used; a full link makes it a copy
 *    of its output, so that the first patch writes through it too;
 *  - after each, the output directory holds the output, its state, its
 *    shadow, and no temporary file.
 *
 * The objects are rebuilt in place in a build directory (a.o is overwritten
 * by each edit), as a build system does; the output lives in its own
 * directory. Set TSLINK_KEEP_TMP=1 to keep the temporary directory.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { type ExecResult, compile, repoRoot, requireTools, tmpDir } from '../support/toolchain.js';
import { readBytes, runStatus, sameBytes, tslinkCli } from './support.js';

const KEEP = process.env.TSLINK_KEEP_TMP === '1';
const arch = 'x86_64';
const PROGRAMS = path.join(repoRoot(), 'test', 'programs');

/** main.c: sleeps 2 s (nanosleep, system call 35), then exits with compute(). */
const MAIN = `#include "start.h"
int compute(void);
struct timespec_ { long sec, nsec; };
int test_main(void) {
  struct timespec_ t = {2, 0};
  long r;
  __asm__ volatile("syscall" : "=a"(r) : "a"(35L), "D"(&t), "S"(0L) : "rcx", "r11", "memory");
  return compute();
}
`;

/** a.c: compute() returns k (hidden from the optimiser, so that an edit changes only an immediate). */
const COMPUTE = (k: number) => `int compute(void) {
  int v = ${k};
  __asm__("" : "+r"(v));
  return v;
}
`;

/** compute() grown past its slack (200 bytes of nops), so that it moves: a patch that writes elsewhere. */
const GROWN = (k: number) => `int compute(void) {
  int v = ${k};
  __asm__("" : "+r"(v));
  __asm__ volatile(".fill 200, 1, 0x90");
  return v;
}
`;

/** An edit that refers to a symbol nothing defines. */
const BROKEN = `int nowhere_defined(void);
int compute(void) { return nowhere_defined(); }
`;

describe('incremental linking: transactional writes through the command line (x86_64)', function () {
  this.timeout(90_000);
  let root = '';
  /** Objects by variant: main, and a.c with compute() = 11, 22, 33, 44, 55, and the broken edit. */
  const objs: Record<string, string> = {};

  before(async function () {
    await requireTools(['clang', 'ld.lld']);
    root = tmpDir('tslink-transactional');
    if (KEEP) console.log(`transactional.test: temporary directory ${root}`);
    const srcs: Record<string, string> = { main: MAIN, broken: BROKEN };
    for (const k of [11, 22, 33, 44, 55]) srcs[`a${k}`] = COMPUTE(k);
    srcs.grown66 = GROWN(66);
    await Promise.all(
      Object.entries(srcs).map(async ([name, text]) => {
        const dir = path.join(root, 'objs', name);
        fs.mkdirSync(dir, { recursive: true });
        // The same file name for every variant of a.c, so the objects differ only where the edit does.
        const src = path.join(dir, name === 'main' ? 'main.c' : 'a.c');
        fs.writeFileSync(src, text);
        objs[name] = path.join(dir, name === 'main' ? 'main.o' : 'a.o');
        await compile(src, objs[name], arch, ['-fno-pic', '-I', PROGRAMS]);
      }),
    );
  });

  after(function () {
    if (root && !KEEP) fs.rmSync(root, { recursive: true, force: true });
  });

  /** A scenario's directories: build/ (main.o, a.o rebuilt in place) and out/ (prog, its state). */
  function scenario(name: string) {
    const build = path.join(root, name, 'build');
    const outDir = path.join(root, name, 'out');
    fs.mkdirSync(build, { recursive: true });
    fs.mkdirSync(outDir, { recursive: true });
    fs.copyFileSync(objs.main, path.join(build, 'main.o'));
    const out = path.join(outDir, 'prog');
    const state = `${out}.tslink-state`;
    /** "Rebuilds" a.o: the variant's bytes, written in place. */
    const edit = (variant: string) => fs.writeFileSync(path.join(build, 'a.o'), fs.readFileSync(objs[variant]));
    const link = (extra: string[] = []): Promise<ExecResult> =>
      tslinkCli(['--incremental', '--explain', ...extra, '-static', '-e', '_start', '-o', out, path.join(build, 'main.o'), path.join(build, 'a.o')], build);
    /**
     * The output directory holds exactly the output, its state and the state's records file and, where
     * the shadow is on, the output's shadow (the image before the last patch, or a copy of the output
     * after a full link): no temporary file is left.
     */
    const expectNoTemporaries = (when: string) => {
      const files = fs.readdirSync(outDir).sort();
      // The shadow and the inputs' heads are there when a link wrote them (the shadow on; inputs old enough to trust).
      const maybe = (name: string) => (files.includes(name) ? [name] : []);
      const want = ['prog', ...maybe('prog.tslink-shadow'), 'prog.tslink-state', ...maybe('prog.tslink-state.heads'), 'prog.tslink-state.records'];
      expect(files, `the output directory ${when}`).to.deep.equal(want);
    };
    return { build, outDir, out, state, edit, link, expectNoTemporaries };
  }

  function outcomeOf(r: ExecResult): string {
    const m = /^tslink: (full|patched|fell-back-full)\b.*$/m.exec(r.stdout);
    return m ? m[0] : `(no outcome line; status ${r.status}; stdout: ${r.stdout.trim()}; stderr: ${r.stderr.trim()})`;
  }

  async function expectLink(link: () => Promise<ExecResult>, outcome: RegExp, what: string): Promise<ExecResult> {
    const r = await link();
    expect(r.status, `${what}: tslink exits 0 (stderr: ${r.stderr.trim()})`).to.equal(0);
    expect(r.stderr, `${what}: no error output`).to.not.match(/ETXTBSY|text file busy|error/i);
    expect(outcomeOf(r), `${what}: the --explain line`).to.match(outcome);
    return r;
  }

  it('relinking while the program runs: the running process keeps the old code, the output has the new, no ETXTBSY', async function () {
    const s = scenario('running');
    s.edit('a11');
    await expectLink(s.link, /^tslink: full:/, 'the first link');
    expect(await runStatus(s.out, arch), 'the first program exits with').to.equal(11);

    // Start it; it sleeps 2 s before computing its status.
    const child = spawn(s.out, [], { stdio: 'ignore' });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
      child.on('error', reject);
      child.on('exit', (code, signal) => resolve({ code, signal }));
    });
    await new Promise<void>((resolve, reject) => {
      child.on('spawn', () => resolve());
      child.on('error', reject);
    });
    await new Promise((r) => setTimeout(r, 200));
    const exeBefore = fs.readlinkSync(`/proc/${child.pid}/exe`);
    expect(exeBefore, 'the running process runs the output').to.equal(s.out);

    s.edit('a22');
    const relink = await expectLink(s.link, /^tslink: patched:/, 'the relink while the program runs');
    expect(relink.stderr).to.equal('');
    // The running program's file is now the output's shadow: the next patch cannot write into it (ETXTBSY)
    // and copies instead.
    s.edit('a33');
    const again = await expectLink(s.link, /^tslink: patched:/, 'a second relink while the program runs');
    expect(again.stderr).to.equal('');
    // The output was replaced by a new file: the running process maps the old one, now unlinked.
    let exeDuring = '';
    try {
      exeDuring = fs.readlinkSync(`/proc/${child.pid}/exe`);
    } catch {
      exeDuring = '(already exited)';
    }
    const end = await exited;
    expect(end.signal, 'the running process is not killed').to.equal(null);
    expect(end.code, 'the process started before the relink exits with the OLD status').to.equal(11);
    expect(exeDuring, 'while it ran, its executable was the old, replaced file').to.match(/\(deleted\)$|already exited/);
    expect(await runStatus(s.out, arch), 'the output run again exits with the NEW status').to.equal(33);
    s.expectNoTemporaries('after the relink');
  });

  it('a patch writes through the shadow (the image before the last one), byte for byte as onto a copy; a changed shadow is not used', async function () {
    const a = scenario('shadow');
    const b = scenario('copy');
    const shadow = `${a.out}.tslink-shadow`;
    const step = async (variant: string, outcome: RegExp, what: string) => {
      a.edit(variant);
      b.edit(variant);
      await expectLink(() => a.link(), outcome, `${what}, with the shadow`);
      await expectLink(() => b.link(['--no-shadow-output']), outcome, `${what}, without`);
      expect(sameBytes(readBytes(a.out), readBytes(b.out)), `${what}: the same image either way`).to.equal(true);
      expect(fs.existsSync(`${b.out}.tslink-shadow`), `${what}: --no-shadow-output keeps none`).to.equal(false);
    };
    await step('a11', /^tslink: full:/, 'the first link');
    // A full link leaves a shadow: a copy of the output (another file), so that the first patch writes through it too.
    expect(sameBytes(readBytes(shadow), readBytes(a.out)), 'a full link leaves a copy of the output as the shadow').to.equal(true);
    expect(fs.statSync(shadow).ino).to.not.equal(fs.statSync(a.out).ino);
    // Edits that write different ranges (grown66 moves compute()), so that bringing the shadow up to date
    // with the last patch's ranges matters.
    for (const [i, v] of ['a22', 'a33', 'grown66', 'a44'].entries()) {
      const before = { out: fs.statSync(a.out).ino, shadow: fs.existsSync(shadow) ? fs.statSync(shadow).ino : -1 };
      await step(v, /^tslink: patched:/, `patch ${i + 1} (${v})`);
      expect(fs.statSync(shadow).ino, `patch ${i + 1}: the previous output is the shadow now`).to.equal(before.out);
      expect(fs.statSync(a.out).ino, `patch ${i + 1}: the output is the shadow brought up to date`).to.equal(before.shadow);
      expect(await runStatus(a.out, arch), `patch ${i + 1}: the program exits with`).to.equal(Number(v.replace(/\D/g, '')));
    }
    a.expectNoTemporaries('after the patches');

    // The shadow rewritten behind tslink's back (the same bytes, a new modification time): not trusted, copied instead.
    const shadowBefore = fs.statSync(shadow).ino;
    fs.writeFileSync(shadow, readBytes(shadow));
    await step('a55', /^tslink: patched:/, 'a patch after the shadow was rewritten');
    expect(fs.statSync(a.out).ino, 'the output is a copy, not the rewritten shadow').to.not.equal(shadowBefore);
    expect(await runStatus(a.out, arch)).to.equal(55);

    // A full link replaces the shadow with a copy of its own output.
    a.edit('a11');
    await expectLink(() => a.link(['--code-slack=10']), /^tslink: fell-back-full:/, 'a link with other options');
    expect(sameBytes(readBytes(shadow), readBytes(a.out)), 'a full link makes the shadow a copy of its output').to.equal(true);
    a.expectNoTemporaries('after the full link');
  });

  it('a failed relink leaves the output and the state byte-identical, and the next good edit patches', async function () {
    const s = scenario('failed');
    s.edit('a11');
    await expectLink(s.link, /^tslink: full:/, 'the first link');
    s.edit('a22');
    await expectLink(s.link, /^tslink: patched:/, 'a good edit');
    const image = readBytes(s.out);
    const state = readBytes(s.state);

    s.edit('broken');
    const r = await s.link();
    expect(r.status, `the relink of an edit with an undefined symbol exits 1 (stdout: ${r.stdout.trim()})`).to.equal(1);
    expect(r.stderr, 'the error names the undefined symbol').to.match(/nowhere_defined/);
    expect(sameBytes(readBytes(s.out), image), 'the output is byte-identical to before the failed relink').to.equal(true);
    expect(sameBytes(readBytes(s.state), state), 'the state is byte-identical to before the failed relink').to.equal(true);
    s.expectNoTemporaries('after the failed relink');
    expect(await runStatus(s.out, arch), 'the output still runs as before').to.equal(22);

    s.edit('a33');
    await expectLink(s.link, /^tslink: patched:/, 'the next good edit, against the unchanged state');
    expect(await runStatus(s.out, arch), 'the patched output exits with').to.equal(33);
    s.expectNoTemporaries('after the good edit');
  });

  it('a relink reads the rebuilt input only, and a no-op relink reads nothing, nor opens an input (file identities in the state)', async function () {
    const s = scenario('reads');
    s.edit('a11');
    // The state trusts a file's identity only when its times were 2 s old when it was read.
    const settle = () => new Promise((r) => setTimeout(r, 2100));
    await settle();
    await expectLink(s.link, /^tslink: full:/, 'the first link');
    const read = (r: ExecResult) => {
      const m = /(\d+) input bytes read, (\d+) bytes of the previous output read, (\d+) of (\d+) input files opened/.exec(r.stdout);
      expect(m, `the --explain line counts what was read: ${r.stdout}`).to.not.equal(null);
      expect(Number(m![4]), 'input files looked at').to.be.greaterThan(1);
      return { inputs: Number(m![1]), output: Number(m![2]), opened: Number(m![3]) };
    };
    s.edit('a22');
    const size = fs.statSync(path.join(s.build, 'a.o')).size;
    const r1 = read(await expectLink(s.link, /^tslink: patched:/, 'the relink of the rebuilt a.o'));
    expect(r1.inputs, 'input bytes read: a.o, not main.o').to.equal(size);
    expect(r1.opened, 'input files opened: a.o (the others\' first bytes are known by their identities)').to.equal(1);
    expect(await runStatus(s.out, arch)).to.equal(22);
    await settle();
    // a.o was too new to trust when the last link read it: this link reads it once more (and records it).
    const r2 = read(await expectLink(s.link, /^tslink: patched: 0 bytes/, 'a no-op relink'));
    expect(r2, 'a no-op relink reads a.o, which was too new to trust, and none of the previous output').to.deep.equal({ inputs: size, output: 0, opened: 1 });
    const r3 = read(await expectLink(s.link, /^tslink: patched: 0 bytes/, 'another no-op relink'));
    expect(r3, 'then a no-op relink reads nothing and opens no input').to.deep.equal({ inputs: 0, output: 0, opened: 0 });
    expect(await runStatus(s.out, arch)).to.equal(22);
    // The output replaced behind tslink's back (another inode, same bytes): read whole, checked, still patched.
    const image = readBytes(s.out);
    fs.rmSync(s.out);
    fs.writeFileSync(s.out, image, { mode: 0o755 });
    const r4 = read(await expectLink(s.link, /^tslink: patched:/, 'a relink after the output was rewritten'));
    expect(r4.output, 'the previous output is read whole').to.equal(image.length);
    s.expectNoTemporaries('after the relinks');
  });

  it('an image newer than its state (an interruption between the two writes) falls back, and the result runs', async function () {
    const s = scenario('interrupted');
    s.edit('a11');
    await expectLink(s.link, /^tslink: full:/, 'the first link');
    const oldState = readBytes(s.state);
    s.edit('a22');
    await expectLink(s.link, /^tslink: patched:/, 'a good edit');
    expect(await runStatus(s.out, arch)).to.equal(22);
    s.expectNoTemporaries('after the patch');

    // The image is new, the state old: as if the link had stopped between writing one and the other.
    fs.writeFileSync(s.state, oldState);
    s.edit('a44');
    const r = await expectLink(s.link, /^tslink: fell-back-full:/, 'the next link');
    expect(outcomeOf(r), 'the reason says the output no longer matches the state').to.match(/output no longer matches/);
    expect(await runStatus(s.out, arch), 'the relinked output exits with').to.equal(44);
    s.expectNoTemporaries('after the fall-back');

    // And the state it wrote is good again: the next edit patches.
    s.edit('a55');
    await expectLink(s.link, /^tslink: patched:/, 'the edit after the fall-back');
    expect(await runStatus(s.out, arch), 'the patched output exits with').to.equal(55);
    s.expectNoTemporaries('after the last patch');
  });
});
