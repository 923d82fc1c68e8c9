/**
 * Interrupted links (doc/robustness.md, "Interrupted links"): tslink is
 * SIGKILLed after a random delay, many times, during a full link and during
 * a patch. Afterwards the output must be byte-identical to the complete
 * previous image or the complete new one, and the next `tslink
 * --incremental` must give a correct program (run, exit status checked
 * against EXPECTED_STATUS) and the very image an uninterrupted link gives.
 */
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { EXPECTED_STATUS, type FixtureArch } from '../../src/cli/fixture.js';
import { requireTools } from '../support/toolchain.js';
import {
  builds, killAfter, killAtEvent, linkArgs, mustLink, random, readBytes, readIfExists, stage, status, whichImage, workRoot,
} from './support.js';

const KILLS: Record<FixtureArch, number> = {
  x86_64: Number(process.env.TSLINK_KILLS ?? 30),
  aarch64: Math.ceil(Number(process.env.TSLINK_KILLS ?? 30) / 3),
};

for (const arch of ['x86_64', 'aarch64'] as const) {
  describe(`robustness: links killed at random points (${arch})`, function () {
    this.timeout(600_000);
    const root = workRoot(`tslink-interrupt-${arch}`);
    after(() => root.cleanup());

    const A = linkArgs(arch, 'out', ['app_a.o', 'libcore.a']);
    let fx: Awaited<ReturnType<typeof setup>>;
    before(async function () {
      await requireTools(['clang', 'llvm-ar', ...(arch === 'aarch64' ? ['qemu-aarch64'] : [])]);
      fx = await setup();
    });

    /** The reference images, from uninterrupted links, and how long a link takes. */
    async function setup() {
      const b = await builds(arch, path.join(root.dir, 'fx'), { base: {}, edit: { table: 'edit-inslack' } });
      const ref = stage(path.join(root.dir, 'ref'), { 'app_a.o': b.base.apps.app_a, 'libcore.a': b.base.libcore, 'app_b.o': b.base.apps.app_b });
      const out = path.join(ref, 'out');
      const B = linkArgs(arch, 'out', ['app_b.o', 'libcore.a']);
      expect(await mustLink(B, ref)).to.match(/^tslink: full:/);
      const bImage = readBytes(out);
      const bState = readBytes(`${out}.tslink-state`);
      expect(await mustLink(A, ref), 'app_a over app_b').to.match(/^tslink: fell-back-full:/);
      const aImage = readBytes(out);
      const aState = readBytes(`${out}.tslink-state`);
      fs.copyFileSync(b.edit.libcore, path.join(ref, 'libcore.a'));
      const unkilled = await killAfter(A, ref, 1e9);
      expect(unkilled.status, 'the edit').to.equal(0);
      const ms = unkilled.ms;
      const patched = readBytes(out);
      const patchedState = readBytes(`${out}.tslink-state`);
      fs.rmSync(`${out}.tslink-state`);
      expect(await mustLink(A, ref)).to.match(/^tslink: full:/);
      const editFull = readBytes(out);
      return { b, bImage, bState, aImage, aState, patched, patchedState, editFull, ms };
    }

    /**
     * Kills `KILLS[arch]` links, each in a fresh copy of `start` (files by name), after a delay
     * spread over the time an uninterrupted link takes; checks each as the file's header says.
     */
    async function killMany(what: string, seed: number, start: () => Record<string, string | Uint8Array>,
      allowedAfterKill: Record<string, Uint8Array>, states: Record<string, Uint8Array>, finalImages: Record<string, Uint8Array>, want: number) {
      const rnd = random(seed);
      const landed: Record<string, number> = {};
      let killed = 0;
      for (let i = 0; i < KILLS[arch]; i++) {
        const dir = stage(path.join(root.dir, `${what}-${i}`), start());
        // Half the kills after a random time, half at a random one of the changes the link makes
        // to the directory (most of a link's time is before it writes anything).
        const byEvent = i % 2 === 1;
        const delay = Math.floor(rnd() * fx.ms * 1.2);
        const prefix = ['.out.tslink-tmp-', 'out', 'out.tslink-state.tmp-', 'out.tslink-state'][Math.floor(rnd() * 4)];
        const k = byEvent ? await killAtEvent(A, dir, prefix) : await killAfter(A, dir, delay);
        const when = byEvent ? `when it touched ${'event' in k ? k.event : prefix}` : `after ${delay} ms`;
        if (k.killed) killed++;
        else expect(k.status, `${what} ${i}: the link was not killed but failed`).to.equal(0);
        const after = whichImage(readIfExists(path.join(dir, 'out')), allowedAfterKill);
        expect(after, `${what} ${i}: killed ${when}: the output is neither the previous image nor the new one`).to.not.equal(null);
        const st = whichImage(readIfExists(path.join(dir, 'out.tslink-state')), states);
        landed[`${after} image, ${st ?? 'other'} state`] = (landed[`${after} image, ${st ?? 'other'} state`] ?? 0) + 1;

        await mustLink(A, dir);
        const final = whichImage(readBytes(path.join(dir, 'out')), finalImages);
        expect(final, `${what} ${i}: killed ${when} (output then: ${after}): the next link's image is not an uninterrupted link's`).to.not.equal(null);
        expect(await status(path.join(dir, 'out'), arch), `${what} ${i}: killed ${when}: the next link's program`).to.equal(want);
        fs.rmSync(dir, { recursive: true, force: true });
      }
      console.log(`      ${what}: ${killed} of ${KILLS[arch]} killed (a link takes ~${fx.ms.toFixed(0)} ms); output after the kill: ${JSON.stringify(landed)}`);
    }

    it('killed during a full link (app_a over app_b\'s output): the previous image or the new one, then a correct link', async function () {
      await killMany('full', 11, () => ({
        'app_a.o': fx.b.base.apps.app_a, 'libcore.a': fx.b.base.libcore, out: fx.bImage, 'out.tslink-state': fx.bState,
      }), { previous: fx.bImage, new: fx.aImage }, { previous: fx.bState, new: fx.aState }, { new: fx.aImage }, EXPECTED_STATUS.base.app_a);
    });

    it('killed during a patch (table.c edited): the previous image or the patched one, then a correct link', async function () {
      await killMany('patch', 22, () => ({
        'app_a.o': fx.b.base.apps.app_a, 'libcore.a': fx.b.edit.libcore, out: fx.aImage, 'out.tslink-state': fx.aState,
      }), { previous: fx.aImage, patched: fx.patched }, { previous: fx.aState, new: fx.patchedState }, { patched: fx.patched, full: fx.editFull },
      EXPECTED_STATUS['table.edit-inslack'].app_a);
    });
  });
}
