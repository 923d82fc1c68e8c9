/**
 * The hot-swap example (examples/hotswap): a host program that calls into a
 * plugin loaded with dlopen, and reloads the plugin when its file is
 * replaced. For each architecture and each linker under test:
 *
 *   1. copy the example to a temporary directory and build it with its own
 *      script: the host linked by ld.lld, the plugin (`-shared`) by the
 *      linker under test (tslink: `-Wl,--incremental,--explain`);
 *   2. start the host (AArch64 under qemu-aarch64) and wait for the
 *      plugin's first answer;
 *   3. edit plugin.c (a string constant and a number in a function body),
 *      and rebuild the plugin with the same linker while the host runs;
 *   4. expect the relink to have written a new file (another inode: a loaded
 *      plugin is never rewritten in place) and, for tslink, to have been
 *      patched; the host to reload it (generation 2) and print the new
 *      answer without a restart; and, told to stop by a stop file, to exit
 *      with status 0 having printed exactly the expected lines.
 *
 * Nothing here measures time: every wait polls the host's output, with
 * generous limits. Set TSLINK_KEEP_TMP=1 to keep the build directories.
 */
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  ARCHES,
  type Arch,
  type BackgroundProgram,
  describeExit,
  exec,
  repoRoot,
  requireTools,
  showCommand,
  startProgram,
  tmpDir,
} from '../support/toolchain.js';

const ROOT = repoRoot();
const EXAMPLE = path.join(ROOT, 'examples', 'hotswap');
const TSLINK = path.join(ROOT, 'bin', 'tslink.js');
const SOURCES = ['build.sh', 'host.c', 'plugin.c', 'plugin.h'];

type Linker = 'ld.lld' | 'tslink';

/** The linkers the plugin is relinked with while the host runs. */
const LINKERS: Linker[] = ['ld.lld', 'tslink'];

/** The edit: both are in-place changes of plugin.c (same-length string, another immediate). */
const EDITS: Array<[string, string]> = [
  ['"hello from the plugin"', '"howdy from the plugin"'],
  ['return 10;', 'return 20;'],
];
const FIRST_ANSWER = 'plugin says: hello from the plugin 1620';
const SECOND_ANSWER = 'plugin says: howdy from the plugin 3240';

/** The host stops by itself after this many polls (50 ms each) if the test never tells it to. */
const MAX_ITERATIONS = 12_000;

/** `sh build.sh --arch=ARCH --linker=... TARGET` in dir; returns its stdout and stderr; throws if it fails. */
async function build(dir: string, arch: Arch, linker: Linker, target: 'host' | 'plugin'): Promise<string> {
  const args = ['build.sh', `--arch=${arch}`, `--linker=${linker === 'ld.lld' ? 'lld' : TSLINK}`, target];
  const r = await exec('sh', args, { cwd: dir, timeoutMs: 180_000 });
  const output = `${r.stdout}${r.stderr}`;
  if (r.status !== 0) throw new Error(`${showCommand('sh', args)} in ${dir} failed (${describeExit(r)}):\n${output.trim()}`);
  return output;
}

function has(line: string): (stdout: string) => boolean {
  return (stdout) => stdout.split('\n').includes(line);
}

for (const arch of ARCHES) {
  describe(`hot-swapping a plugin: examples/hotswap (${arch})`, function () {
    this.timeout(300_000);

    before(async function () {
      await requireTools(['sh', 'clang', 'ld.lld', ...(arch === 'aarch64' ? ['qemu-aarch64'] : [])]);
    });

    for (const linker of LINKERS) {
      it(`the running host picks up the plugin relinked by ${linker}`, async function () {
        const dir = tmpDir(`tslink-hotswap-${arch}-${linker}`);
        let host: BackgroundProgram | undefined;
        try {
          for (const f of SOURCES) fs.copyFileSync(path.join(EXAMPLE, f), path.join(dir, f));
          await build(dir, arch, 'ld.lld', 'host');
          const first = await build(dir, arch, linker, 'plugin');
          if (linker === 'tslink') expect(first, 'the first link of the plugin has no previous output to patch').to.match(/^tslink: full:/m);

          const plugin = path.join(dir, 'plugin.so');
          const stop = path.join(dir, 'stop');
          host = startProgram(path.join(dir, 'host'), [plugin, String(MAX_ITERATIONS), stop], arch, { cwd: dir });
          await host.waitFor(`the first answer (${FIRST_ANSWER})`, has(FIRST_ANSWER));

          // Edit the plugin in place and rebuild it while the host runs.
          const src = path.join(dir, 'plugin.c');
          let text = fs.readFileSync(src, 'utf8');
          for (const [before, after] of EDITS) {
            expect(text, `plugin.c contains ${before}`).to.contain(before);
            text = text.replace(before, after);
          }
          fs.writeFileSync(src, text);
          const inodeBefore = fs.statSync(plugin).ino;
          const relink = await build(dir, arch, linker, 'plugin');
          expect(fs.statSync(plugin).ino, 'the relink wrote a new plugin.so and renamed it over the old one').to.not.equal(inodeBefore);
          if (linker === 'tslink') expect(relink, 'the relink of the edited plugin is patched').to.match(/^tslink: patched:/m);

          await host.waitFor('the reload', has('reloaded plugin (generation 2)'));
          await host.waitFor(`the new answer (${SECOND_ANSWER})`, has(SECOND_ANSWER));
          expect(host.exited(), `the host is still running:\n${host.stdout()}`).to.equal(false);

          fs.writeFileSync(stop, '');
          const r = await host.done;
          const report = `${describeExit(r)}\nstdout:\n${r.stdout}stderr:\n${r.stderr}`;
          expect(r.signal, report).to.equal(null);
          expect(r.status, report).to.equal(0);
          expect(r.stderr, report).to.equal('');
          const lines = r.stdout.trimEnd().split('\n');
          expect(lines.slice(0, 4), report).to.deep.equal([
            'loaded plugin (generation 1)',
            FIRST_ANSWER,
            'reloaded plugin (generation 2)',
            SECOND_ANSWER,
          ]);
          expect(lines.slice(4), report).to.have.length(1);
          expect(lines[4], report).to.match(/^host: stop file found after \d+ iterations$/);
        } finally {
          host?.kill();
          if (host) await host.done;
          if (process.env.TSLINK_KEEP_TMP) console.log(`kept ${dir}`);
          else fs.rmSync(dir, { recursive: true, force: true });
        }
      });
    }
  });
}
