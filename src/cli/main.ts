import {
  closeSync, constants as fsConstants, copyFileSync, existsSync, fchmodSync, fstatSync, fsyncSync, ftruncateSync, openSync, readFileSync, readSync,
  renameSync, statSync, unlinkSync, writeFileSync, writeSync, type BigIntStats,
} from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { LinkError } from '../obj/LinkError.js';
import { elfMachineToArch, isElf } from '../obj/readElf.js';
import { isArchive, readArchive } from '../obj/archive.js';
import { isLinkerScript, parseInputScript } from '../obj/linkerScript.js';
import { isSharedObject } from '../obj/readSharedObject.js';
import type { ArchName } from '../obj/model.js';
import { LinkSession, type InputId, type LinkReport } from '../session/LinkSession.js';
import { VERSION } from '../version.js';
import { HELP, parseArgs, type CliOptions, type InputArg } from './args.js';


/** Runs the command line; returns the exit status. Never throws. */
export async function main(argv: readonly string[]): Promise<number> {
  try {
    if (argv[0] === 'demo') {
      const { runDemo } = await import('./demo.js');
      return await runDemo(argv.slice(1));
    }
    const opts = parseArgs(argv);
    if (opts.help) {
      process.stdout.write(HELP);
      return 0;
    }
    if (opts.version || opts.verbose) {
      process.stdout.write(`tslink ${VERSION} (compatible with GNU linkers)\n`);
      if (opts.version || opts.inputs.length === 0) return 0;
    }
    return await runLink(opts);
  } catch (e) {
    return reportError(e);
  }
}

export function reportError(e: unknown): number {
  if (e instanceof LinkError) {
    for (const line of e.message.split('\n')) process.stderr.write(`tslink: error: ${line}\n`);
  } else if (e instanceof Error && 'code' in e && typeof e.code === 'string' && 'path' in e) {
    process.stderr.write(`tslink: error: ${String(e.path)}: ${systemMessage(e.code)}\n`);
  } else {
    const msg = e instanceof Error ? e.message : String(e);
    process.stderr.write(`tslink: internal error: ${msg}\n`);
    if (process.env.TSLINK_DEBUG && e instanceof Error) process.stderr.write(`${e.stack}\n`);
  }
  return 1;
}

function systemMessage(code: string): string {
  switch (code) {
    case 'ENOENT': return 'no such file or directory';
    case 'EACCES': return 'permission denied';
    case 'EISDIR': return 'is a directory';
    default: return code;
  }
}

