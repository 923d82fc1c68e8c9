/**
 * --watch asks the kernel which inputs may have changed (InputWatch), so that
 * it need not look at every input on every poll.
 */
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { InputWatch } from '../../src/cli/inputWatch.js';
import { tmpDir } from '../support/toolchain.js';

/** Asks until `take` says yes, for up to 3 s (the kernel's event arrives through the event loop). */
async function eventually(w: InputWatch, i: number): Promise<boolean> {
  for (let t = 0; t < 300; t++) {
    if (w.take(i)) return true;
    await new Promise((r) => setTimeout(r, 10));
  }
  return false;
}

describe('--watch: which inputs may have changed', function () {
  this.timeout(30_000);

  it('names an input written in place and one renamed over, once each, and not the others', async () => {
    const dir = tmpDir('input-watch-');
    const other = fs.mkdtempSync(path.join(dir, 'lib-'));
    const paths = [path.join(dir, 'a.o'), path.join(dir, 'b.o'), path.join(dir, 'c.o'), path.join(other, 'd.a')];
    for (const p of paths) fs.writeFileSync(p, 'old');
    const w = new InputWatch(paths);
    try {
      for (let i = 0; i < paths.length; i++) expect(w.take(i), `input ${i} before any change`).to.equal(false);
      fs.writeFileSync(paths[0], 'new, in place');
      fs.writeFileSync(path.join(dir, '.b.o.tmp'), 'new, renamed');
      fs.renameSync(path.join(dir, '.b.o.tmp'), paths[1]);
      fs.writeFileSync(paths[3], 'new library');
      expect(await eventually(w, 0), 'written in place').to.equal(true);
      expect(await eventually(w, 1), 'renamed over').to.equal(true);
      expect(await eventually(w, 3), 'in another directory').to.equal(true);
      await new Promise((r) => setTimeout(r, 100));
      expect(w.take(0), 'asked about once').to.equal(false);
      expect(w.take(2), 'untouched').to.equal(false);
    } finally {
      w.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('an input whose directory cannot be watched is always named', () => {
    const w = new InputWatch(['/nonexistent-tslink-dir/x.o']);
    try {
      expect(w.take(0)).to.equal(true);
      expect(w.take(0)).to.equal(true);
    } finally {
      w.close();
    }
  });
});
