// `npm run bench`: tslink against ld.lld, mold and ld.bfd, side by side in
// one run. What it measures and the knobs: doc/benchmarks.md.
//
// Workloads: the generated C program of bench/gen.mjs at several sizes (full
// links, then three incremental relinks each: an in-slack edit, a grow that
// moves a function, a no-op), and real programs on Debian's static libraries
// (full links). Each command is timed by bench/runner.c (wall time, CPU time
// and peak RSS of the process tree, from the kernel). Repetitions are
// interleaved: every linker runs once per repetition, in the same order.
// Writes bench/results/results.{md,json,svg} and prints the Markdown.

import { spawnSync, fork } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  copyFileSync, existsSync, linkSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, unlinkSync, writeFileSync,
} from 'node:fs';
import { availableParallelism, cpus, loadavg, release, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GEN_VERSION, FUNCS_PER_UNIT, editTarget, mainSource, unitCount, unitName, unitSource } from './gen.mjs';
import { renderMarkdown, renderSvg } from './report.mjs';

const BENCH = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(BENCH, '..');
const TSLINK = join(REPO, 'bin', 'tslink.js');
const NODE = process.execPath;

// ---------------------------------------------------------------------------
// Knobs: environment variables, or the same as --name=value after `npm run bench --`.

const argv = Object.fromEntries(process.argv.slice(2).map((a) => {
  const m = /^--([a-z-]+)(?:=(.*))?$/.exec(a);
  if (!m) fail(`unknown argument '${a}' (see doc/benchmarks.md)`);
  return [m[1], m[2] ?? '1'];
}));
const knob = (name, env, fallback) => argv[name] ?? process.env[env] ?? fallback;

/**
 * The link mode, in one place. The generated programs and the real ones are
 * linked the way `clang <driver flags>` would link them; every linker gets
 * the same command line, taken from the driver (`clang -###`). Objects are
 * always compiled -fPIE, so they suit either mode.
 *   pie     a dynamically linked PIE against the shared C library, as issue 6
 *           asks (the default)
 *   static  static glibc
 */
const LINK_MODES = {
  static: { driver: ['-static'], words: 'statically linked against glibc (`clang -static`)' },
  pie: { driver: ['-pie'], words: 'a dynamically linked position-independent executable (`clang -pie`)' },
};

const config = {
  sizes: String(knob('sizes', 'TSLINK_BENCH_SIZES', '2000,20000,200000')).split(',').filter(Boolean).map(Number),
  reps: knob('reps', 'TSLINK_BENCH_REPS', null),
  link: String(knob('link', 'TSLINK_BENCH_LINK', 'pie')),
  cflags: String(knob('cflags', 'TSLINK_BENCH_CFLAGS', '-O0')).split(/\s+/).filter(Boolean),
  real: knob('real', 'TSLINK_BENCH_REAL', '1') !== '0',
  install: knob('install', 'TSLINK_BENCH_INSTALL', '1') !== '0',
  linkers: knob('linkers', 'TSLINK_BENCH_LINKERS', null),
  jobs: Number(knob('jobs', 'TSLINK_BENCH_JOBS', String(availableParallelism()))),
  work: resolve(String(knob('work', 'TSLINK_BENCH_WORK', join(BENCH, '.work')))),
  results: resolve(String(knob('results', 'TSLINK_BENCH_RESULTS', join(BENCH, 'results')))),
  timeout: Number(knob('timeout', 'TSLINK_BENCH_TIMEOUT', '900')),
  note: knob('note', 'TSLINK_BENCH_NOTE', ''),
};
if (!LINK_MODES[config.link]) fail(`TSLINK_BENCH_LINK=${config.link}: expected one of ${Object.keys(LINK_MODES).join(', ')}`);
if (config.sizes.some((n) => !(Number.isInteger(n) && n > 0))) fail(`TSLINK_BENCH_SIZES: expected positive integers, got ${config.sizes}`);
if (config.reps !== null && !(Number(config.reps) >= 1)) fail(`TSLINK_BENCH_REPS: expected a number >= 1, got ${config.reps}`);

/** Repetitions of a workload: the knob, else 5, and 3 for the largest programs (to fit 15 minutes on 2 cores). */
function repsFor(functions) {
  if (config.reps !== null) return Math.floor(Number(config.reps));
  return functions >= 100_000 ? 3 : 5;
}

// ---------------------------------------------------------------------------
// The linkers. Each gets the driver's linker command line (without argv[0]).

