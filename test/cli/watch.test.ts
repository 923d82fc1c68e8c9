/**
 * `tslink --watch`: the session stays in memory and relinks whenever an
 * input file changes. The test starts it on a small program, rebuilds one
 * unit twice (an edit within the function's slack, then a broken object,
 * then a fixed one), and checks each relink's printed outcome, that a failed
 * relink is reported without ending the watch, that the output runs as the
 * edit says each time, and that SIGTERM ends the watch with status 0. The
 * session runs in a child Node started without V8's memory reducer; a
 * child whose parent is killed outright ends too.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { exec, repoRoot, requireTools, startProgram, tmpDir, tool } from '../support/toolchain.js';

const TSLINK = path.join(repoRoot(), 'bin', 'tslink.js');

const START = `
void _start(void) {
  extern int value(void);
  int v = value();
  __asm__ volatile("mov $60, %%eax\\n syscall" :: "D"(v) : "rax", "rcx", "r11", "memory");
  __builtin_unreachable();
}
`;

describe('tslink --watch', function () {
  this.timeout(240_000);
  let work = '';
  before(async function () {
    await requireTools(['clang']);
    work = tmpDir('tslink-watch');
  });
  after(function () {
    if (work && !process.env.TSLINK_KEEP_TMP) fs.rmSync(work, { recursive: true, force: true });
  });

  it('relinks on every change, patching in place, reports a failed relink and goes on, and ends on SIGTERM', async function () {
    const cc = async (name: string, text: string) => {
      const src = path.join(work, `${name}.c`);
      fs.writeFileSync(src, text);
      // Compile beside the object, then rename over it, as build systems write outputs.
      await tool('clang', ['--target=x86_64-linux-gnu', '-O1', '-ffreestanding', '-fno-pic', '-ffunction-sections', '-c', src, '-o', path.join(work, `${name}.tmp.o`)]);
      fs.renameSync(path.join(work, `${name}.tmp.o`), path.join(work, `${name}.o`));
    };
    await cc('start', START);
    await cc('value', 'int value(void) { return 42; }\n');
    const out = path.join(work, 'prog');
    const w = startProgram(TSLINK, ['--watch', '-static', '-e', '_start', 'start.o', 'value.o', '-o', out], 'x86_64', { cwd: work });
    try {
      await w.waitFor('the watch to start', (s) => /tslink: watching 2 inputs/.test(s));
      expect((await exec(out, [])).status).to.equal(42);
      // The session runs in a child Node without V8's memory reducer (bin/tslink.js).
      const children = await exec('ps', ['-o', 'args=', '--ppid', String(w.pid)]);
      expect(children.stdout, 'the watching process').to.match(/--no-memory-reducer .*tslink\.js --watch/);

      await cc('value', 'int value(void) { return 57; }\n');
      await w.waitFor('the first relink', (s) => /tslink: patched \(\d+ bytes written\) in [\d.]+ ms/.test(s));
      expect((await exec(out, [])).status).to.equal(57);

      fs.writeFileSync(path.join(work, 'value.o.broken'), 'not an object');
      fs.renameSync(path.join(work, 'value.o.broken'), path.join(work, 'value.o'));
      await w.waitFor('the failed relink', () => /tslink: error: .*value\.o/.test(w.stderr()));
      expect(w.exited(), 'still watching after a failed relink').to.equal(false);

      await cc('value', 'int value(void) { return 61; }\n');
      await w.waitFor('the relink after the fix', (s) => (s.match(/^tslink: (patched|full|fell-back-full)/gm) ?? []).length >= 2);
      expect((await exec(out, [])).status).to.equal(61);
      w.kill('SIGTERM');
      const r = await w.done;
      expect(r.status, `${r.stdout}\n${r.stderr}`).to.equal(0);
    } finally {
      w.kill();
    }
  });

  it('Ctrl-C (SIGINT to the whole process group) ends the watch with status 0, every time', async function () {
    fs.writeFileSync(path.join(work, 'c.c'), `${START}int value(void) { return 2; }\n`);
    await tool('clang', ['--target=x86_64-linux-gnu', '-ffreestanding', '-fno-pic', '-c', path.join(work, 'c.c'), '-o', path.join(work, 'c.o')]);
    const outcomes: string[] = [];
    for (let i = 0; i < 8; i++) {
      // A process group of its own, as a shell gives a foreground job; the terminal's Ctrl-C goes to all of it.
      const p = spawn(process.execPath, [TSLINK, '--watch', '-static', '-e', '_start', 'c.o', '-o', 'c'], { cwd: work, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      p.stdout.on('data', (b: Buffer) => (out += b.toString()));
      const ended = new Promise<string>((resolve) => p.on('exit', (code, signal) => resolve(signal ? `signal ${signal}` : `status ${code}`)));
      for (let t = 0; t < 600 && !/tslink: watching 1 inputs/.test(out); t++) await new Promise((r) => setTimeout(r, 50));
      process.kill(-p.pid!, 'SIGINT');
      outcomes.push(await ended);
    }
    expect(outcomes).to.deep.equal(new Array(8).fill('status 0'));
  });

  it('the watching child ends when its parent is killed outright', async function () {
    fs.writeFileSync(path.join(work, 'k.c'), `${START}int value(void) { return 1; }\n`);
    await tool('clang', ['--target=x86_64-linux-gnu', '-ffreestanding', '-fno-pic', '-c', path.join(work, 'k.c'), '-o', path.join(work, 'k.o')]);
    const w = startProgram(TSLINK, ['--watch', '-static', '-e', '_start', 'k.o', '-o', path.join(work, 'k')], 'x86_64', { cwd: work });
    try {
      await w.waitFor('the watch to start', (s) => /tslink: watching 1 inputs/.test(s));
      const pid = Number((await exec('ps', ['-o', 'pid=', '--ppid', String(w.pid)])).stdout.trim());
      expect(pid, 'the watching child').to.be.greaterThan(0);
      w.kill('SIGKILL');
      await w.done;
      const alive = () => {
        try {
          process.kill(pid, 0);
          return true;
        } catch {
          return false;
        }
      };
      for (let i = 0; i < 100 && alive(); i++) await new Promise((r) => setTimeout(r, 100));
      expect(alive(), 'the child is gone within 10 s').to.equal(false);
    } finally {
      w.kill();
    }
  });
});
