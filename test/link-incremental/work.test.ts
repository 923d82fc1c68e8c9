/**
 * Work proportional to the change: two generated programs (genprogram.ts) of
 * very different sizes, 10 and 200 units, x86-64 objects only (nothing is
 * run). Each is linked cold (incremental), then relinked by fresh sessions
 * seeded with that link's state and image:
 *  (i)  a no-op relink of byte-identical inputs: patched, the same image, no
 *       atom placed and no relocation applied;
 *  (ii) one function's body constant changed within its slack (unit `u0`,
 *       whose C text is the same in both programs): patched, with no full
 *       resolution, and the same work for both sizes (up to the number of
 *       atoms of the edited unit), while the cold links' work differs by
 *       more than 10x.
 * Work is counted by the session (LinkReport.work), not timed.
 */
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { SessionOptions, WorkCount } from '../../src/session/LinkSession.js';
import { Pool, archive, compile, defaultConcurrency, requireTools, tmpDir } from '../support/toolchain.js';
import { GenProgram, Rng } from './genprogram.js';
import { PersistedOutput, sameBytes, type InputFile, type Linked } from './support.js';

const SEED = 0x7151_2025;
const EDIT_SEED = 0x0ed1_7501;
const SIZES = [10, 200] as const;
const EDITED_UNIT = 'u0';
const EDITED_FN = 'u0_g0';
const arch = 'x86_64';

/** The brief's options: `{ format: 'elf', arch, output: 'exe', entry: '_start', incremental: true }`, no build id. */
const OPTIONS: Partial<SessionOptions> = { buildId: undefined };

interface SizeResult {
  units: number;
  prog: GenProgram;
  cold?: Linked;
  noop?: Linked;
  patch?: Linked;
}

function show(w: WorkCount | undefined): string {
  return w ? `atomsPlaced ${w.atomsPlaced}, atomsWritten ${w.atomsWritten}, relocsApplied ${w.relocsApplied}, bytesHashed ${w.bytesHashed}` : '(no work counters)';
}