function runLink(opts: CliOptions): number | Promise<number> {
  if (opts.inputs.length === 0) throw new LinkError('no input files');
  const tInputs = performance.now();
  const files: InputFile[] = [];
  for (const input of opts.inputs) expandInput(input, findInput(input, opts.libraryPaths), opts.libraryPaths, files, 0);
  const arch = opts.arch ?? guessArch(files);

  if (opts.staticLink) {
    const shared = files.find((f) => isSharedObject(f.head));
    if (shared) throw new LinkError(`attempted static link of dynamic object ${shared.path}`);
  }
  const session = new LinkSession({
    format: 'elf', arch, output: opts.shared ? 'shared' : 'exe', entry: opts.entry, soname: opts.soname, symbolic: opts.symbolic,
    versionScript: opts.versionScript ? { name: opts.versionScript, text: new TextDecoder().decode(readInput(opts.versionScript)) } : undefined,
    outputName: opts.output.split('/').pop(), buildId: opts.buildId, undefinedSymbols: opts.undefinedSymbols,
    incremental: opts.incremental, codeSlackPct: opts.codeSlackPct, dataSlackPct: opts.dataSlackPct,
    ehFrameHdr: opts.ehFrameHdr, pie: opts.pie, dynamicLinker: opts.staticLink ? undefined : opts.dynamicLinker, bindNow: opts.bindNow,
    relro: opts.relro, runpath: opts.runpath, hashStyle: opts.hashStyle, exportDynamic: opts.exportDynamic,
    gcSections: opts.gcSections, startStopGc: opts.startStopGc, printGcSections: opts.printGcSections,
  });
  const statePath = opts.incrementalState ?? `${opts.output}.tslink-state`;
  const inputsMs = performance.now() - tInputs;
  const tRead = performance.now();
  let prior: PriorOutput | null = null;
  try {
    if (opts.incremental && existsSync(statePath)) {
      const state = readInput(statePath);
      if (existsSync(opts.output)) prior = openPriorOutput(opts.output);
      // Read only where a patch looks when the output is the file the state names (its identity), whole otherwise.
      session.setPriorState(state, prior ? { size: prior.size, identity: prior.identity, read: (offset, length) => readAt(prior!, offset, length) } : undefined);
    }
    const readMs = performance.now() - tRead;
    // An input is read only if the session needs its bytes: not when the state shows it unchanged
    // (its identity: device, inode, size, times), unless the link falls back to a full one.
    const ids = files.map((f) =>
      session.addInput(f.path, f.bytes ?? (() => bytesOf(f)), {
        wholeArchive: f.input.wholeArchive,
        asNeeded: f.input.asNeeded,
        readThinMember: (member) => readInput(member),
        identity: opts.incremental && !isThin(f.head) ? f.identity : undefined,
      }));
    const report = session.link();
    if (opts.fatalWarnings && report.warnings.length) throw new LinkError(report.warnings.join('\n'));
    for (const w of report.warnings) process.stderr.write(`tslink: warning: ${w}\n`);
    // As lld prints them: on standard output, without a prefix.
    for (const line of report.removedSections) process.stdout.write(`${line}\n`);
    const tWrite = performance.now();
    const written = writeOutput(opts.output, session, report.outcome === 'patched' ? prior : null);
    // The state last: an image without its state is relinked in full, never wrongly patched. It names
    // the output file by its identity, so that the next link need not read and hash it to trust it.
    if (opts.incremental) writeFileAtomically(statePath, session.serializeState({ imageIdentity: written }));
    const writeMs = performance.now() - tWrite;
    if (opts.explain) explain(report, { inputs: inputsMs, read: readMs, ...report.timings, write: writeMs });
    if (opts.watch) {
      if (prior) closeSync(prior.fd);
      prior = null;
      return watch(opts, session, files, ids, statePath);
    }
    return 0;
  } finally {
    if (prior) closeSync(prior.fd);
  }
}

/**
 * --watch: the session stays in memory; whenever an input file changes (its
 * identity: device, inode, size, times, the same on two polls in a row, so
 * that a compiler is done writing it), the changed inputs are replaced and
 * the output relinked, and the outcome and time printed. A failed relink is
 * reported and the watch goes on; SIGINT or SIGTERM ends it (status 0).
 */
