/**
 * The mutation fuzzer in CI (src/tools/fuzz.ts, doc/robustness.md): a fixed
 * seed, a few thousand cases over objects, archives and the incremental
 * state, on both architectures, in-process through LinkSession (worker
 * threads with a watchdog); then a smaller number of the same cases through
 * the command line, which must exit 0 or 1, print only `tslink: error:`
 * lines that name the file (the same message the library gave), and leave
 * no partial output. Then the reader kinds: GNU ld input scripts
 * (`parseInputScript`) and shared libraries (`readSharedObject`, seeded with
 * the machine's libc.so.6 and a small versioned library), in-process; and
 * script cases through the command line, the script naming the fixture's
 * objects and archive: a few hundred through `main()` in one child process
 * (`fuzz.js --cli-batch`), and some through `node bin/tslink.js`.
 * A longer run: `npm run fuzz -- --seed S --cases N [--kind K]`.
 */
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  FUZZ_ARCHES, LINK_KINDS, buildCorpora, formatReport, fuzz, makeCase, materializeCase, runCase, type ArchCorpus, type CliBatchJob, type CliBatchResult,
} from '../../src/tools/fuzz.js';
import { isLinkerScript } from '../../src/obj/linkerScript.js';
import { Pool, exec, repoRoot, requireTools } from '../support/toolchain.js';
import { readIfExists, sameBytes, tslink, workRoot } from './support.js';

const SEED = Number(process.env.TSLINK_FUZZ_SEED ?? 20240611);
const CASES = Number(process.env.TSLINK_FUZZ_CASES ?? 9000);
const CLI_CASES = Number(process.env.TSLINK_FUZZ_CLI_CASES ?? 10);
const SCRIPT_CASES = Number(process.env.TSLINK_FUZZ_SCRIPT_CASES ?? 1500);
/** Per architecture. */
const SHARED_CASES = Number(process.env.TSLINK_FUZZ_SHARED_CASES ?? 1500);
/** Script cases through main() in a child process, per architecture; and through bin/tslink.js. */
const SCRIPT_CLI_CASES = Number(process.env.TSLINK_FUZZ_SCRIPT_CLI_CASES ?? 150);
const SCRIPT_SPAWN_CASES = Number(process.env.TSLINK_FUZZ_SCRIPT_SPAWN_CASES ?? 8);

