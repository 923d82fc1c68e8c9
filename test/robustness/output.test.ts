/**
 * The output file (doc/robustness.md, "The output file"): created with the
 * executable bits and the umask as ld.lld creates it, on a full link and on
 * a patch alike (whatever mode the previous output had), and a failed link
 * leaves the previous output and state as they were, with no temporary
 * file beside them.
 */
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { exec, requireTools } from '../support/toolchain.js';
import { builds, linkArgs, readBytes, stage, strayTemps, tslink, workRoot } from './support.js';

const ARCH = 'x86_64' as const;
const mode = (f: string) => (fs.statSync(f).mode & 0o7777).toString(8);

function lld(args: string[], cwd: string, umask: string) {
  return exec('sh', ['-c', `umask ${umask} && exec ld.lld "$@"`, 'sh', ...args], { cwd });
}

describe('robustness: the output file', function () {
  this.timeout(300_000);
  const root = workRoot('tslink-output');
  after(() => root.cleanup());
  let files: Record<string, string>;
  let editLib: string;

  before(async function () {
    await requireTools(['clang', 'llvm-ar', 'ld.lld']);
    const b = await builds(ARCH, path.join(root.dir, 'fx'), { base: {}, edit: { table: 'edit-inslack' } });
    files = { 'app_a.o': b.base.apps.app_a, 'libcore.a': b.base.libcore };
    editLib = b.edit.libcore;
  });

  for (const umask of ['022', '077', '002']) {
    it(`umask ${umask}: a full link and a patch give the mode ld.lld gives, whatever the previous output's mode`, async function () {
      const dir = stage(path.join(root.dir, `umask-${umask}`), files);
      const inputs = ['app_a.o', 'libcore.a'];
      const ld = await lld(['-static', '-e', '_start', '-o', 'lld.out', ...inputs], dir, umask);
      expect(ld.status, ld.stderr).to.equal(0);
      const r1 = await tslink(linkArgs(ARCH, 'out', inputs), dir, { umask });
      expect(r1.stdout).to.match(/^tslink: full:/);
      expect(mode(path.join(dir, 'out')), 'a full link').to.equal(mode(path.join(dir, 'lld.out')));

      // The previous outputs lose their executable bits; ld.lld's next output has them again.
      fs.chmodSync(path.join(dir, 'out'), 0o640);
      fs.chmodSync(path.join(dir, 'lld.out'), 0o640);
      fs.copyFileSync(editLib, path.join(dir, 'libcore.a'));
      const ld2 = await lld(['-static', '-e', '_start', '-o', 'lld.out', ...inputs], dir, umask);
      expect(ld2.status, ld2.stderr).to.equal(0);
      const r2 = await tslink(linkArgs(ARCH, 'out', inputs), dir, { umask });
      expect(r2.stdout).to.match(/^tslink: patched:/);
      expect(mode(path.join(dir, 'out')), 'a patch').to.equal(mode(path.join(dir, 'lld.out')));
      expect(strayTemps(dir)).to.deep.equal([]);
    });
  }

  it('a failed incremental link leaves the output and the state as they were, and no temporary file', async function () {
    const dir = stage(path.join(root.dir, 'failed'), files);
    const inputs = ['app_a.o', 'libcore.a'];
    await tslink(linkArgs(ARCH, 'out', inputs), dir);
    const image = readBytes(path.join(dir, 'out'));
    const state = readBytes(path.join(dir, 'out.tslink-state'));
    const before = mode(path.join(dir, 'out'));
    // app_a.o alone: its references to libcore.a are undefined.
    const r = await tslink(linkArgs(ARCH, 'out', ['app_a.o']), dir);
    expect(r.status).to.equal(1);
    expect(r.stderr).to.match(/^tslink: error: undefined symbol: /);
    expect(Buffer.compare(readBytes(path.join(dir, 'out')), image)).to.equal(0);
    expect(Buffer.compare(readBytes(path.join(dir, 'out.tslink-state')), state)).to.equal(0);
    expect(mode(path.join(dir, 'out'))).to.equal(before);
    expect(strayTemps(dir)).to.deep.equal([]);
  });

  it('an output that cannot be written is an error naming it, with no temporary file', async function () {
    const dir = stage(path.join(root.dir, 'unwritable'), files);
    fs.mkdirSync(path.join(dir, 'out'));
    const r = await tslink(linkArgs(ARCH, 'out', ['app_a.o', 'libcore.a']), dir);
    expect(r.status).to.equal(1);
    expect(r.stderr).to.match(/^tslink: error: cannot write output file out: /);
    expect(strayTemps(dir)).to.deep.equal([]);
  });
});
