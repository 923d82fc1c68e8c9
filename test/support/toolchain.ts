/**
 * Toolchain helpers for the end-to-end linker tests: compile freestanding C
 * (and C++) units with clang for x86-64 / AArch64, archive them with llvm-ar,
 * link them with ld.lld or tslink, and run the result (natively on x86-64,
 * under qemu-aarch64 for AArch64).
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ARCHES = ['x86_64', 'aarch64'] as const;
export type Arch = (typeof ARCHES)[number];

/** Common compiler flags for every unit of the test corpus. */
export const BASE_CFLAGS = [
  '-O1',
  '-ffreestanding',
  '-fno-builtin',
  '-nostdlib',
  '-ffunction-sections',
  '-fdata-sections',
];
/** Extra flags for C++ units (clang++). */
export const BASE_CXXFLAGS = ['-fno-exceptions', '-fno-rtti'];

/** Options every test link uses, for ld.lld and tslink alike. */
export const LINK_FLAGS = ['-static', '-e', '_start'];

export interface ExecResult {
  /** Exit status, or null if the process was killed by a signal. */
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

export interface ExecOptions {
  cwd?: string;
  /** Kill the process after this many milliseconds (default 60 s). */
  timeoutMs?: number;
  /** The environment (default: this process's). */
  env?: NodeJS.ProcessEnv;
}

let cachedRoot: string | undefined;

/** The repository root: the nearest directory above this file with a package.json. */
export function repoRoot(): string {
  if (cachedRoot) return cachedRoot;
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return (cachedRoot = dir);
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`no package.json above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
}

/** A fresh temporary directory whose name starts with `prefix`. */
export function tmpDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `${prefix}-`));
}

/** Quote a command line for error messages. */
export function showCommand(cmd: string, args: readonly string[]): string {
  return [cmd, ...args].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

/**
 * Run a command to completion. Never rejects because of the exit status; it
 * rejects only when the command cannot be started (e.g. not installed).
 */
export function exec(cmd: string, args: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs ?? 60_000);
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      const hint = e.code === 'ENOENT' ? ' (is it installed and in PATH?)' : '';
      reject(new Error(`cannot run ${showCommand(cmd, args)}: ${e.message}${hint}`));
    });
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      resolve({
        status,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        timedOut,
      });
    });
  });
}

/** Describe how a process ended, for assertion messages. */
export function describeExit(r: ExecResult): string {
  if (r.timedOut) return 'timed out';
  if (r.signal) return `killed by ${r.signal}`;
  return `exit status ${r.status}`;
}

/** Run a command and return its stdout; throw with the command and stderr if it fails. */
export async function tool(cmd: string, args: readonly string[], opts: ExecOptions = {}): Promise<string> {
  const r = await exec(cmd, args, opts);
  if (r.status !== 0) {
    throw new Error(`${showCommand(cmd, args)} failed (${describeExit(r)}):\n${r.stderr.trim() || r.stdout.trim()}`);
  }
  return r.stdout;
}

/**
 * For the suites that need tools beyond the ELF ones (Wine, MinGW, lld-link's
 * helpers): unless every command is in PATH, say which is missing and skip
 * the suite (`ctx`: its before hook's `this`).
 */
export async function requireToolsOrSkip(ctx: Mocha.Context, cmds: readonly string[]): Promise<void> {
  try {
    await requireTools(cmds);
  } catch (e) {
    console.warn(`      skipped: ${(e as Error).message}`);
    ctx.skip();
  }
}

/** Fail, with a clear message, unless every command is available in PATH. */
export async function requireTools(cmds: readonly string[]): Promise<void> {
  const missing: string[] = [];
  for (const cmd of cmds) {
    const found = (process.env.PATH ?? '')
      .split(path.delimiter)
      .filter(Boolean)
      .some((dir) => {
        try {
          fs.accessSync(path.join(dir, cmd), fs.constants.X_OK);
          return true;
        } catch {
          return false;
        }
      });
    if (!found) missing.push(cmd);
  }
  if (missing.length) {
    throw new Error(
      `required tool(s) not found in PATH: ${missing.join(', ')}. ` +
        'The end-to-end linker tests need clang, clang++, lld (ld.lld), llvm (llvm-ar, llvm-nm, ' +
        'llvm-readelf, llvm-addr2line) and qemu-user (qemu-aarch64).',
    );
  }
}

/** Is this source file C++ (compiled with clang++)? */
export function isCxx(src: string): boolean {
  return /\.(cc|cpp|cxx|C)$/.test(src);
}

/**
 * Compile one unit to an object file:
 *   clang --target=${arch}-linux-gnu -O1 -ffreestanding -fno-builtin -nostdlib
 *         -ffunction-sections -fdata-sections -c [extraFlags] src -o out
 * C++ sources (.cc) go through clang++ with -fno-exceptions -fno-rtti.
 */
export async function compile(src: string, out: string, arch: Arch, extraFlags: readonly string[] = []): Promise<void> {
  const cxx = isCxx(src);
  const args = [
    `--target=${arch}-linux-gnu`,
    ...BASE_CFLAGS,
    ...(cxx ? BASE_CXXFLAGS : []),
    '-c',
    ...extraFlags,
    src,
    '-o',
    out,
  ];
  fs.mkdirSync(path.dirname(out), { recursive: true });
  await tool(cxx ? 'clang++' : 'clang', args);
}

/** Create (or replace) a static archive with llvm-ar rcs. */
export async function archive(out: string, objs: readonly string[]): Promise<void> {
  fs.rmSync(out, { force: true });
  await tool('llvm-ar', ['rcs', out, ...objs]);
}

/** Link with ld.lld: `ld.lld [flags] -o out inputs...`. Throws on failure. */
export async function linkLld(out: string, inputs: readonly string[], flags: readonly string[] = LINK_FLAGS): Promise<void> {
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.rmSync(out, { force: true });
  await tool('ld.lld', [...flags, '-o', out, ...inputs]);
}

/** Link with tslink: `node <repo>/bin/tslink.js [flags] -o out inputs...`. Throws on failure. */
export async function linkTslink(out: string, inputs: readonly string[], flags: readonly string[] = LINK_FLAGS): Promise<void> {
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.rmSync(out, { force: true });
  const bin = path.join(repoRoot(), 'bin', 'tslink.js');
  const args = [bin, ...flags, '-o', out, ...inputs];
  const r = await exec(process.execPath, args, { timeoutMs: 120_000 });
  if (r.status !== 0) {
    const msg = r.stderr.trim() || r.stdout.trim() || '(no output)';
    throw new Error(`tslink failed (${describeExit(r)}): ${showCommand('node', args)}\n${msg}`);
  }
  if (!fs.existsSync(out)) throw new Error(`tslink exited 0 but wrote no output file ${out}`);
}

/**
 * Where qemu-aarch64 finds a dynamic program's loader and libraries: the
 * host's own multiarch ones (libc6:arm64, which scripts/install-deps.sh
 * installs with the :arm64 -dev packages, and which clang then links
 * against), else the cross toolchain's sysroot. A program must run with the
 * C library it was linked against: with the other one, threads hang.
 */
export function aarch64Sysroot(): string[] {
  return fs.existsSync('/lib/ld-linux-aarch64.so.1') ? [] : ['-L', '/usr/aarch64-linux-gnu'];
}

/**
 * Run a linked program (AArch64 under qemu-aarch64, see aarch64Sysroot) with
 * a 10 s timeout (30 s under qemu, which is slow on a loaded machine).
 */
export async function run(prog: string, arch: Arch): Promise<ExecResult> {
  const abs = path.resolve(prog);
  if (arch === 'aarch64') return exec('qemu-aarch64', [...aarch64Sysroot(), abs], { cwd: path.dirname(abs), timeoutMs: 30_000 });
  return exec(abs, [], { cwd: path.dirname(abs), timeoutMs: 10_000 });
}

/** A program running in the background (see startProgram). */
export interface BackgroundProgram {
  /** Its process id (undefined if it could not be started). */
  readonly pid: number | undefined;
  /** Everything it printed so far. */
  stdout(): string;
  stderr(): string;
  /** Has it exited (or been killed)? */
  exited(): boolean;
  /** Resolves when it has exited; never rejects. */
  readonly done: Promise<ExecResult>;
  /**
   * Poll its standard output until `ready(stdout)` holds. Rejects, with what
   * it printed, if it exits first or nothing matches within `timeoutMs`
   * (default 120 s: a generous limit for a loaded machine, not a measurement).
   */
  waitFor(what: string, ready: (stdout: string) => boolean, timeoutMs?: number): Promise<void>;
  /** Send it `signal` (default SIGKILL) if it is still running. */
  kill(signal?: NodeJS.Signals): void;
}

/**
 * Start a linked program with arguments and keep it running in the
 * background (AArch64 under qemu-aarch64, as `run` does). The caller must
 * end it: let it exit, or `kill()` it (in a `finally`).
 */
export function startProgram(prog: string, args: readonly string[], arch: Arch, opts: { cwd?: string } = {}): BackgroundProgram {
  const abs = path.resolve(prog);
  const [cmd, argv] = arch === 'aarch64' ? ['qemu-aarch64', [...aarch64Sysroot(), abs, ...args]] : [abs, [...args]];
  const child = spawn(cmd, argv, { cwd: opts.cwd ?? path.dirname(abs), stdio: ['ignore', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  let ended = false;
  child.stdout.on('data', (b: Buffer) => out.push(b));
  child.stderr.on('data', (b: Buffer) => err.push(b));
  const stdout = () => Buffer.concat(out).toString('utf8');
  const stderr = () => Buffer.concat(err).toString('utf8');
  const done = new Promise<ExecResult>((resolve) => {
    child.on('error', (e: NodeJS.ErrnoException) => {
      ended = true;
      const hint = e.code === 'ENOENT' ? ' (is it installed and in PATH?)' : '';
      err.push(Buffer.from(`cannot run ${showCommand(cmd, argv)}: ${e.message}${hint}\n`));
      resolve({ status: null, signal: null, stdout: stdout(), stderr: stderr(), timedOut: false });
    });
    child.on('close', (status, signal) => {
      ended = true;
      resolve({ status, signal, stdout: stdout(), stderr: stderr(), timedOut: false });
    });
  });
  const describe = () => `${showCommand(cmd, argv)}\nstdout:\n${stdout()}${stderr() ? `stderr:\n${stderr()}` : ''}`;
  return {
    pid: child.pid,
    stdout,
    stderr,
    exited: () => ended,
    done,
    async waitFor(what, ready, timeoutMs = 120_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        if (ready(stdout())) return;
        if (ended) {
          const r = await done;
          throw new Error(`${describeExit(r)} before it printed ${what}: ${describe()}`);
        }
        if (Date.now() > deadline) throw new Error(`no ${what} after ${timeoutMs / 1000} s: ${describe()}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    kill(signal: NodeJS.Signals = 'SIGKILL') {
      if (!ended) child.kill(signal);
    },
  };
}

/** Run async jobs with at most `limit` in flight. */
export class Pool {
  private active = 0;
  private readonly queue: (() => void)[] = [];

  constructor(private readonly limit: number) {}

  run<T>(job: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const start = () => {
        this.active++;
        job()
          .then(resolve, reject)
          .finally(() => {
            this.active--;
            const next = this.queue.shift();
            if (next) next();
          });
      };
      if (this.active < this.limit) start();
      else this.queue.push(start);
    });
  }
}

/** A pool size suited to the machine: 2..4 concurrent processes. */
export function defaultConcurrency(): number {
  const n = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  return Math.max(2, Math.min(4, n + 1));
}
