/**
 * Helpers for the robustness suite (doc/robustness.md): a work directory
 * holding the fixture's inputs under fixed relative names, the command line
 * run in it (`node bin/tslink.js`, with the incremental options every link
 * here uses), and reference images computed by uninterrupted links.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { buildFixture, type FixtureArch, type FixtureBuild, type FixtureVariants } from '../../src/cli/fixture.js';
import { exec, repoRoot, run, tmpDir, type ExecResult } from '../support/toolchain.js';

export const TSLINK = () => path.join(repoRoot(), 'bin', 'tslink.js');

/** The options of every link in this suite (relative paths: run with cwd = the work directory). */
export function linkArgs(arch: FixtureArch, out: string, inputs: readonly string[], extra: readonly string[] = []): string[] {
  return ['-static', '-e', '_start', '-m', arch === 'x86_64' ? 'elf_x86_64' : 'aarch64linux', '--build-id=fast', '--incremental', '--explain', ...extra, '-o', out, ...inputs];
}

/** `node bin/tslink.js args` in `cwd` under umask 022 (or `umask`). */
export function tslink(args: readonly string[], cwd: string, opts: { umask?: string; timeoutMs?: number } = {}): Promise<ExecResult> {
  return exec('sh', ['-c', `umask ${opts.umask ?? '022'} && exec "$@"`, 'sh', process.execPath, TSLINK(), ...args], { cwd, timeoutMs: opts.timeoutMs });
}

/** Runs tslink and fails the test unless it exits 0; returns its `--explain` line. */
export async function mustLink(args: readonly string[], cwd: string): Promise<string> {
  const r = await tslink(args, cwd);
  expect(r.status, `tslink ${args.join(' ')} in ${cwd}:\n${r.stderr}${r.stdout}`).to.equal(0);
  return r.stdout.split('\n')[0];
}

/**
 * Spawns tslink directly (no shell, so the pid is node's) and SIGKILLs it
 * after `delayMs`, unless it exited first. Resolves when it is gone.
 */
export function killAfter(args: readonly string[], cwd: string, delayMs: number): Promise<{ killed: boolean; status: number | null; ms: number }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [TSLINK(), ...args], { cwd, stdio: 'ignore' });
    let exited = false;
    const timer = setTimeout(() => {
      if (!exited) child.kill('SIGKILL');
    }, delayMs);
    child.on('error', reject);
    child.on('exit', (status, signal) => {
      exited = true;
      clearTimeout(timer);
      resolve({ killed: signal === 'SIGKILL', status, ms: performance.now() - t0 });
    });
  });
}

/**
 * Spawns tslink and SIGKILLs it at the first change in `dir` (as inotify
 * reports it) to `name`: the temporary image (`.out.tslink-tmp-`, a prefix),
 * the output renamed into place (`out`), the temporary state
 * (`out.tslink-state.tmp-`), the state renamed into place (`out.tslink-state`).
 * So kills land while the files are written, which is a small part of a run.
 */
export function killAtEvent(args: readonly string[], cwd: string, prefix: string): Promise<{ killed: boolean; status: number | null; event: string }> {
  return new Promise((resolve, reject) => {
    let event = '(none)';
    const watcher = fs.watch(cwd, (type, name) => {
      // A prefix ending in '-' names a temporary file (its pid follows); anything else, the file itself.
      const hit = name !== null && (prefix.endsWith('-') ? name.startsWith(prefix) : name === prefix);
      if (event === '(none)' && hit) {
        event = `${type} ${name}`;
        child.kill('SIGKILL');
      }
    });
    const child = spawn(process.execPath, [TSLINK(), ...args], { cwd, stdio: 'ignore' });
    child.on('error', (e) => {
      watcher.close();
      reject(e);
    });
    child.on('exit', (status, signal) => {
      watcher.close();
      resolve({ killed: signal === 'SIGKILL', status, event });
    });
  });
}

export function readBytes(file: string): Uint8Array {
  const b = fs.readFileSync(file);
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

export function sameBytes(a: Uint8Array | null, b: Uint8Array | null): boolean {
  return a !== null && b !== null && a.length === b.length && Buffer.compare(a, b) === 0;
}

export function readIfExists(file: string): Uint8Array | null {
  return fs.existsSync(file) ? readBytes(file) : null;
}

/** Which of the named images `bytes` is, or null. */
export function whichImage(bytes: Uint8Array | null, images: Record<string, Uint8Array | null>): string | null {
  if (bytes === null) return 'missing';
  for (const [name, img] of Object.entries(images)) if (sameBytes(bytes, img)) return name;
  return null;
}

export async function status(file: string, arch: FixtureArch): Promise<number | null> {
  const r = await run(file, arch);
  return r.status;
}

/** Fixture builds by name: `base` and edits, each built once per arch. */
export async function builds<K extends string>(arch: FixtureArch, root: string, specs: Record<K, FixtureVariants>): Promise<Record<K, FixtureBuild>> {
  const out = {} as Record<K, FixtureBuild>;
  for (const [k, variants] of Object.entries(specs) as [K, FixtureVariants][]) {
    out[k] = await buildFixture({ arch, outDir: path.join(root, k), variants });
  }
  return out;
}

/** A directory whose files are copies of `files` (name in the directory -> source path). */
export function stage(dir: string, files: Record<string, string | Uint8Array>): string {
  fs.mkdirSync(dir, { recursive: true });
  for (const [name, src] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    if (typeof src === 'string') fs.copyFileSync(src, path.join(dir, name));
    else fs.writeFileSync(path.join(dir, name), src);
  }
  return dir;
}

/** Temporary files tslink leaves beside an output when killed (`.out.tslink-tmp-PID`, `out.tslink-state.tmp-PID`). */
export function strayTemps(dir: string): string[] {
  return fs.readdirSync(dir).filter((f) => f.includes('.tslink-tmp-') || /\.tmp-\d+$/.test(f));
}

/** A work root under os.tmpdir(), removed after the suite unless TSLINK_KEEP_TMP=1. */
export function workRoot(prefix: string): { dir: string; cleanup: () => void } {
  const dir = tmpDir(prefix);
  return {
    dir,
    cleanup: () => {
      if (process.env.TSLINK_KEEP_TMP) console.log(`    kept ${dir}`);
      else fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A deterministic sequence of numbers in [0, 1). */
export function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 0x100000000;
  };
}
