/**
 * Randomized incremental relinking: a generated program (genprogram.ts) of 30
 * units, 40% of them in an archive, edited a dozen times at random, relinked
 * after each edit by a fresh LinkSession seeded with the previous link's
 * state and image, as a new process would be. On x86-64 and AArch64 (run
 * under qemu-aarch64).
 *
 * After each edit (only the edited unit is recompiled):
 *  - the incremental image, a cold tslink link and an ld.lld link
 *    (`-static -e _start`) of the same inputs all exit with the same status;
 *  - a non-local edit (global symbol added/removed, weak/strong flip, data
 *    growing past its slot: DESIGN.md section 5) falls back to a full link,
 *    with a reason in words;
 *  - a local edit (body constant, body growth, data values of the same size)
 *    is patched or falls back; which one is recorded, and over the whole run
 *    at least one body-constant edit must be patched;
 *  - a patch runs no full resolution and keeps every symbol of the program at
 *    its address except the edited function's (which may move);
 *  - a fall-back writes the same bytes as a cold full link.
 *
 * The seeds are fixed, so a failure reproduces; set TSLINK_KEEP_TMP=1 to keep
 * the build directory (sources, objects, every step's images).
 */
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { LinkReport, SessionOptions } from '../../src/session/LinkSession.js';
import { ARCHES, type Arch, Pool, archive, compile, defaultConcurrency, requireTools, tmpDir } from '../support/toolchain.js';
import { EDIT_LETTER, GenProgram, Rng, planEdits, type Edit } from './genprogram.js';
import { PersistedOutput, coldLink, lldLink, nm, runStatus, sameBytes, type InputFile, type NmSymbol } from './support.js';

const PROGRAM_SEED = 0x7151_2025;
const EDIT_SEED = 0x0ed1_7500;
const UNITS = 30;
const EDITS = 12;

/** The brief's options: `{ format: 'elf', arch, output: 'exe', entry: '_start', incremental: true }`, no build id. */
const OPTIONS: Partial<SessionOptions> = { buildId: undefined };

/** Symbols the generated program defines (not the linker's own, like _etext). */
const PROGRAM_SYMBOL = /^(u\d+_\w+|app_main|_start)$/;

interface Step {
  edit: Edit;
  /** The edited unit's C text after the edit. */
  source: string;
  /** Units whose C text the edit changed (must be just edit.unit). */
  changed: string[];
}

interface StepRecord {
  step: number;
  edit: Edit;
  outcome: LinkReport['outcome'] | 'error';
  reason: string | null;
  fullResolutions: number;
  work: LinkReport['work'] | undefined;
  statuses: string;
  /** Did ld.lld's exit status change with this edit? (Is the edit observable by running the program?) */
  observable: boolean | null;
}

/** The program and its edits, computed up front so that each edit is one test. */
function plan(): { prog: GenProgram; initial: Map<string, string>; steps: Step[] } {
  const prog = new GenProgram({ seed: PROGRAM_SEED, units: UNITS });
  const sources = () => new Map(prog.unitNames.map((u) => [u, prog.source(u)]));
  const initial = sources();
  const rng = new Rng(EDIT_SEED);
  let before = initial;
  const steps = planEdits(rng, EDITS).map((kind): Step => {
    const edit = prog.applyEdit(kind, rng);
    const after = sources();
    const changed = [...after.keys()].filter((u) => after.get(u) !== before.get(u));
    before = after;
    return { edit, source: after.get(edit.unit)!, changed };
  });
  return { prog, initial, steps };
}

function programSymbols(syms: readonly NmSymbol[]): Map<string, number> {
  return new Map(syms.filter((s) => PROGRAM_SYMBOL.test(s.name)).map((s) => [s.name, s.addr]));
}

function describeWork(w: LinkReport['work'] | undefined): string {
  return w ? `placed ${w.atomsPlaced}, written ${w.atomsWritten}, relocs ${w.relocsApplied}, hashed ${w.bytesHashed}` : 'no work counters';
}