const LINKERS = [
  { id: 'lld', label: 'ld.lld', tool: 'ld.lld', pkg: 'lld', cmd: (a) => ['ld.lld', ...a] },
  { id: 'lld1', label: 'ld.lld --threads=1', tool: 'ld.lld', pkg: 'lld', cmd: (a) => ['ld.lld', '--threads=1', ...a] },
  { id: 'mold', label: 'mold', tool: 'mold', pkg: 'mold', cmd: (a) => ['mold', ...a] },
  { id: 'bfd', label: 'ld.bfd', tool: 'ld.bfd', pkg: 'binutils', cmd: (a) => ['ld.bfd', ...a] },
  { id: 'tslink', label: 'tslink', tslink: true, cmd: (a) => [NODE, TSLINK, ...a] },
  { id: 'tsinc', label: 'tslink --incremental, cold', tslink: true, cmd: (a) => [NODE, TSLINK, '--incremental', '--explain', ...a] },
];
const REFERENCE_IDS = ['lld', 'lld1', 'mold', 'bfd'];

function fail(msg) {
  process.stderr.write(`bench: ${msg}\n`);
  process.exit(1);
}

function log(msg) {
  process.stderr.write(`[bench ${elapsed()}] ${msg}\n`);
}

const T0 = performance.now();
function elapsed() {
  const s = Math.round((performance.now() - T0) / 1000);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

function which(tool) {
  const r = spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

function sh(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 28, ...opts });
  if (r.error) throw new Error(`${cmd}: ${r.error.message}`);
  return r;
}

function firstLine(s) {
  return (s ?? '').split('\n').find((l) => l.trim()) ?? '';
}

// ---------------------------------------------------------------------------
// Tools: install the reference linkers when missing (Debian, as root), else skip them.

