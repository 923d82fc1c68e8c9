/**
 * The mutation fuzzer in CI (src/tools/fuzz.ts, doc/robustness.md): a fixed
 * seed, a few thousand cases over objects, archives and the incremental
 * state, on both architectures, in-process through LinkSession (worker
 * threads with a watchdog); then a smaller number of the same cases through
 * the command line, which must exit 0 or 1, print only `tslink: error:`
 * lines that name the file (the same message the library gave), and leave
 * no partial output. A longer run: `npm run fuzz -- --seed S --cases N`.
 */
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  FUZZ_ARCHES, FUZZ_KINDS, buildCorpora, formatReport, fuzz, makeCase, materializeCase, runCase, type ArchCorpus,
} from '../../src/tools/fuzz.js';
import { Pool, requireTools } from '../support/toolchain.js';
import { readIfExists, sameBytes, tslink, workRoot } from './support.js';

const SEED = Number(process.env.TSLINK_FUZZ_SEED ?? 20240611);
const CASES = Number(process.env.TSLINK_FUZZ_CASES ?? 9000);
const CLI_CASES = Number(process.env.TSLINK_FUZZ_CLI_CASES ?? 10);

describe('robustness: fuzzing objects, archives and state', function () {
  this.timeout(600_000);
  const root = workRoot('tslink-fuzz');
  after(() => root.cleanup());
  let corpora: ArchCorpus[];

  before(async function () {
    await requireTools(['clang', 'llvm-ar']);
    corpora = await buildCorpora(FUZZ_ARCHES);
  });

  it(`${CASES} cases in-process (seed ${SEED}): every input links or fails with a LinkError naming it; no crash, hang, slow case or memory blow-up`, async function () {
    const report = await fuzz({ seed: SEED, cases: CASES, corpora, slowMs: 2000, hangMs: 20_000 });
    const text = formatReport(report);
    console.log(text.replace(/^/gm, '      '));
    expect(report.cases).to.equal(CASES);
    expect(report.problems.length, text).to.equal(0);
  });

  it(`${CLI_CASES} cases per kind and arch through the command line: exit 0 or 1, one 'tslink: error:' line per error naming the file, as the library says, and no partial output`, async function () {
    const pool = new Pool(2);
    const failures: string[] = [];
    const jobs: Promise<void>[] = [];
    for (const corpus of corpora) {
      for (const kind of FUZZ_KINDS) {
        for (let i = 0; i < CLI_CASES; i++) {
          // Spread over the in-process run's cases.
          const index = Math.floor((i * CASES) / (FUZZ_KINDS.length * FUZZ_ARCHES.length * CLI_CASES));
          jobs.push(pool.run(async () => {
            const c = makeCase(corpus, kind, SEED, index);
            const lib = runCase(corpus, c);
            const dir = path.join(root.dir, `${kind}-${corpus.arch}-${index}`);
            fs.mkdirSync(dir, { recursive: true });
            const args = materializeCase(c, dir);
            const before = readIfExists(path.join(dir, 'out'));
            const r = await tslink(args, dir, { timeoutMs: 30_000 });
            const what = `${kind} ${corpus.arch} #${index} (${c.target}: ${c.mutations.join('; ')}; rerun in ${dir}: tslink ${args.join(' ')})`;
            const problem = judgeCli(r, lib.outcome, lib.message, c.inputs.map((x) => x.name), before, readIfExists(path.join(dir, 'out')));
            if (problem) failures.push(`${what}: ${problem}`);
            else fs.rmSync(dir, { recursive: true, force: true });
          }));
        }
      }
    }
    await Promise.all(jobs);
    expect(failures, failures.join('\n')).to.deep.equal([]);
  });
});

function judgeCli(
  r: { status: number | null; stdout: string; stderr: string; timedOut: boolean },
  outcome: string, message: string | null, inputs: string[], before: Uint8Array | null, after: Uint8Array | null,
): string | null {
  if (r.timedOut) return 'timed out';
  if (r.status !== 0 && r.status !== 1) return `exit status ${r.status}`;
  const lines = r.stderr.split('\n').filter(Boolean);
  const bad = lines.filter((l) => !/^tslink: (error|warning): /.test(l));
  if (bad.length) return `stderr lines that are not 'tslink: error:' or 'tslink: warning:': ${bad.slice(0, 3).join(' | ')}`;
  if (r.status === 1) {
    const errors = lines.filter((l) => l.startsWith('tslink: error: '));
    if (!errors.length) return 'exit status 1 without an error line';
    if (outcome !== 'error') return `the command line failed (${errors[0]}) where the library gave ${outcome}`;
    const want = message!.split('\n').map((l) => `tslink: error: ${l}`);
    if (errors.join('\n') !== want.join('\n')) return `the command line says\n${errors.join('\n')}\nthe library says\n${want.join('\n')}`;
    if (!inputs.some((n) => errors[0].includes(n))) return `the error names no input: ${errors[0]}`;
    if (!(before === null ? after === null : sameBytes(before, after))) return 'a failed link changed the output';
    return null;
  }
  if (outcome === 'error') return `the command line linked where the library failed with ${message}`;
  const explain = r.stdout.split('\n')[0] ?? '';
  if (explain && !explain.startsWith(`tslink: ${outcome}`)) return `--explain says '${explain}', the library's outcome was ${outcome}`;
  if (after === null) return 'exit status 0 without an output';
  return null;
}