function watch(opts: CliOptions, session: LinkSession, files: InputFile[], ids: InputId[], statePath: string): Promise<number> {
  const POLL_MS = 100;
  const key = (path: string): string => {
    try {
      const st = statSync(path, { bigint: true });
      return `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
    } catch {
      return 'missing';
    }
  };
  const seen = files.map((f) => key(f.path));
  const pending = new Map<number, string>();
  process.stdout.write(`tslink: watching ${files.length} inputs of ${opts.output}; relinking when one changes (Ctrl-C ends)\n`);
  return new Promise<number>((done) => {
    const timer = setInterval(() => {
      files.forEach((f, i) => {
        const now = key(f.path);
        if (now === seen[i] || now === 'missing') {
          pending.delete(i);
          return;
        }
        // Changed: relink once the file has stayed the same for a whole poll.
        if (pending.get(i) !== now) {
          pending.set(i, now);
          return;
        }
        seen[i] = now;
        pending.delete(i);
        session.replaceInput(ids[i], readInput(f.path));
        relinkNow = true;
      });
      if (!relinkNow) return;
      relinkNow = false;
      const t0 = performance.now();
      let prior: PriorOutput | null = null;
      try {
        if (existsSync(opts.output)) prior = openPriorOutput(opts.output);
        const report = session.link();
        for (const w of report.warnings) process.stderr.write(`tslink: warning: ${w}\n`);
        const written = writeOutput(opts.output, session, report.outcome === 'patched' ? prior : null);
        writeFileAtomically(statePath, session.serializeState({ imageIdentity: written }));
        const ms = (performance.now() - t0).toFixed(1);
        const bytes = report.writes.reduce((n, w) => n + w.length, 0);
        const what = report.outcome === 'patched' ? `patched (${bytes} bytes written)`
          : report.outcome === 'fell-back-full' ? `fell-back-full: ${report.reason}` : 'full';
        process.stdout.write(`tslink: ${what} in ${ms} ms\n`);
      } catch (e) {
        reportError(e);
      } finally {
        if (prior) closeSync(prior.fd);
      }
    }, POLL_MS);
    let relinkNow = false;
    const stop = () => {
      clearInterval(timer);
      done(0);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}

/** The previous output, read through a descriptor that stays open until the new one is written. */
interface PriorOutput {
  path: string;
  fd: number;
  size: number;
  identity: BigIntStats;
}

function openPriorOutput(path: string): PriorOutput {
  let fd = -1;
  try {
    fd = openSync(path, 'r');
    const identity = fstatSync(fd, { bigint: true });
    return { path, fd, size: Number(identity.size), identity };
  } catch (e) {
    if (fd >= 0) closeSync(fd);
    const code = (e as { code?: string }).code ?? 'error';
    throw new LinkError(`cannot open ${path}: ${systemMessage(code)}`);
  }
}

/** `length` bytes of the previous output at `offset` (fewer if it ends sooner). */
function readAt(prior: PriorOutput, offset: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  let done = 0;
  try {
    while (done < length) {
      const n = readSync(prior.fd, out, done, length - done, offset + done);
      if (n === 0) break;
      done += n;
    }
  } catch (e) {
    const code = (e as { code?: string }).code ?? 'error';
    throw new LinkError(`cannot read ${prior.path}: ${systemMessage(code)}`);
  }
  return done === length ? out : out.subarray(0, done);
}

function explain(report: LinkReport, timings: Record<string, number>): void {
  const bytes = report.writes.reduce((n, w) => n + w.length, 0);
  const w = report.work;
  const work = `${w.atomsPlaced} atoms placed, ${w.relocsApplied} relocations applied, ${w.bytesHashed} input bytes hashed, `
    + `${w.inputBytesRead} input bytes read, ${w.imageBytesRead} bytes of the previous output read`;
  let line: string;
  if (report.outcome === 'patched') line = `tslink: patched: ${bytes} bytes written in ${report.writes.length} ranges (${work})`;
  else if (report.outcome === 'fell-back-full') line = `tslink: fell-back-full: ${report.reason} (${work})`;
  else line = `tslink: full: ${bytes} bytes written (${work})`;
  const time = Object.entries(timings).map(([k, v]) => `${k} ${v.toFixed(1)} ms`).join(', ');
  process.stdout.write(`${line}\n  time: ${time}\n`);
}

/**
 * An input file: its first bytes (enough for its kind and machine), its
 * identity taken before anything else was read, and its bytes once read.
 * An ELF file or an archive is not read past its first bytes here.
 */
interface InputFile {
  input: InputArg;
  path: string;
  head: Uint8Array;
  identity: BigIntStats;
  bytes: Uint8Array | null;
}

const HEAD = 64;

function peekInput(input: InputArg, path: string): InputFile {
  let fd = -1;
  try {
    fd = openSync(path, 'r');
    const identity = fstatSync(fd, { bigint: true });
    if (identity.isDirectory()) throw Object.assign(new Error('EISDIR'), { code: 'EISDIR' });
    const head = new Uint8Array(HEAD);
    let n = 0;
    for (let got = -1; got !== 0 && n < HEAD;) n += got = readSync(fd, head, n, HEAD - n, n);
    const file: InputFile = { input, path, head: head.subarray(0, n), identity, bytes: null };
    // Anything but an ELF file or an archive is read now (from its start: the reads above were positioned):
    // it may be a linker script.
    if (n < HEAD || !(isElf(file.head) || isArchive(file.head))) {
      const b = readFileSync(fd);
      file.bytes = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
    }
    return file;
  } catch (e) {
    const code = (e as { code?: string }).code ?? 'error';
    throw new LinkError(`cannot open ${path}: ${systemMessage(code)}`);
  } finally {
    if (fd >= 0) closeSync(fd);
  }
}

/** The file's bytes, read now if they were not. */
function bytesOf(f: InputFile): Uint8Array {
  f.bytes ??= readInput(f.path);
  return f.bytes;
}

function isThin(head: Uint8Array): boolean {
  return new TextDecoder().decode(head.subarray(0, 8)) === '!<thin>\n';
}

/**
 * Adds an input, or, when it is a linker script naming other inputs (as
 * Debian's libc.so and libm.a are), the inputs it names, in its place.
 */
function expandInput(input: InputArg, path: string, libraryPaths: readonly string[], files: InputFile[], depth: number, open: string[] = []): void {
  const file = peekInput(input, path);
  const bytes = file.bytes;
  if (!bytes || !isLinkerScript(bytes)) {
    if (files.length >= 100_000) throw new LinkError(`${path}: linker scripts name more than 100000 inputs`);
    files.push(file);
    return;
  }
  if (depth > 8) throw new LinkError(`${path}: linker scripts nest too deeply`);
  if (open.includes(resolve(path))) throw new LinkError(`${path}: linker script names itself (through ${open.join(' -> ')})`);
  open = [...open, resolve(path)];
  const script = parseInputScript(path, new TextDecoder().decode(bytes));
  const dirs = [...script.searchDirs, ...libraryPaths];
  for (const item of script.inputs) {
    const asNeeded = input.asNeeded || item.asNeeded;
    if (item.isLibrary) {
      const lib: InputArg = { kind: 'library', name: item.path, wholeArchive: input.wholeArchive, staticOnly: input.staticOnly, asNeeded };
      expandInput(lib, findInput(lib, dirs), libraryPaths, files, depth + 1, open);
      continue;
    }
    // A relative name is looked up beside the script first, as GNU ld does for sysroot-less scripts.
    const candidates = item.path.startsWith('/') ? [item.path] : [join(dirname(path), item.path), item.path, ...dirs.map((d) => join(d, item.path))];
    const found = candidates.find((c) => existsSync(c));
    if (!found) throw new LinkError(`${path}: cannot find ${item.path}, named by this linker script`);
    expandInput({ kind: 'file', path: found, wholeArchive: input.wholeArchive, staticOnly: input.staticOnly, asNeeded }, found, libraryPaths, files, depth + 1, open);
  }
}

function readInput(path: string): Uint8Array {
  try {
    const b = readFileSync(path);
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  } catch (e) {
    const code = (e as { code?: string }).code ?? 'error';
    throw new LinkError(`cannot open ${path}: ${systemMessage(code)}`);
  }
}

/**
 * -lNAME: in each -L directory in order, libNAME.so then libNAME.a (only
 * libNAME.a after -Bstatic), as GNU ld and lld search; -l:FILE: FILE.
 */
function findInput(input: InputArg, libraryPaths: readonly string[]): string {
  if (input.kind === 'file') return input.path;
  const names = input.name.startsWith(':') ? [input.name.slice(1)]
    : input.staticOnly ? [`lib${input.name}.a`] : [`lib${input.name}.so`, `lib${input.name}.a`];
  for (const dir of libraryPaths) {
    for (const n of names) {
      const p = join(dir, n);
      if (existsSync(p)) return p;
    }
  }
  throw new LinkError(`unable to find library -l${input.name}`);
}

/** Without -m, the first ELF input (or archive member) decides the architecture. */
function guessArch(files: InputFile[]): ArchName {
  for (const f of files) {
    let bytes = f.bytes ?? f.head;
    if (isArchive(bytes)) {
      try {
        const ar = readArchive(f.path, bytesOf(f), (p) => readInput(p));
        if (!ar.members.length) continue;
        bytes = ar.members[0].bytes;
      } catch {
        continue; // the link proper reports the malformed archive
      }
    }
    if (isElf(bytes) && bytes.length >= 20) {
      const arch = elfMachineToArch(bytes[18] | (bytes[19] << 8));
      if (arch) return arch;
    }
  }
  return 'x86_64';
}

/**
 * Writes the image beside the output and renames it into place: a failed or
 * interrupted link never leaves a half-written file under the output's name,
 * and a running program keeps its old mapping (no ETXTBSY).
 *
 * A patch (`prior` given) writes only its ranges, onto a copy of the previous
 * output (a reflink where the file system has them: then the copy costs
 * nothing and the sync writes only the patch), but only if that copy is of
 * the very file the patch was computed against: a concurrent link may have
 * renamed another image over the output since it was opened. Then the whole
 * image is written instead. Either way the file is created afresh, so its
 * mode is 0777 less the umask, as ld.lld's.
 *
 * Returns the new output's identity (device, inode, size, times), taken
 * after the rename, from the descriptor it was written through: the state
 * records it, and the next link trusts a file with that identity to be this
 * image without reading it.
 */
function writeOutput(output: string, session: LinkSession, prior: PriorOutput | null): BigIntStats {
  const path = resolve(output);
  const tmp = join(dirname(path), `.${path.split('/').pop()}.tslink-tmp-${process.pid}`);
  let fd = -1;
  try {
    fd = openSync(tmp, 'w', 0o777);
    let patch = false;
    if (prior) {
      const mode = fstatSync(fd).mode & 0o7777;
      closeSync(fd);
      fd = -1;
      try {
        // A copy of the previous image (a reflink where the file system has them); it takes the old file's mode.
        copyFileSync(path, tmp, fsConstants.COPYFILE_FICLONE);
        // Our descriptor keeps the inode we read alive, so no other file can have its number: if the output is
        // still that inode after the copy, it was that inode during the copy (tslink never renames an old image back).
        const now = statSync(path, { bigint: true });
        patch = now.dev === prior.identity.dev && now.ino === prior.identity.ino;
      } catch {
        patch = false; // the previous output went away: the whole image it is
      }
      fd = openSync(tmp, 'r+');
      fchmodSync(fd, mode);
    }
    const handle = fd;
    const write = (offset: number, bytes: Uint8Array) => {
      let done = 0;
      while (done < bytes.length) done += writeSync(handle, bytes, done, bytes.length - done, offset + done);
    };
    if (patch) {
      session.emit({ setSize: () => undefined, write });
    } else {
      const image = session.image();
      ftruncateSync(handle, image.length);
      write(0, image);
    }
    fsyncSync(fd);
    renameSync(tmp, path);
    // After the rename, which changes the inode's status-change time.
    const identity = fstatSync(fd, { bigint: true });
    closeSync(fd);
    fd = -1;
    return identity;
  } catch (e) {
    if (fd >= 0) closeSync(fd);
    try { unlinkSync(tmp); } catch { /* already gone */ }
    const code = (e as { code?: string }).code;
    if (code) throw new LinkError(`cannot write output file ${output}: ${systemMessage(code)}`);
    throw e;
  }
}

function writeFileAtomically(path: string, bytes: Uint8Array): void {
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, bytes);
    renameSync(tmp, path);
  } catch (e) {
    try { unlinkSync(tmp); } catch { /* already gone */ }
    const code = (e as { code?: string }).code;
    throw new LinkError(`cannot write incremental state ${path}: ${code ? systemMessage(code) : String(e)}`);
  }
}