function ensureTools() {
  for (const t of ['clang', 'clang++']) if (!which(t)) fail(`${t} is needed (scripts/install-deps.sh installs it)`);
  const missing = [...new Set(LINKERS.filter((l) => l.tool && !which(l.tool)).map((l) => l.pkg))];
  if (missing.length && config.install && process.getuid?.() === 0 && which('apt-get')) {
    log(`installing ${missing.join(' ')} with apt-get (TSLINK_BENCH_INSTALL=0 to skip)`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    let r = sh('apt-get', ['install', '-y', '--no-install-recommends', ...missing], { env });
    if (r.status !== 0) {
      sh('apt-get', ['update'], { env });
      r = sh('apt-get', ['install', '-y', '--no-install-recommends', ...missing], { env });
    }
    if (r.status !== 0) log(`apt-get failed: ${firstLine(r.stderr)}`);
  }
  const skipped = [];
  const wanted = config.linkers ? new Set(config.linkers.split(',')) : null;
  const active = LINKERS.filter((l) => {
    if (wanted && !wanted.has(l.id)) return false;
    if (l.tool && !which(l.tool)) {
      skipped.push(`${l.label} (not installed: package ${l.pkg})`);
      return false;
    }
    return true;
  });
  return { active, skipped };
}

function buildRunner() {
  const src = join(BENCH, 'runner.c');
  const bin = join(config.work, `runner-${hashOf(readFileSync(src)).slice(0, 12)}`);
  if (!existsSync(bin)) {
    mkdirSync(config.work, { recursive: true });
    const r = sh('clang', ['-O2', '-o', `${bin}.tmp`, src]);
    if (r.status !== 0) fail(`cannot build bench/runner.c:\n${r.stderr}`);
    renameSync(`${bin}.tmp`, bin);
  }
  return bin;
}

function hashOf(...parts) {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest('hex');
}

function machineInfo(active) {
  const cpuModel = cpus()[0]?.model?.trim() ?? 'unknown';
  const version = (cmd, args) => {
    const r = spawnSync(cmd, args, { encoding: 'utf8' });
    return r.status === 0 ? firstLine(r.stdout) : 'unavailable';
  };
  const linkers = {};
  for (const l of active) {
    if (l.tslink) linkers.tslink ??= version(NODE, [TSLINK, '--version']);
    else linkers[l.tool] ??= version(l.tool, ['--version']);
  }
  const rev = spawnSync('git', ['-C', REPO, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' });
  const dirty = spawnSync('git', ['-C', REPO, 'status', '--porcelain', '--', 'src', 'bin'], { encoding: 'utf8' });
  const source = rev.status === 0
    ? `commit ${rev.stdout.trim()}${dirty.stdout.trim() ? ', with uncommitted changes in src/' : ''}`
    : 'not a git checkout';
  return {
    tslinkSource: source,
    cpu: cpuModel,
    cores: availableParallelism(),
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    node: process.version,
    clang: version('clang', ['--version']),
    libc: version('ldd', ['--version']),
    linkers,
    loadBefore: loadavg().map((x) => x.toFixed(2)),
  };
}

// ---------------------------------------------------------------------------
// Building the generated program (cached by generator version, compiler, flags and size).

const COMPILE_FLAGS = ['-g', '-fPIE', '-ffunction-sections', '-fdata-sections'];
/** Debug info names this directory, not the cache's: the objects do not depend on where the cache is. */
const DEBUG_DIR = '/tslink-bench/src';

function compileFlags() {
  return [...COMPILE_FLAGS, ...config.cflags];
}

function genDir(functions) {
  const clang = firstLine(sh('clang', ['--version']).stdout);
  const key = hashOf(String(GEN_VERSION), clang, JSON.stringify(compileFlags())).slice(0, 10);
  return join(config.work, `gen-v${GEN_VERSION}-${key}`, `f${functions}`);
}

/** Runs clang jobs, `config.jobs` at a time. Each job: { cwd, args }. */
let compileMs = 0;

async function compileAll(jobs, what) {
  const { spawn } = await import('node:child_process');
  const t0 = performance.now();
  let next = 0;
  let done = 0;
  let lastReport = performance.now();
  const errors = [];
  const worker = async () => {
    while (next < jobs.length) {
      const job = jobs[next++];
      await new Promise((res) => {
        const p = spawn(job.cc ?? 'clang', job.args, { cwd: job.cwd, stdio: ['ignore', 'ignore', 'pipe'] });
        let err = '';
        p.stderr.on('data', (d) => { err += d; });
        p.on('close', (code) => {
          if (code !== 0) errors.push(`${job.args.join(' ')}: ${err}`);
          res();
        });
      });
      done++;
      if (performance.now() - lastReport > 15000) {
        lastReport = performance.now();
        log(`  ${what}: ${done}/${jobs.length} compiled`);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, config.jobs) }, worker));
  compileMs += performance.now() - t0;
  if (errors.length) fail(`compiling ${what} failed:\n${errors.slice(0, 3).join('\n')}`);
}

function compileJob(dir, name) {
  return { cwd: dir, args: [...compileFlags(), `-fdebug-prefix-map=${dir}=${DEBUG_DIR}`, '-c', name, '-o', name.replace(/\.c$/, '.o')] };
}

/** The base program: src/*.c and src/*.o. */
async function prepareProgram(functions) {
  const dir = genDir(functions);
  const src = join(dir, 'src');
  const units = unitCount(functions);
  const names = ['main', ...Array.from({ length: units }, (_, i) => unitName(i))];
  const marker = join(src, '.complete');
  if (!existsSync(marker)) {
    log(`generating and compiling ${functions} functions (${units} units) into the cache (once)`);
    rmSync(src, { recursive: true, force: true });
    mkdirSync(src, { recursive: true });
    writeFileSync(join(src, 'main.c'), mainSource(units));
    for (let i = 0; i < units; i++) writeFileSync(join(src, `${unitName(i)}.c`), unitSource(i, units));
    await compileAll(names.map((n) => compileJob(src, `${n}.c`)), `${functions} functions`);
    writeFileSync(marker, 'ok\n');
  }
  const objects = names.map((n) => `${n}.o`);
  const objectBytes = objects.reduce((s, o) => s + statSync(join(src, o)).size, 0);
  return { dir, src, units, objects, objectBytes };
}

/** An edited copy of one unit, compiled under the same name and debug directory as the base. */
async function prepareEdit(functions, prog, kind, k) {
  const target = editTarget(kind, functions, k);
  const dir = join(prog.dir, 'edits', `${kind}-${k}`);
  const name = `${unitName(target.unit)}.c`;
  if (!existsSync(join(dir, '.complete'))) {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, name), unitSource(target.unit, prog.units, target));
    await compileAll([compileJob(dir, name)], `edit ${kind}-${k}`);
    writeFileSync(join(dir, '.complete'), 'ok\n');
  }
  return { ...target, object: `${unitName(target.unit)}.o`, file: join(dir, name.replace(/\.c$/, '.o')) };
}

// ---------------------------------------------------------------------------
// The linker command line, from the driver.