for (const arch of ARCHES) {
  describe(`incremental relinking after random edits of a generated program (${arch})`, function () {
    this.timeout(240_000);
    const { prog, initial, steps } = plan();
    const pool = new Pool(defaultConcurrency());
    const records: StepRecord[] = [];
    /** ld.lld's exit status after the previous step. */
    let lastLldStatus: number | null = null;
    let work = '';
    let out: PersistedOutput;

    const src = (u: string) => path.join(work, 'src', `${u}.c`);
    const obj = (u: string) => path.join(work, 'obj', `${u}.o`);
    const lib = () => path.join(work, 'obj', 'libgen.a');
    const inputs = (): InputFile[] => [
      ...prog.objectUnits.map((u): InputFile => ({ kind: 'object', name: `${u}.o`, file: obj(u) })),
      { kind: 'archive', name: 'libgen.a', file: lib() },
    ];
    const compileUnit = (u: string, text: string) => {
      fs.writeFileSync(src(u), text);
      return pool.run(() => compile(src(u), obj(u), arch, ['-fno-pic']));
    };
    const rebuildArchive = () => archive(lib(), prog.archiveUnits.map(obj));

    /** Three links of the current inputs, run: incremental (`out`), cold tslink, ld.lld. */
    async function linkAndRun(tag: string) {
      const ins = inputs();
      const priorSyms = fs.existsSync(out.stateFile) ? programSymbols(await nm(out.file)) : null;
      const inc = out.link(ins);
      fs.copyFileSync(inc.file, path.join(work, `${tag}.incremental`));
      const cold = coldLink(arch, ins, path.join(work, `${tag}.cold`), OPTIONS);
      const lld = await lldLink(path.join(work, `${tag}.lld`), ins);
      const [sInc, sCold, sLld] = await Promise.all([runStatus(inc.file, arch), runStatus(cold.file, arch), runStatus(lld, arch)]);
      return { inc, cold, priorSyms, sInc, sCold, sLld };
    }

    /** After a failed step, restart the chain from a cold link of the current inputs. */
    function reseed() {
      fs.rmSync(out.stateFile, { force: true });
      try {
        out.link(inputs());
      } catch (e) {
        console.log(`      (could not restart the chain: ${(e as Error).message})`);
      }
    }

    before(async function () {
      await requireTools(['clang', 'ld.lld', 'llvm-ar', 'llvm-nm', ...(arch === 'aarch64' ? ['qemu-aarch64'] : [])]);
      work = tmpDir(`tslink-random-${arch}`);
      if (process.env.TSLINK_KEEP_TMP) console.log(`    build directory: ${work}`);
      fs.mkdirSync(path.join(work, 'src'));
      fs.mkdirSync(path.join(work, 'obj'));
      await Promise.all(prog.unitNames.map((u) => compileUnit(u, initial.get(u)!)));
      await rebuildArchive();
      out = new PersistedOutput(arch, path.join(work, 'prog'), OPTIONS);
    });

    after(function () {
      if (work && !process.env.TSLINK_KEEP_TMP) fs.rmSync(work, { recursive: true, force: true });
    });

    it(`cold link of ${UNITS} units (${prog.archiveUnits.length} in libgen.a): full, same exit status as ld.lld`, async function () {
      const r = await linkAndRun('step0');
      expect(r.inc.report.outcome, 'the first link has no prior state').to.equal('full');
      expect(r.sInc, 'exit status: tslink vs ld.lld').to.equal(r.sLld);
      expect(r.sCold, 'exit status: cold tslink vs ld.lld').to.equal(r.sLld);
      lastLldStatus = r.sLld;
      console.log(`      cold: status ${r.sInc}, ${describeWork(r.inc.report.work)}`);
    });

    steps.forEach(({ edit, source, changed }, i) => {
      const n = i + 1;
      const letter = EDIT_LETTER[edit.kind];
      it(`edit ${n} (${letter}, ${edit.local ? 'local' : 'non-local'}): ${edit.unit} ${edit.description}`, async function () {
        const record: StepRecord = { step: n, edit, outcome: 'error', reason: null, fullResolutions: 0, work: undefined, statuses: '', observable: null };
        records.push(record);
        let ok = false;
        try {
          await compileUnit(edit.unit, source);
          if (prog.isArchiveMember(edit.unit)) await rebuildArchive();
          const r = await linkAndRun(`step${n}`);
          const rep = r.inc.report;
          Object.assign(record, {
            outcome: rep.outcome,
            reason: rep.reason,
            fullResolutions: r.inc.fullResolutions,
            work: rep.work,
            statuses: `${r.sInc}/${r.sCold}/${r.sLld}`,
            observable: lastLldStatus === null ? null : r.sLld !== lastLldStatus,
          });
          lastLldStatus = r.sLld;
          console.log(`      ${rep.outcome}${rep.reason ? ` (${rep.reason})` : ''}; status ${record.statuses}; ${describeWork(rep.work)}`);

          expect(r.sInc, 'exit status: incremental tslink vs ld.lld').to.equal(r.sLld);
          expect(r.sCold, 'exit status: cold tslink vs ld.lld').to.equal(r.sLld);
          if (edit.local) {
            expect(rep.outcome, 'a local edit is patched or falls back').to.be.oneOf(['patched', 'fell-back-full']);
          } else {
            expect(rep.outcome, `a non-local edit (${edit.description}) must fall back to a full link`).to.equal('fell-back-full');
          }
          if (rep.outcome === 'fell-back-full') {
            expect(rep.reason, 'a fall-back says why').to.be.a('string').and.not.match(/^\s*$/);
            expect(r.inc.fullResolutions, 'a fall-back runs a full resolution').to.be.greaterThan(0);
            expect(sameBytes(r.inc.image, r.cold.image), 'a fall-back writes the same bytes as a cold full link').to.equal(true);
          } else {
            expect(r.inc.fullResolutions, 'a patch runs no full resolution').to.equal(0);
            expect(r.priorSyms, 'a patch needs a prior image').to.not.equal(null);
            const now = programSymbols(await nm(r.inc.file));
            const moved: string[] = [];
            for (const [name, addr] of r.priorSyms!) {
              const a = now.get(name);
              if (a !== addr && !edit.mayMove.includes(name)) moved.push(`${name} 0x${addr.toString(16)} -> ${a === undefined ? 'gone' : `0x${a.toString(16)}`}`);
            }
            expect(moved, 'a patch keeps every unchanged symbol at its address').to.deep.equal([]);
            expect([...now.keys()].sort(), 'a patch keeps the same symbols').to.deep.equal([...r.priorSyms!.keys()].sort());
          }
          expect(changed, 'the generator: the edit regenerates exactly its own unit').to.deep.equal([edit.unit]);
          ok = true;
        } finally {
          if (!ok) reseed();
        }
      });
    });

    it('summary: a body-constant edit was patched; the local edits were observable in the exit status', function () {
      const rows = records.map(
        (r) =>
          `      ${String(r.step).padStart(2)} ${EDIT_LETTER[r.edit.kind]} ${r.edit.local ? 'local    ' : 'non-local'} ${r.edit.unit.padEnd(4)} ` +
          `${r.outcome.padEnd(14)} status ${r.statuses.padEnd(11)} ${r.edit.description}${r.reason ? ` -- ${r.reason}` : ''}`,
      );
      console.log(rows.join('\n'));
      expect(records.length, 'every edit step ran').to.equal(steps.length);
      const constants = records.filter((r) => r.edit.kind === 'body-constant');
      expect(constants.length, 'the plan has body-constant edits').to.be.greaterThan(0);
      expect(
        constants.map((r) => r.outcome),
        'a change of a body constant within slack must patch (at least once)',
      ).to.include('patched');
      // The checksum folds every call's result, so a local edit nearly always
      // changes the exit status (a collision is a 1-in-256 chance): a patch
      // that dropped an edit would not go unnoticed.
      const local = records.filter((r) => r.edit.local);
      const unobserved = local.filter((r) => r.observable !== true).map((r) => `${r.step}: ${r.edit.description}`);
      expect(unobserved.length, `local edits that did not change the exit status: ${unobserved.join('; ')}`).to.be.at.most(1);
    });
  });
}
