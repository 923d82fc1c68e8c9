/**
 * Two links to the same output at once (doc/robustness.md, "Concurrent
 * links"). tslink writes the image to a temporary file and renames it over
 * the output, so whatever the interleaving the output is byte-identical to
 * what one of the two links would have written alone (or after the other),
 * and the next incremental link gives a correct program.
 *
 * A patches app_a (libcore.a edited in place: table.edit-inslack); B links
 * app_b (a full link: a different program). Both start from app_a's base
 * image and state.
 */
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { EXPECTED_STATUS } from '../../src/cli/fixture.js';
import { requireTools } from '../support/toolchain.js';
import {
  builds, linkArgs, mustLink, random, readBytes, stage, status, strayTemps, tslink, whichImage, workRoot,
} from './support.js';

const ARCH = 'x86_64' as const;
const PAIRS = Number(process.env.TSLINK_CONCURRENT_PAIRS ?? 30);

describe('robustness: concurrent links to one output', function () {
  this.timeout(600_000);
  const root = workRoot('tslink-concurrency');
  after(() => root.cleanup());

  it(`${PAIRS} concurrent pairs of different links: the output is always one link's complete image, and the next link is correct`, async function () {
    await requireTools(['clang', 'llvm-ar']);
    const fx = await builds(ARCH, path.join(root.dir, 'fx'), { base: {}, edit: { table: 'edit-inslack' } });
    const files = {
      'a/app_a.o': fx.base.apps.app_a,
      'a/libcore.a': fx.base.libcore,
      'b/app_b.o': fx.base.apps.app_b,
      'b/libcore.a': fx.base.libcore,
    };
    const A = linkArgs(ARCH, 'out', ['a/app_a.o', 'a/libcore.a']);
    const B = linkArgs(ARCH, 'out', ['b/app_b.o', 'b/libcore.a']);

    // The reference images: every order in which the two can run one after the other.
    const ref = stage(path.join(root.dir, 'ref'), files);
    const out = path.join(ref, 'out');
    const state = `${out}.tslink-state`;
    const put = (image: Uint8Array, st: Uint8Array | null) => {
      fs.writeFileSync(out, image, { mode: 0o755 });
      if (st) fs.writeFileSync(state, st);
      else fs.rmSync(state, { force: true });
    };
    const take = () => ({ image: readBytes(out), state: readBytes(state) });
    expect(await mustLink(A, ref)).to.match(/^tslink: full:/);
    const base = take();
    fs.copyFileSync(fx.edit.libcore, path.join(ref, 'a/libcore.a'));
    expect(await mustLink(A, ref), 'A patches the base image').to.match(/^tslink: patched:/);
    const aPatch = take();
    put(base.image, base.state);
    expect(await mustLink(B, ref), 'B is a full link').to.match(/^tslink: fell-back-full:/);
    const bFull = take();
    await mustLink(A, ref);
    const aAfterB = take();
    put(aPatch.image, aPatch.state);
    await mustLink(B, ref);
    const bAfterA = take();
    put(base.image, null);
    expect(await mustLink(A, ref)).to.match(/^tslink: full:/);
    const aFull = take();
    const candidates = { aPatch: aPatch.image, bFull: bFull.image, aAfterB: aAfterB.image, bAfterA: bAfterA.image, aFull: aFull.image };

    const work = stage(path.join(root.dir, 'work'), { ...files, 'a/libcore.a': fx.edit.libcore });
    const wout = path.join(work, 'out');
    const rnd = random(0x5eed);
    const seen: Record<string, number> = {};
    for (let i = 0; i < PAIRS; i++) {
      fs.writeFileSync(wout, base.image, { mode: 0o755 });
      fs.writeFileSync(`${wout}.tslink-state`, base.state);
      // Who starts first, and by how much (ms): both orders, from far apart to simultaneous.
      const stagger = Math.round((rnd() * 2 - 1) * 120);
      const later = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));
      const [ra, rb] = await Promise.all([later(-stagger).then(() => tslink(A, work)), later(stagger).then(() => tslink(B, work))]);
      expect(ra.status, `pair ${i}: A: ${ra.stderr}`).to.equal(0);
      expect(rb.status, `pair ${i}: B: ${rb.stderr}`).to.equal(0);
      const got = whichImage(readBytes(wout), candidates);
      expect(got, `pair ${i} (B ${stagger} ms after A; A: ${ra.stdout.split('\n')[0]}; B: ${rb.stdout.split('\n')[0]}): the output is none of the images the two links write alone`).to.not.equal(null);
      seen[got!] = (seen[got!] ?? 0) + 1;

      // The next incremental link, of one program or the other, runs correctly.
      const nextIsA = i % 2 === 0;
      await mustLink(nextIsA ? A : B, work);
      const want = nextIsA ? EXPECTED_STATUS['table.edit-inslack'].app_a : EXPECTED_STATUS.base.app_b;
      expect(await status(wout, ARCH), `pair ${i}: the next link of ${nextIsA ? 'app_a' : 'app_b'}`).to.equal(want);
    }
    expect(strayTemps(work), 'temporary files left behind').to.deep.equal([]);
    console.log(`      outputs after ${PAIRS} concurrent pairs: ${JSON.stringify(seen)}`);
  });
});