/** `clang <mode> -### objects -o OUT` -> the linker's arguments (argv[0] dropped). */
function driverLinkArgs(driver, cwd, inputs, extra = []) {
  const r = sh(driver, [...LINK_MODES[config.link].driver, '-###', ...inputs, ...extra, '-o', 'out/@OUT@'], { cwd });
  if (r.status !== 0) fail(`${driver} -### failed: ${r.stderr}`);
  const line = r.stderr.trim().split('\n').pop();
  const args = [...line.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1].replace(/\\(.)/g, '$1'));
  if (!args.includes('out/@OUT@')) fail(`cannot read the linker command from ${driver} -###:\n${r.stderr}`);
  return args.slice(1);
}

function withOutput(args, id) {
  return args.map((a) => (a === 'out/@OUT@' ? `out/${id}` : a));
}

// ---------------------------------------------------------------------------
// Timing one command.

let RUNNER = '';

function timed(cmd, cwd, logFile) {
  const r = spawnSync(RUNNER, [String(config.timeout), logFile, ...cmd], { cwd, encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' } });
  const f = r.stdout.trim().split(/\s+/).map(Number);
  if (r.status !== 0 || f.length !== 5) throw new Error(`runner failed on ${cmd.join(' ')}: ${r.stderr}`);
  const text = existsSync(logFile) ? readFileSync(logFile, 'utf8') : '';
  return { wallMs: f[0] / 1000, cpuMs: (f[1] + f[2]) / 1000, rssKb: f[3], status: f[4], log: text };
}

/** The outcome tslink --explain printed. */
function explained(text) {
  const m = /^tslink: (full|patched|fell-back-full)(?:: (.*?))?( \(\d+ atoms placed.*\))?$/m.exec(text);
  if (!m) return { outcome: 'unknown', detail: firstLine(text) };
  const bytes = /^tslink: patched: (\d+) bytes written in (\d+) ranges/.exec(m[0]);
  const phases = {};
  const t = /^ {2}time: (.*)$/m.exec(text);
  for (const p of t ? t[1].split(', ') : []) {
    const pm = /^(\w+) ([\d.]+) ms$/.exec(p);
    if (pm) phases[pm[1]] = Number(pm[2]);
  }
  return {
    outcome: m[1], reason: m[1] === 'fell-back-full' ? m[2] : null, bytesWritten: bytes ? Number(bytes[1]) : null,
    ranges: bytes ? Number(bytes[2]) : null, phases,
  };
}

class Row {
  constructor(id, label, group) {
    Object.assign(this, { id, label, group, samples: [], outcomes: [], failure: null, notes: [] });
  }
}

/** Messages go into the results: no directories of this machine in them. */
function clean(text) {
  return String(text).split(config.work).join('<work>').split(REPO).join('<repo>');
}

function record(row, res, outcome = null) {
  if (res.status !== 0) {
    row.failure ??= clean(`exit status ${res.status}: ${firstLine(res.log).slice(0, 300)}`);
    return false;
  }
  row.samples.push({ wallMs: res.wallMs, cpuMs: res.cpuMs, rssKb: res.rssKb });
  if (outcome) row.outcomes.push(outcome);
  return true;
}

// ---------------------------------------------------------------------------
// Checking what was linked: programs run, and print the same thing.

function runProgram(file) {
  // A copy: the live session keeps its output open for writing, and Linux will not run a file open for writing.
  const copy = `${file}.run`;
  copyFileSync(file, copy);
  const r = spawnSync(copy, [], { encoding: 'utf8', timeout: 60000 });
  rmSync(copy, { force: true });
  if (r.error) return { ok: false, text: `could not run it: ${r.error.code ?? r.error.message}` };
  return { ok: r.status === 0, text: r.status === 0 ? r.stdout : `exit status ${r.status ?? r.signal}: ${firstLine(r.stderr)}` };
}

function symbolAddress(file, name) {
  const image = readFileSync(file);
  const shoff = Number(image.readBigUInt64LE(0x28));
  const shnum = image.readUInt16LE(0x3c);
  for (let i = 0; i < shnum; i++) {
    const sh = shoff + i * 64;
    if (image.readUInt32LE(sh + 4) !== 2) continue; // SHT_SYMTAB
    const off = Number(image.readBigUInt64LE(sh + 0x18));
    const size = Number(image.readBigUInt64LE(sh + 0x20));
    const strSh = shoff + image.readUInt32LE(sh + 0x28) * 64;
    const strOff = Number(image.readBigUInt64LE(strSh + 0x18));
    const want = Buffer.from(`${name}\0`);
    for (let at = off + 24; at < off + size; at += 24) {
      const n = strOff + image.readUInt32LE(at);
      if (image.compare(want, 0, want.length, n, n + want.length) === 0) return Number(image.readBigUInt64LE(at + 8));
    }
  }
  return null;
}

function replaceFile(dst, src, hardlink) {
  const tmp = `${dst}.bench-tmp`;
  rmSync(tmp, { force: true });
  if (hardlink) linkSync(src, tmp);
  else copyFileSync(src, tmp);
  renameSync(tmp, dst);
}

// ---------------------------------------------------------------------------
// The live session (bench/live.mjs), in a child process that stays up for a workload.

class Live {
  constructor() {
    // As `tslink --watch` runs its session (bin/tslink.js): without V8's memory reducer, which would go over
    // the idle session's heap while the other linkers run and leave the next relink to pay for it.
    this.child = fork(join(BENCH, 'live.mjs'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: ['--no-memory-reducer'] });
    this.waiting = null;
    this.child.on('message', (m) => {
      const w = this.waiting;
      this.waiting = null;
      w?.resolve(m);
    });
    this.child.on('exit', (code) => {
      const w = this.waiting;
      this.waiting = null;
      w?.resolve({ ok: false, error: `the live session process exited (status ${code})` });
    });
  }

  send(msg) {
    return new Promise((resolve) => {
      this.waiting = { resolve };
      this.child.send(msg);
    });
  }

  async close() {
    if (this.child.exitCode === null) await this.send({ op: 'exit' });
  }
}

// ---------------------------------------------------------------------------
// A workload: full links by every linker, interleaved.

async function fullLinks(w, active, reps, cwd) {
  const rows = active.map((l) => new Row(l.id, l.label, 'full'));
  const node = new Row('node', '`node -e 0` (start-up, for reference)', 'reference');
  const logFile = join(cwd, 'log', 'run.log');
  // Untimed: one link by a fast linker reads every input into the page cache.
  const warm = active.find((l) => !l.tslink) ?? active[0];
  if (warm) timed(warm.cmd(withOutput(w.args, warm.id)), cwd, logFile);
  for (let r = 0; r < reps; r++) {
    for (const [i, l] of active.entries()) {
      if (rows[i].failure) continue;
      if (l.id === 'tsinc') rmSync(join(cwd, 'out', 'tsinc.tslink-state'), { force: true });
      const res = timed(l.cmd(withOutput(w.args, l.id)), cwd, logFile);
      if (!record(rows[i], res, l.id === 'tsinc' ? explained(res.log) : null)) log(`  ${l.label} failed: ${rows[i].failure}`);
    }
    record(node, timed([NODE, '-e', '0'], cwd, logFile));
    if (r === 0) checkPrograms(w, active, rows, cwd);
    log(`  ${w.title}: full links, repetition ${r + 1}/${reps} done`);
  }
  return [...rows, node];
}

/** Runs every linker's output once and compares what it prints with the reference linkers'. */
function checkPrograms(w, active, rows, cwd) {
  const printed = {};
  for (const [i, l] of active.entries()) {
    const file = join(cwd, 'out', l.id);
    if (rows[i].failure || !existsSync(file)) continue;
    w.outputBytes[l.id] = statSync(file).size;
    const run = runProgram(file);
    printed[l.id] = run.text;
    if (!run.ok) rows[i].notes.push(`the program it linked failed: ${run.text.slice(0, 200)}`);
  }
  const refId = REFERENCE_IDS.find((id) => printed[id] !== undefined);
  w.programOutput = refId ? printed[refId] : null;
  w.programReference = refId ? active.find((l) => l.id === refId).label : null;
  for (const [i, l] of active.entries()) {
    if (refId && printed[l.id] !== undefined && printed[l.id] !== printed[refId]) {
      rows[i].notes.push(`WRONG PROGRAM: it printed ${JSON.stringify(printed[l.id].slice(0, 120))}, ${w.programReference}'s ${JSON.stringify(printed[refId].slice(0, 120))}`);
    }
  }
}

async function generated(functions, active) {
  const reps = repsFor(functions);
  const prog = await prepareProgram(functions);
  const edits = {
    const: [await prepareEdit(functions, prog, 'const', 0)],
    grow: [],
  };
  for (let k = 0; k < reps; k++) edits.grow.push(await prepareEdit(functions, prog, 'grow', k));

  // The link directory: the base objects, hard links into the cache; an edit renames another file over one.
  const cwd = join(prog.dir, `run-${config.link}`);
  rmSync(cwd, { recursive: true, force: true });
  for (const d of ['obj', 'out', 'log', 'base']) mkdirSync(join(cwd, d), { recursive: true });
  for (const o of prog.objects) linkSync(join(prog.src, o), join(cwd, 'obj', o));
  const args = driverLinkArgs('clang', cwd, prog.objects.map((o) => `obj/${o}`));
  const w = {
    id: `gen-${functions}`, kind: 'generated', title: `${functions.toLocaleString('en-US')} functions`, functions,
    units: prog.units + 1, objectBytes: prog.objectBytes, reps, args, outputBytes: {}, rows: [], incremental: [], checks: [],
  };
  log(`${w.title}: ${prog.units + 1} objects, ${(prog.objectBytes / 1e6).toFixed(1)} MB; ${reps} repetitions`);
  w.rows = await fullLinks(w, active, reps, cwd);

  const tsinc = active.find((l) => l.id === 'tsinc');
  const incRows = w.rows.find((r) => r.id === 'tsinc');
  if (!tsinc || incRows.failure) {
    w.checks.push('incremental relinks skipped: the cold tslink --incremental link did not succeed');
    return w;
  }
  // The cold incremental link's output: where each edited function was before the edit.
  copyFileSync(join(cwd, 'out', 'tsinc'), join(cwd, 'base', 'tsinc'));
  // Fresh-process relinks run as an edit loop does: each edit is undone by an (untimed) relink after it, so
  // every timed relink starts from the base program's inputs, with the output, its state and the output's
  // shadow as tslink's own last patch left them. One edit and its undo first, so that the first timed
  // relink, too, starts after a patch.
  const freshRelink = () => timed(tsinc.cmd(withOutput(args, 'tsinc')), cwd, join(cwd, 'log', 'run.log'));
  const primed = [edits.const[0], null].map((v) => {
    const o = edits.const[0].object;
    replaceFile(join(cwd, 'obj', o), v ? v.file : join(prog.src, o), !v);
    return freshRelink();
  });
  const primeNote = primed.every((p) => p.status === 0 && explained(p.log).outcome === 'patched')
    ? null : 'the untimed edit and undo before the fresh-process relinks did not both patch';

  const live = new Live();
  try {
    const loaded = await live.send({ op: 'load', cwd, args: withOutput(args, 'live'), output: 'out/live' });
    if (!loaded.ok) {
      w.checks.push(`live session: could not load: ${loaded.error}`);
    } else {
      w.liveLoad = { wallMs: loaded.wallMs, linkMs: loaded.linkMs, maxRssKb: loaded.maxRssKb };
      const same = Buffer.compare(readFileSync(join(cwd, 'out', 'live')), readFileSync(join(cwd, 'base', 'tsinc'))) === 0;
      w.checks.push(same
        ? 'the live session\'s first (full) link is byte-identical to the command line\'s `tslink --incremental` cold link'
        : 'MISMATCH: the live session\'s first (full) link differs from the command line\'s `tslink --incremental` cold link');
      // The same untimed edit and undo in the live session: its first relink also compiles the patch path
      // (the library's modules are loaded without a code cache), a cost paid once per session. Reported.
      const o = edits.const[0].object;
      w.liveFirst = [];
      for (const v of [edits.const[0], null]) {
        replaceFile(join(cwd, 'obj', o), v ? v.file : join(prog.src, o), !v);
        const m = await live.send({ op: 'relink', changed: [`obj/${o}`] });
        w.liveFirst.push(m.ok ? { outcome: m.outcome, wallMs: m.wallMs } : { outcome: 'error', error: m.error });
      }
    }
    const references = active.filter((l) => REFERENCE_IDS.includes(l.id));
    const EDITS = [
      { id: 'const', label: '(a) one function edited within its slack', variant: (r) => edits.const[0] },
      { id: 'grow', label: '(b) one function grown past its slack (it moves)', variant: (r) => edits.grow[r] },
      { id: 'noop', label: '(c) no-op relink (nothing changed)', variant: () => null },
    ];
    for (const e of EDITS) {
      const fresh = new Row('fresh', '`tslink --incremental` (fresh process)', e.id);
      const liveRow = new Row('live', 'tslink live session (LinkSession)', e.id);
      const refRows = references.map((l) => new Row(l.id, `${l.label} (full link)`, e.id));
      const inc = { id: e.id, label: e.label, rows: [fresh, liveRow, ...refRows], target: null };
      w.incremental.push(inc);
      if (primeNote) fresh.notes.push(primeNote);
      for (let r = 0; r < reps; r++) {
        const v = e.variant(r);
        // An untimed relink with nothing changed first: the undone edit's object was renamed into place
        // just now, too recently for its identity to be trusted, so this relink reads and hashes it and
        // records its identity, as the next relink would in an edit loop where time passes between edits.
        const settle = freshRelink();
        if (settle.status !== 0 || explained(settle.log).outcome !== 'patched') {
          fresh.notes.push(`the untimed relink before the edit did not patch: ${settle.status === 0 ? explained(settle.log).outcome : `status ${settle.status}`}`);
        }
        if (v) {
          inc.target ??= v.symbol;
          replaceFile(join(cwd, 'obj', v.object), v.file, false);
        }
        for (const [i, l] of references.entries()) {
          if (refRows[i].failure) continue;
          record(refRows[i], timed(l.cmd(withOutput(args, l.id)), cwd, join(cwd, 'log', 'run.log')));
        }
        const res = timed(tsinc.cmd(withOutput(args, 'tsinc')), cwd, join(cwd, 'log', 'run.log'));
        const outcome = explained(res.log);
        if (v && res.status === 0) {
          const before = symbolAddress(join(cwd, 'base', 'tsinc'), v.symbol);
          const after = symbolAddress(join(cwd, 'out', 'tsinc'), v.symbol);
          outcome.moved = before !== after;
        }
        record(fresh, res, outcome);
        if (loaded.ok) {
          const m = await live.send({ op: 'relink', changed: v ? [`obj/${v.object}`] : [] });
          if (!m.ok) liveRow.failure ??= m.error;
          else {
            liveRow.samples.push({ wallMs: m.wallMs, cpuMs: m.cpuMs, rssKb: m.maxRssKb, linkMs: m.linkMs, writeMs: m.writeMs });
            const o = { outcome: m.outcome, reason: m.reason, bytesWritten: m.bytesWritten, ranges: m.ranges };
            if (v && m.outcome === 'patched') o.moved = symbolAddress(join(cwd, 'base', 'tsinc'), v.symbol) !== symbolAddress(join(cwd, 'out', 'live'), v.symbol);
            liveRow.outcomes.push(o);
          }
        }
        if (r === 0 && refRows.length) {
          // Every program of this edit must print what a reference linker's full link of the same inputs prints.
          const want = runProgram(join(cwd, 'out', refRows[0].id));
          for (const [id, row] of [['tsinc', fresh], ['live', liveRow]]) {
            if (!existsSync(join(cwd, 'out', id)) || row.failure) continue;
            const got = runProgram(join(cwd, 'out', id));
            if (got.text !== want.text) row.notes.push(`WRONG PROGRAM: it printed ${JSON.stringify(got.text.slice(0, 120))}, ${refRows[0].label} ${JSON.stringify(want.text.slice(0, 120))}`);
          }
        }
        if (v) {
          replaceFile(join(cwd, 'obj', v.object), join(prog.src, v.object), true);
          const undo = freshRelink();
          if (undo.status !== 0 || explained(undo.log).outcome !== 'patched') {
            fresh.notes.push(`undoing the edit (an untimed relink) did not patch: ${undo.status === 0 ? `${explained(undo.log).outcome}` : `status ${undo.status}`}`);
          }
          if (loaded.ok) {
            const back = await live.send({ op: 'relink', changed: [`obj/${v.object}`] });
            if (!back.ok || back.outcome !== 'patched') liveRow.notes.push(`undoing the edit in the live session: ${back.ok ? `${back.outcome}: ${back.reason}` : back.error}`);
          }
        }
      }
      log(`  ${w.title}: incremental ${e.id}: ${reps} repetitions done`);
    }
  } finally {
    await live.close();
  }
  return w;
}

// ---------------------------------------------------------------------------
// Real programs on Debian's static libraries.

const REAL = [
  { id: 'sqlite', title: 'SQLite (libsqlite3.a)', pkg: 'libsqlite3-dev', lib: 'libsqlite3.a', src: 'sqlite.c', driver: 'clang', cflags: [], libs: ['-lsqlite3', '-lm'] },
  { id: 'lua', title: 'Lua 5.4 (liblua5.4.a)', pkg: 'liblua5.4-dev', lib: 'liblua5.4.a', src: 'lua.c', driver: 'clang', cflags: ['-I/usr/include/lua5.4'], libs: ['-llua5.4', '-lm'] },
  { id: 'cxx', title: 'C++ with the standard library (libstdc++.a)', pkg: 'libstdc++-12-dev', lib: null, src: 'cxx.cc', driver: 'clang++', cflags: ['-std=c++17'], libs: [] },
];

function findLib(driver, name) {
  const r = sh(driver, [`-print-file-name=${name}`]);
  const p = r.stdout.trim();
  return p && p !== name && existsSync(p) ? p : null;
}

async function realProgram(spec, active, skipped) {
  const reps = repsFor(0);
  if (spec.lib && !findLib(spec.driver, spec.lib)) {
    skipped.push(`${spec.title}: ${spec.lib} is not installed (apt-get install ${spec.pkg})`);
    return null;
  }
  const key = hashOf(readFileSync(join(BENCH, 'real', spec.src)), firstLine(sh(spec.driver, ['--version']).stdout), JSON.stringify(spec.cflags)).slice(0, 10);
  const dir = join(config.work, `real-${spec.id}-${key}`);
  const obj = spec.src.replace(/\.\w+$/, '.o');
  if (!existsSync(join(dir, '.complete'))) {
    mkdirSync(dir, { recursive: true });
    copyFileSync(join(BENCH, 'real', spec.src), join(dir, spec.src));
    await compileAll([{ cc: spec.driver, cwd: dir, args: ['-g', '-O2', '-fPIE', ...spec.cflags, `-fdebug-prefix-map=${dir}=${DEBUG_DIR}`, '-c', spec.src, '-o', obj] }], spec.title);
    writeFileSync(join(dir, '.complete'), 'ok\n');
  }
  const cwd = join(dir, `run-${config.link}`);
  rmSync(cwd, { recursive: true, force: true });
  for (const d of ['obj', 'out', 'log']) mkdirSync(join(cwd, d), { recursive: true });
  copyFileSync(join(dir, obj), join(cwd, 'obj', obj));
  const args = driverLinkArgs(spec.driver, cwd, [`obj/${obj}`], spec.libs);
  const libFile = spec.lib ? findLib(spec.driver, spec.lib) : null;
  const w = {
    id: spec.id, kind: 'real', title: spec.title, reps, args, outputBytes: {}, rows: [], incremental: [], checks: [],
    objectBytes: statSync(join(cwd, 'obj', obj)).size, libBytes: libFile ? statSync(libFile).size : null, lib: spec.lib,
  };
  log(`${w.title}: ${reps} repetitions`);
  w.rows = await fullLinks(w, active, reps, cwd);
  return w;
}

// ---------------------------------------------------------------------------

async function main() {
  const start = performance.now();
  if (process.platform !== 'linux' || process.arch !== 'x64') fail('the benchmark runs on x86-64 Linux only');
  if (!existsSync(join(REPO, 'dist', 'src', 'cli', 'main.js'))) fail('build first: npm run build (npm run bench does)');
  const { active, skipped } = ensureTools();
  RUNNER = buildRunner();
  const machine = machineInfo(active);
  log(`link mode: ${config.link}; sizes ${config.sizes.join(', ')}; linkers: ${active.map((l) => l.label).join(', ')}`);
  const workloads = [];
  for (const n of config.sizes) workloads.push(await generated(n, active));
  if (config.real) {
    for (const spec of REAL) {
      const w = await realProgram(spec, active, skipped);
      if (w) workloads.push(w);
    }
  }
  machine.loadAfter = loadavg().map((x) => x.toFixed(2));
  let results = {
    generatorVersion: GEN_VERSION, functionsPerUnit: FUNCS_PER_UNIT,
    config: { sizes: config.sizes, reps: config.reps, link: config.link, linkWords: LINK_MODES[config.link].words, cflags: compileFlags(), note: config.note },
    machine, skipped, totalSeconds: Math.round((performance.now() - start) / 1000), compileSeconds: Math.round(compileMs / 1000),
    workloads: workloads.map(strip),
  };
  mkdirSync(config.results, { recursive: true });
  results = JSON.parse(clean(JSON.stringify(results)));
  const md = renderMarkdown(results);
  writeFileSync(join(config.results, 'results.json'), JSON.stringify(results, null, 1) + '\n');
  writeFileSync(join(config.results, 'results.md'), md);
  writeFileSync(join(config.results, 'results.svg'), renderSvg(results));
  process.stdout.write(md);
  log(`done in ${elapsed()}; wrote ${['results.md', 'results.svg', 'results.json'].map((f) => join(config.results, f).replace(REPO + '/', '')).join(', ')}`);
}

/** What goes into results.json: no command lines (they name this machine's directories). */
function strip(w) {
  const { args, ...rest } = w;
  return rest;
}

main().catch((e) => fail(e instanceof Error ? e.stack ?? e.message : String(e)));
