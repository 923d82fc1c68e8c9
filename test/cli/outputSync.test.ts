import { expect } from 'chai';
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import * as path from 'node:path';
import { main } from '../../src/cli/main.js';
import { LINK_FLAGS, compile, requireTools, run, tmpDir } from '../support/toolchain.js';

/**
 * The output reaches the disk (fsync) before an incremental link writes the
 * state that names it; a plain link, which keeps no state, leaves the writing
 * to the kernel, as ld.lld does. The links run in this process, with
 * fs.fsyncSync counting the files it syncs (syncBuiltinESMExports passes the
 * replacement on to the CLI's import of it).
 */
describe('command line: when the output is synced to the disk', function () {
  this.timeout(120_000);
  const dir = tmpDir('tslink-sync-');
  const real = fs.fsyncSync;
  let synced: string[] = [];
  const obj = path.join(dir, 'prog.o');
  const out = path.join(dir, 'prog');

  before(async function () {
    await requireTools(['clang']);
    fs.writeFileSync(path.join(dir, 'prog.c'), `int value = 7;
void _start(void) { __asm__ volatile("syscall" :: "a"(60), "D"(value)); for (;;) {} }\n`);
    await compile(path.join(dir, 'prog.c'), obj, 'x86_64');
    fs.fsyncSync = (fd: number) => {
      synced.push(fs.readlinkSync(`/proc/self/fd/${fd}`));
      real(fd);
    };
    syncBuiltinESMExports();
  });
  after(() => {
    fs.fsyncSync = real;
    syncBuiltinESMExports();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(() => {
    synced = [];
  });

  it('a plain link does not sync its output', async () => {
    expect(await main([...LINK_FLAGS, obj, '-o', out])).to.equal(0);
    expect((await run(out, 'x86_64')).status).to.equal(7);
    expect(synced).to.deep.equal([]);
  });

  it('an incremental link syncs the output it names in its state, in full and when patched', async () => {
    const routes: string[] = [];
    expect(await main(['--incremental', ...LINK_FLAGS, obj, '-o', out], (r) => routes.push(r))).to.equal(0);
    // The output, and the shadow, a copy of it (an executable the host runs: the shadow is on), each
    // written beside its name and renamed over it: the files synced were their temporaries.
    expect(synced.map((f) => path.basename(f).replace(/-\d+$/, '-PID')), 'the full link').to.deep.equal(['.prog.tslink-tmp-PID', '.prog.tslink-shadow.tslink-tmp-PID']);
    expect(path.dirname(synced[0])).to.equal(fs.realpathSync(dir));
    synced = [];
    // An edit within the slack: the value 7 becomes 9, same size.
    fs.writeFileSync(path.join(dir, 'prog.c'), `int value = 9;
void _start(void) { __asm__ volatile("syscall" :: "a"(60), "D"(value)); for (;;) {} }\n`);
    await compile(path.join(dir, 'prog.c'), obj, 'x86_64');
    expect(await main(['--incremental', ...LINK_FLAGS, obj, '-o', out], (r) => routes.push(r))).to.equal(0);
    expect(routes).to.deep.equal(['incremental-full', 'patched']);
    expect(synced.length, 'the patch').to.be.greaterThan(0);
    expect((await run(out, 'x86_64')).status).to.equal(9);
  });
});
