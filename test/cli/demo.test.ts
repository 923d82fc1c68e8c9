import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { repoRoot } from '../support/toolchain.js';

const run = promisify(execFile);

/** The README's main job: the demo links, patches, moves and falls back, and every program runs right. */
describe('tslink demo', () => {
  for (const arch of ['x86_64', 'aarch64']) {
    it(`runs on ${arch}: full, patched, patched with a move, fell back`, async () => {
      const { stdout } = await run('node', [`${repoRoot()}/bin/tslink.js`, 'demo', `--arch=${arch}`]);
      expect(stdout).to.match(/cold link[\s\S]*outcome: full link/);
      expect(stdout).to.match(/edit tbl_get[\s\S]*outcome: patched in place[\s\S]*every symbol kept its address/);
      expect(stdout).to.match(/grow tbl_sum[\s\S]*outcome: patched in place[\s\S]*moved: tbl_sum 0x[0-9a-f]+ -> 0x[0-9a-f]+/);
      expect(stdout).to.match(/feature_level strong[\s\S]*fell back to a full link: feature_level .* changed from weak to strong/);
      expect(stdout).to.contain('demo: every program ran with the expected status');
      expect(stdout).not.to.contain('WRONG');
    });
  }
});