describe('robustness: fuzzing objects, archives, state, linker scripts and shared libraries', function () {
  this.timeout(600_000);
  const root = workRoot('tslink-fuzz');
  after(() => root.cleanup());
  let corpora: ArchCorpus[];

  before(async function () {
    await requireTools(['clang', 'llvm-ar', 'ld.lld']);
    corpora = await buildCorpora(FUZZ_ARCHES);
  });

  it(`${CASES} cases in-process (seed ${SEED}): every input links or fails with a LinkError naming it; no crash, hang, slow case or memory blow-up`, async function () {
    const report = await fuzz({ seed: SEED, cases: CASES, kinds: LINK_KINDS, corpora, slowMs: 2000, hangMs: 20_000 });
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
      for (const kind of LINK_KINDS) {
        for (let i = 0; i < CLI_CASES; i++) {
          // Spread over the in-process run's cases.
          const index = Math.floor((i * CASES) / (LINK_KINDS.length * FUZZ_ARCHES.length * CLI_CASES));
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

  it(`${SCRIPT_CASES} GNU ld input scripts in-process (seed ${SEED}): parseInputScript returns or throws a LinkError naming the script, in bounded time and memory`, async function () {
    const report = await fuzz({ seed: SEED, cases: SCRIPT_CASES, kinds: ['script'], corpora, slowMs: 2000, hangMs: 20_000 });
    const text = formatReport(report);
    console.log(text.replace(/^/gm, '      '));
    expect(report.cases).to.equal(SCRIPT_CASES);
    expect(report.problems.length, text).to.equal(0);
  });

  it(`${SHARED_CASES} shared libraries per arch in-process (seed ${SEED}): readSharedObject returns or throws a LinkError naming the file, in bounded time and memory`, async function () {
    const cases = SHARED_CASES * corpora.length;
    const report = await fuzz({ seed: SEED, cases, kinds: ['shared'], corpora, slowMs: 2000, hangMs: 20_000 });
    const text = formatReport(report);
    console.log(`      seeds: ${corpora.map((c) => `${c.arch}: ${c.shared.map((s) => `${s.name} (${s.bytes.length} bytes)`).join(', ')}`).join('; ')}`);
    console.log(text.replace(/^/gm, '      '));
    expect(report.cases).to.equal(cases);
    expect(report.problems.length, text).to.equal(0);
  });

  it(`${SCRIPT_CLI_CASES} script cases per arch through main() and ${SCRIPT_SPAWN_CASES} through bin/tslink.js, naming the fixture's files: a link, or exit 1 with 'tslink: error:' lines and no stack trace`, async function () {
    const failures: string[] = [];
    const runs: Promise<void>[] = [];
    const pool = new Pool(2);
    for (const corpus of corpora) {
      const batch: Array<{ job: CliBatchJob; what: string; parseError: string | null }> = [];
      const n = SCRIPT_CLI_CASES + SCRIPT_SPAWN_CASES;
      for (let i = 0; i < n; i++) {
        // Spread over the in-process run's cases.
        const index = Math.floor((i * SCRIPT_CASES) / (FUZZ_ARCHES.length * n));
        const c = makeCase(corpus, 'script', SEED, index);
        const lib = runCase(corpus, c);
        // The command line reads a script only when it looks like one; then its error is parseInputScript's.
        const parseError = lib.outcome === 'error' && isLinkerScript(c.inputs[0].bytes) ? lib.message : null;
        const dir = path.join(root.dir, `script-${corpus.arch}-${index}`);
        fs.mkdirSync(dir, { recursive: true });
        const args = materializeCase(c, dir);
        const what = `script ${corpus.arch} #${index} (${c.mutations.join('; ').slice(0, 300)}; rerun in ${dir}: tslink ${args.join(' ')})`;
        if (i < SCRIPT_CLI_CASES) {
          batch.push({ job: { dir, args }, what, parseError });
          continue;
        }
        runs.push(pool.run(async () => {
          const r = await tslink(args, dir, { timeoutMs: 30_000 });
          const problem = r.timedOut ? 'timed out' : judgeScriptCli({ status: r.status, stderr: r.stderr, threw: null }, parseError);
          if (problem) failures.push(`${what}: ${problem}`);
        }));
      }
      runs.push(pool.run(async () => {
        const file = path.join(root.dir, `script-jobs-${corpus.arch}.json`);
        fs.writeFileSync(file, JSON.stringify(batch.map((b) => b.job)));
        const r = await exec(process.execPath, [path.join(repoRoot(), 'dist', 'src', 'tools', 'fuzz.js'), '--cli-batch', file], { timeoutMs: 120_000 });
        if (r.status !== 0 || r.timedOut) {
          failures.push(`${corpus.arch}: the batch (${file}) ${r.timedOut ? 'timed out' : `exited ${r.status}`}: ${r.stderr.slice(0, 2000)}`);
          return;
        }
        const results = JSON.parse(r.stdout) as CliBatchResult[];
        if (results.length !== batch.length) failures.push(`${corpus.arch}: the batch gave ${results.length} results for ${batch.length} jobs`);
        results.forEach((res, k) => {
          const problem = judgeScriptCli(res, batch[k].parseError);
          if (problem) failures.push(`${batch[k].what}: ${problem}`);
        });
      }));
    }
    await Promise.all(runs);
    expect(failures, failures.join('\n')).to.deep.equal([]);
  });
});

/**
 * A script case through the command line: exit 0, or 1 with only `tslink: error:` (and warning)
 * lines, nothing escaping main(), no stack trace and no internal error; when the script itself
 * does not parse, the error is the one parseInputScript gave.
 */
function judgeScriptCli(r: { status: number | null; stderr: string; threw: string | null }, parseError: string | null): string | null {
  if (r.threw) return `main() threw: ${r.threw.split('\n').slice(0, 6).join(' | ')}`;
  if (r.status !== 0 && r.status !== 1) return `exit status ${r.status}: ${r.stderr.slice(0, 500)}`;
  const lines = r.stderr.split('\n').filter(Boolean);
  const bad = lines.filter((l) => !/^tslink: (error|warning): /.test(l));
  if (bad.length) return `stderr lines that are not 'tslink: error:' or 'tslink: warning:': ${bad.slice(0, 3).join(' | ').slice(0, 500)}`;
  if (r.status === 1) {
    const errors = lines.filter((l) => l.startsWith('tslink: error: '));
    if (!errors.length) return 'exit status 1 without an error line';
    if (parseError !== null) {
      const want = parseError.split('\n').map((l) => `tslink: error: ${l}`).join('\n');
      if (errors.join('\n') !== want) return `the command line says\n${errors.join('\n').slice(0, 500)}\nparseInputScript says\n${want.slice(0, 500)}`;
    }
  } else if (parseError !== null) {
    return `linked, where parseInputScript failed: ${parseError.slice(0, 300)}`;
  }
  return null;
}

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