describe('incremental relinking: work proportional to the change (x86_64)', function () {
  this.timeout(300_000);
  const pool = new Pool(defaultConcurrency());
  const results = new Map<number, SizeResult>(SIZES.map((n) => [n, { units: n, prog: new GenProgram({ seed: SEED, units: n }) }]));
  let work = '';

  /** Compile every unit of a program into dir and archive libgen.a; the inputs in command-line order. */
  async function build(prog: GenProgram, dir: string): Promise<InputFile[]> {
    fs.mkdirSync(dir, { recursive: true });
    await Promise.all(
      prog.unitNames.map((u) => {
        fs.writeFileSync(path.join(dir, `${u}.c`), prog.source(u));
        return pool.run(() => compile(path.join(dir, `${u}.c`), path.join(dir, `${u}.o`), arch, ['-fno-pic']));
      }),
    );
    await archive(
      path.join(dir, 'libgen.a'),
      prog.archiveUnits.map((u) => path.join(dir, `${u}.o`)),
    );
    return [
      ...prog.objectUnits.map((u): InputFile => ({ kind: 'object', name: `${u}.o`, file: path.join(dir, `${u}.o`) })),
      { kind: 'archive', name: 'libgen.a', file: path.join(dir, 'libgen.a') },
    ];
  }

  /** The same inputs with the edited unit's object (or the archive holding it) taken from `dir`. */
  async function rebuildEdited(prog: GenProgram, base: readonly InputFile[], dir: string): Promise<InputFile[]> {
    fs.mkdirSync(dir, { recursive: true });
    const src = path.join(dir, `${EDITED_UNIT}.c`);
    const obj = path.join(dir, `${EDITED_UNIT}.o`);
    fs.writeFileSync(src, prog.source(EDITED_UNIT));
    await compile(src, obj, arch, ['-fno-pic']);
    if (!prog.isArchiveMember(EDITED_UNIT)) {
      return base.map((i) => (i.name === `${EDITED_UNIT}.o` ? { ...i, file: obj } : i));
    }
    const baseDir = path.dirname(base[0].file);
    const lib = path.join(dir, 'libgen.a');
    await archive(
      lib,
      prog.archiveUnits.map((u) => (u === EDITED_UNIT ? obj : path.join(baseDir, `${u}.o`))),
    );
    return base.map((i) => (i.kind === 'archive' ? { ...i, file: lib } : i));
  }

  before(async function () {
    await requireTools(['clang', 'llvm-ar']);
    work = tmpDir('tslink-work');
    if (process.env.TSLINK_KEEP_TMP) console.log(`    build directory: ${work}`);
  });

  after(function () {
    if (work && !process.env.TSLINK_KEEP_TMP) fs.rmSync(work, { recursive: true, force: true });
  });

  it(`the edited unit ${EDITED_UNIT} is the same C text in both programs, before and after the edit`, function () {
    const [small, large] = SIZES.map((n) => results.get(n)!.prog);
    expect(small.source(EDITED_UNIT)).to.equal(large.source(EDITED_UNIT));
    expect(small.atomCount(EDITED_UNIT)).to.equal(large.atomCount(EDITED_UNIT));
    const a = new GenProgram({ seed: SEED, units: SIZES[0] });
    const b = new GenProgram({ seed: SEED, units: SIZES[1] });
    a.applyEdit('body-constant', new Rng(EDIT_SEED), { unit: EDITED_UNIT, fn: EDITED_FN });
    b.applyEdit('body-constant', new Rng(EDIT_SEED), { unit: EDITED_UNIT, fn: EDITED_FN });
    expect(a.source(EDITED_UNIT)).to.equal(b.source(EDITED_UNIT));
  });

  for (const units of SIZES) {
    it(`${units} units: cold link, no-op relink (nothing placed or relocated), one-function patch`, async function () {
      const res = results.get(units)!;
      const dir = path.join(work, `p${units}`);
      const inputs = await build(res.prog, path.join(dir, 'obj'));

      // The cold link, persisted twice: one copy for the no-op relink, one for the edit.
      const noopOut = new PersistedOutput(arch, path.join(dir, 'noop', 'prog'), OPTIONS);
      const patchOut = new PersistedOutput(arch, path.join(dir, 'patch', 'prog'), OPTIONS);
      res.cold = noopOut.link(inputs);
      console.log(`      ${units} units, cold:   ${res.cold.report.outcome}; ${show(res.cold.report.work)}`);
      expect(res.cold.report.outcome, 'the first link has no prior state').to.equal('full');
      fs.mkdirSync(path.dirname(patchOut.file), { recursive: true });
      fs.copyFileSync(noopOut.file, patchOut.file);
      fs.copyFileSync(noopOut.stateFile, patchOut.stateFile);

      res.noop = noopOut.link(inputs);
      const noop = res.noop.report;
      console.log(`      ${units} units, no-op:  ${noop.outcome}; ${show(noop.work)}`);

      const edit = res.prog.applyEdit('body-constant', new Rng(EDIT_SEED), { unit: EDITED_UNIT, fn: EDITED_FN });
      const edited = await rebuildEdited(res.prog, inputs, path.join(dir, 'edit'));
      res.patch = patchOut.link(edited);
      const patch = res.patch.report;
      console.log(`      ${units} units, patch:  ${patch.outcome}${patch.reason ? ` (${patch.reason})` : ''}; ${show(patch.work)} [${edit.description}]`);

      expect(noop.outcome, 'a relink of byte-identical inputs is a patch').to.equal('patched');
      expect(sameBytes(res.noop.image, res.cold.image), 'a no-op relink leaves the image as it was').to.equal(true);
      expect(noop.work.atomsPlaced, 'no-op relink: atoms placed').to.equal(0);
      expect(noop.work.relocsApplied, 'no-op relink: relocations applied').to.equal(0);
      expect(patch.outcome, `a body constant changed within slack (${edit.description}) is patched`).to.equal('patched');
      expect(res.patch.fullResolutions, 'a patch runs no full resolution').to.equal(0);
    });
  }

  it(`the one-function patch costs the same for ${SIZES[0]} and ${SIZES[1]} units; the cold links differ by more than 10x`, function () {
    const [small, large] = SIZES.map((n) => results.get(n)!);
    for (const r of [small, large]) {
      expect(r.cold && r.patch, `the ${r.units}-unit links ran`).to.not.equal(undefined);
    }
    const coldS = small.cold!.report.work;
    const coldL = large.cold!.report.work;
    const patchS = small.patch!.report.work;
    const patchL = large.patch!.report.work;
    console.log(
      [
        `      counter         cold ${SIZES[0]}  cold ${SIZES[1]}  patch ${SIZES[0]}  patch ${SIZES[1]}`,
        ...(['atomsPlaced', 'atomsWritten', 'relocsApplied', 'bytesHashed'] as const).map(
          (k) => `      ${k.padEnd(14)} ${String(coldS[k]).padStart(8)} ${String(coldL[k]).padStart(9)} ${String(patchS[k]).padStart(9)} ${String(patchL[k]).padStart(10)}`,
        ),
      ].join('\n'),
    );
    for (const k of ['atomsPlaced', 'relocsApplied'] as const) {
      expect(coldL[k], `cold links: ${k} of ${SIZES[1]} units > 10x that of ${SIZES[0]}`).to.be.greaterThan(10 * coldS[k]);
    }
    expect(small.patch!.report.outcome, `${SIZES[0]} units: patched`).to.equal('patched');
    expect(large.patch!.report.outcome, `${SIZES[1]} units: patched`).to.equal('patched');
    const tolerance = small.prog.atomCount(EDITED_UNIT);
    for (const k of ['atomsPlaced', 'relocsApplied'] as const) {
      expect(Math.abs(patchL[k] - patchS[k]), `patch: ${k} ${patchS[k]} vs ${patchL[k]}, allowed to differ by the ${tolerance} atoms of ${EDITED_UNIT}`).to.be.at.most(tolerance);
    }
  });
});
