import {
  closeSync, constants as fsConstants, copyFileSync, existsSync, fchmodSync, fstatSync, fsyncSync, ftruncateSync, openSync, readFileSync,
  linkSync, renameSync, statSync, unlinkSync, writeFileSync, writeSync, type BigIntStats,
} from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { LinkError } from '../obj/LinkError.js';
import { elfMachineToArch, isElf } from '../obj/readElf.js';
import { coffMachineToArch, isCoff } from '../obj/readCoff.js';
import { isArchive, isThinArchive, readArchive } from '../obj/archive.js';
import { isLinkerScript, parseInputScript } from '../obj/linkerScript.js';
import { isSharedObject } from '../obj/readSharedObject.js';
import type { ArchName } from '../obj/model.js';
import { LinkSession, sameFileIdentity, type ByteRange, type ImageWriter, type InputId, type LinkReport, type OutputShadow, type RecordStore } from '../session/LinkSession.js';
import { VERSION } from '../version.js';
import { HELP, parseArgs, type CliOptions, type InputArg } from './args.js';
import { LINK_HELP, libFileName } from './peArgs.js';
import { parseModuleDefinition } from '../link/pe/exports.js';
import { InputArena, readFully } from './inputArena.js';
import { InputHeads, statIdentity } from './inputHeads.js';
import { InputWatch } from './inputWatch.js';


/**
 * Which way a link went, as its caller may want to know without parsing the
 * output: a link without --incremental, an incremental one done in full
 * (the first, or a fallback), or a patch. The command line's loader
 * (bin/load.js) keeps compiled code for each way it has seen.
 */
export type LinkRoute = 'link' | 'incremental-full' | 'patched';

/** Runs the command line; returns the exit status. Never throws. `observe` hears the way a link went, once it is done. */
export async function main(argv: readonly string[], observe?: (route: LinkRoute) => void): Promise<number> {
  try {
    if (argv[0] === 'demo') {
      const { runDemo } = await import('./demo.js');
      return await runDemo(argv.slice(1));
    }
    const opts = parseArgs(argv);
    if (opts.help) {
      process.stdout.write(opts.style === 'link' ? LINK_HELP : HELP);
      return 0;
    }
    if (opts.version || opts.verbose) {
      process.stdout.write(`tslink ${VERSION} (compatible with ${opts.style === 'link' ? 'lld-link' : 'GNU linkers'})\n`);
      if (opts.version || opts.inputs.length === 0) return 0;
    }
    return await runLink(opts, observe);
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

function runLink(opts: CliOptions, observe?: (route: LinkRoute) => void): number | Promise<number> {
  if (opts.inputs.length === 0) throw new LinkError('no input files');
  const tInputs = performance.now();
  // An incremental relink learns the inputs' first bytes from the last link's record of them, by identity.
  const peeks: Peeks = {
    heads: opts.incremental ? InputHeads.read(headsPath(opts)) : null, nowNs: BigInt(Date.now()) * 1_000_000n, looked: 0, opened: 0,
  };
  // Without -m (or a PE command line), the first ELF or COFF object says which format this is.
  const peeked = new Map<InputArg, InputFile>();
  const format = opts.format ?? detectFormat(opts, peeked, peeks);
  const search: SearchStyle = opts.style === 'link' ? 'link' : format === 'coff' ? 'mingw' : 'elf';
  let files: InputFile[] = [];
  for (const input of opts.inputs) {
    expandInput(input, findInput(input, opts.libraryPaths, search), opts.libraryPaths, files, 0, [], peeks, peeked.get(input), search);
  }
  if (format === 'coff') {
    checkNoElfOptions(opts);
    if (!opts.outputGiven && opts.style === 'gnu') opts.output = 'a.exe';
    // lld-link reads a file once, however often it is named (MinGW drivers name libraries twice).
    const seen = new Set<string>();
    files = files.filter((f) => {
      const key = `${f.identity.dev}:${f.identity.ino}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
  }
  if (format === 'elf') {
    const coff = files.find((f) => !isElf(f.head) && !isArchive(f.head) && f.bytes && isCoff(f.bytes));
    if (coff) throw new LinkError(`${coff.path}: a COFF object cannot be linked into an ELF output (to link a PE image, give -m i386pep)`);
  }
  const arch = opts.arch ?? guessArch(files, format);

  if (opts.staticLink && format === 'elf') {
    const shared = files.find((f) => isSharedObject(f.head));
    if (shared) throw new LinkError(`attempted static link of dynamic object ${shared.path}`);
  }
  if (format === 'coff') readModuleDefinitions(opts);
  const session = format === 'coff' ? new LinkSession({
    format: 'coff', arch, output: opts.shared ? 'shared' : 'exe', entry: opts.entry, outputName: opts.output.split(/[\\/]/).pop(),
    undefinedSymbols: opts.undefinedSymbols, incremental: opts.incremental, codeSlackPct: opts.codeSlackPct, dataSlackPct: opts.dataSlackPct,
    gcSections: opts.gcSections,
    pe: opts.pe as NonNullable<ConstructorParameters<typeof LinkSession>[0]['pe']>,
  }) : new LinkSession({
    format: 'elf', arch, output: opts.shared ? 'shared' : 'exe', entry: opts.entry, soname: opts.soname, symbolic: opts.symbolic,
    versionScript: opts.versionScript ? { name: opts.versionScript, text: new TextDecoder().decode(readInput(opts.versionScript)) } : undefined,
    outputName: opts.output.split('/').pop(), buildId: opts.buildId, undefinedSymbols: opts.undefinedSymbols,
    incremental: opts.incremental, codeSlackPct: opts.codeSlackPct, dataSlackPct: opts.dataSlackPct,
    ehFrameHdr: opts.ehFrameHdr, pie: opts.pie, dynamicLinker: opts.staticLink ? undefined : opts.dynamicLinker, bindNow: opts.bindNow,
    relro: opts.relro, runpath: opts.runpath, hashStyle: opts.hashStyle, exportDynamic: opts.exportDynamic,
    gcSections: opts.gcSections, startStopGc: opts.startStopGc, printGcSections: opts.printGcSections,
  });
  const statePath = incrementalStatePath(opts);
  const inputsMs = performance.now() - tInputs;
  const tRead = performance.now();
  let prior: PriorOutput | null = null;
  let fresh: NewOutput | null = null;
  const records = opts.incremental ? new RecordsFile(`${statePath}.records`) : null;
  try {
    if (records && existsSync(statePath)) {
      const state = readInput(statePath);
      if (existsSync(opts.output)) prior = openPriorOutput(opts.output);
      const haveRecords = records.open();
      // Read only where a patch looks when the output is the file the state names (its identity), whole otherwise.
      session.setPriorState(state, prior ? { size: prior.size, identity: prior.identity, read: (offset, length) => readAt(prior!, offset, length) } : undefined, haveRecords ? records : undefined);
    }
    const readMs = performance.now() - tRead;
    // An input is read only if the session needs its bytes: not when the state shows it unchanged
    // (its identity: device, inode, size, times), unless the link falls back to a full one.
    const tAdd = performance.now();
    const arena = new InputArena(() => files.filter((f) => !f.bytes).map((f) => Number(f.identity.size)));
    const ids = files.map((f) =>
      session.addInput(f.path, f.bytes ?? (() => bytesOf(f, arena)), {
        wholeArchive: f.input.wholeArchive,
        asNeeded: f.input.asNeeded,
        readThinMember: (member) => readInput(member),
        identity: opts.incremental && !isThinArchive(f.head) ? f.identity : undefined,
        release: (keep) => {
          if (f.bytes) arena.release(f.bytes, keep);
          f.bytes = f.bytes?.subarray(0, keep) ?? null;
        },
      }));
    const addMs = performance.now() - tAdd;
    // A link that keeps no state writes its image as it is made, beside the output, and keeps no copy.
    fresh = opts.incremental ? null : new NewOutput(opts.output);
    const report = session.link(fresh ? { stream: fresh.writer } : {});
    observe?.(!opts.incremental ? 'link' : report.outcome === 'patched' ? 'patched' : 'incremental-full');
    const warnings = [...opts.warnings, ...report.warnings];
    if (opts.fatalWarnings && warnings.length) throw new LinkError(warnings.join('\n'));
    for (const w of warnings) process.stderr.write(`tslink: warning: ${w}\n`);
    // As lld prints them: on standard output, without a prefix.
    for (const line of report.removedSections) process.stdout.write(`${line}\n`);
    const tWrite = performance.now();
    const written = fresh
      ? placeFullImage(fresh, opts.output, false)
      : writeOrKeepOutput(opts.output, session, report, prior, opts.incremental && keepsShadow(opts, format, arch), opts.incremental);
    fresh = null;
    // The state last: an image without its state is relinked in full, never wrongly patched. It names
    // the output file by its identity, so that the next link need not read and hash it to trust it.
    if (records) writeState(statePath, records, session, written);
    peeks.heads?.save(headsPath(opts), (path, bytes) => writeFileAtomically(path, bytes, 'input heads'));
    const implib = importLibraryPath(opts);
    if (format === 'coff' && implib) writeFileAtomically(implib, session.importLibrary()!, 'import library');
    const writeMs = performance.now() - tWrite;
    if (opts.explain) explain(report, peeks, { inputs: inputsMs, read: readMs, add: addMs, ...report.timings, write: writeMs });
    if (opts.watch) {
      if (prior) closeSync(prior.fd);
      prior = null;
      return watch(opts, session, files, ids, statePath, records!, keepsShadow(opts, format, arch));
    }
    records?.close();
    return 0;
  } finally {
    if (prior) closeSync(prior.fd);
    fresh?.abandon();
  }
}

/**
 * A PE link's module-definition files: their exports join the command
 * line's; LIBRARY names the output and BASE= sets the image base, unless the
 * command line does (lld: the export directory names the output file).
 */
function readModuleDefinitions(opts: CliOptions): void {
  for (const file of opts.defFiles) {
    const def = parseModuleDefinition(new TextDecoder().decode(readInput(file)), file);
    (opts.pe.exports ??= []).push(...def.exports);
    if (def.library && !opts.outputGiven) {
      opts.output = def.library.includes('.') ? def.library : `${def.library}${opts.shared ? '.dll' : '.exe'}`;
      opts.outputGiven = true;
    }
    if (def.base !== undefined) opts.pe.imageBase ??= def.base;
    if (def.heap) {
      opts.pe.heapReserve ??= def.heap[0];
      if (def.heap[1] !== undefined) opts.pe.heapCommit ??= def.heap[1];
    }
    if (def.stack) {
      opts.pe.stackReserve ??= def.stack[0];
      if (def.stack[1] !== undefined) opts.pe.stackCommit ??= def.stack[1];
    }
    if (def.version) opts.pe.imageVersion ??= def.version;
  }
}

/**
 * Where a PE link writes its import library: --out-implib (MinGW); for
 * lld-link, /implib: or, for a DLL or an image that names exports, the
 * output's name with .lib, unless /noimplib.
 */
function importLibraryPath(opts: CliOptions): string | null {
  if (opts.implib !== undefined) return opts.implib;
  if (opts.style !== 'link' || !(opts.shared || opts.pe.exports?.length)) return null;
  return opts.output.replace(/\.[^./\\]*$/, '') + '.lib';
}

/**
 * --watch: the session stays in memory; whenever an input file changes (its
 * identity: device, inode, size, times, the same on two polls in a row, so
 * that a compiler is done writing it), the changed inputs are replaced and
 * the output relinked, and the outcome and time printed. A failed relink is
 * reported and the watch goes on; SIGINT or SIGTERM ends it (status 0).
 */
function watch(
  opts: CliOptions, session: LinkSession, files: InputFile[], ids: InputId[], statePath: string, records: RecordsFile, shadow: boolean,
): Promise<number> {
  const POLL_MS = 100;
  /** Every input is looked at once in this many polls; between, only those the kernel said changed. */
  const SWEEP_POLLS = 10;
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
  const changes = new InputWatch(files.map((f) => f.path));
  let polls = 0;
  return new Promise<number>((done) => {
    const timer = setInterval(() => {
      const sweep = polls++ % SWEEP_POLLS === 0;
      files.forEach((f, i) => {
        if (!changes.take(i) && !sweep && !pending.has(i)) return;
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
        const written = writeOrKeepOutput(opts.output, session, report, prior, shadow, true);
        writeState(statePath, records, session, written);
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
    // Kept for every signal, not once: Ctrl-C reaches the whole process group, and bin/tslink.js (which
    // runs the watch in a child Node) passes the same signal on; a second one must not kill the process.
    let stopped = false;
    const stop = () => {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      changes.close();
      records.close();
      done(0);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    // Said once the signals end the watch: a Ctrl-C from then on is a clean stop.
    process.stdout.write(`tslink: watching ${files.length} inputs of ${opts.output}; relinking when one changes (Ctrl-C ends)\n`);
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
  return readRange(prior.fd, prior.path, offset, length);
}

/** `length` bytes of the file open as `fd` at `offset` (fewer if it ends sooner), into `out` if given; a LinkError naming `path` if it cannot. */
function readRange(fd: number, path: string, offset: number, length: number, out = new Uint8Array(length)): Uint8Array {
  let done = 0;
  try {
    done = readFully(fd, out, offset);
  } catch (e) {
    const code = (e as { code?: string }).code ?? 'error';
    throw new LinkError(`cannot read ${path}: ${systemMessage(code)}`);
  }
  return done === length ? out : out.subarray(0, done);
}

function explain(report: LinkReport, peeks: Peeks, timings: Record<string, number>): void {
  const bytes = report.writes.reduce((n, w) => n + w.length, 0);
  const w = report.work;
  const work = `${w.atomsPlaced} atoms placed, ${w.relocsApplied} relocations applied, ${w.bytesHashed} input bytes hashed, `
    + `${w.inputBytesRead} input bytes read, ${w.imageBytesRead} bytes of the previous output read, `
    + `${peeks.opened} of ${peeks.looked} input files opened`;
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

/**
 * How the inputs are looked at: an incremental link's record of their heads
 * (inputHeads.ts), the time they were first looked at, and how many were
 * looked at and how many of those opened (--explain says).
 */
interface Peeks {
  heads: InputHeads | null;
  nowNs: bigint;
  looked: number;
  opened: number;
}

/** Where the incremental state lives: --incremental-state, or beside the output. */
function incrementalStatePath(opts: CliOptions): string {
  return opts.incrementalState ?? `${opts.output}.tslink-state`;
}

/** Where the inputs' heads are kept: beside the incremental state. */
function headsPath(opts: CliOptions): string {
  return `${incrementalStatePath(opts)}.heads`;
}

function peekInput(input: InputArg, path: string, peeks: Peeks): InputFile {
  peeks.looked++;
  // A file the last incremental link saw, with the same identity: its head as it was then, without opening it.
  if (peeks.heads && !peeks.heads.empty) {
    const identity = statIdentity(path);
    const head = identity && peeks.heads.lookup(path, identity);
    if (head) return { input, path, head, identity: identity!, bytes: null };
  }
  peeks.opened++;
  let fd = -1;
  try {
    fd = openSync(path, 'r');
    const identity = fstatSync(fd, { bigint: true });
    if (identity.isDirectory()) throw Object.assign(new Error('EISDIR'), { code: 'EISDIR' });
    const head = new Uint8Array(HEAD);
    const n = readFully(fd, head, 0);
    const file: InputFile = { input, path, head: head.subarray(0, n), identity, bytes: null };
    // Anything but an ELF file or an archive is read now (from its start: the reads above were positioned):
    // it may be a linker script.
    if (n < HEAD || !(isElf(file.head) || isArchive(file.head))) {
      const b = readFileSync(fd);
      file.bytes = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
    } else {
      peeks.heads?.remember(path, identity, file.head, peeks.nowNs);
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
function bytesOf(f: InputFile, arena?: InputArena): Uint8Array {
  f.bytes ??= arena?.read(f.path, Number(f.identity.size)) ?? readInput(f.path);
  return f.bytes;
}

/**
 * Adds an input, or, when it is a linker script naming other inputs (as
 * Debian's libc.so and libm.a are), the inputs it names, in its place.
 */
function expandInput(
  input: InputArg, path: string, libraryPaths: readonly string[], files: InputFile[], depth: number, open: string[] = [],
  peeks: Peeks, peeked?: InputFile, search: SearchStyle = 'elf',
): void {
  const file = peeked ?? peekInput(input, path, peeks);
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
      expandInput(lib, findInput(lib, dirs, search), libraryPaths, files, depth + 1, open, peeks, undefined, search);
      continue;
    }
    // A relative name is looked up beside the script first, as GNU ld does for sysroot-less scripts.
    const candidates = item.path.startsWith('/') ? [item.path] : [join(dirname(path), item.path), item.path, ...dirs.map((d) => join(d, item.path))];
    const found = candidates.find((c) => existsSync(c));
    if (!found) throw new LinkError(`${path}: cannot find ${item.path}, named by this linker script`);
    const named: InputArg = { kind: 'file', path: found, wholeArchive: input.wholeArchive, staticOnly: input.staticOnly, asNeeded };
    expandInput(named, found, libraryPaths, files, depth + 1, open, peeks, undefined, search);
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
 * How names are looked up: GNU ld's (ELF), lld's MinGW driver's, or
 * lld-link's (inputs and /defaultlib in the current directory, then the
 * /libpath directories).
 */
type SearchStyle = 'elf' | 'mingw' | 'link';

/**
 * -lNAME (ELF): in each -L directory in order, libNAME.so then libNAME.a
 * (only libNAME.a after -Bstatic), as GNU ld and lld search; -l:FILE: FILE.
 * MinGW: libNAME.dll.a, NAME.dll.a, libNAME.a, NAME.lib, then libNAME.dll
 * and NAME.dll (lld's searchLibrary; the .dll.a and .dll names not after
 * -Bstatic). lld-link: see findLinkFile.
 */
function findInput(input: InputArg, libraryPaths: readonly string[], search: SearchStyle = 'elf'): string {
  if (search === 'link') {
    if (input.kind === 'file') return findLinkFile(input.path, libraryPaths, true);
    const file = libFileName(input.name);
    const found = findLinkFile(file, libraryPaths, false);
    if (!existsSync(found)) throw new LinkError(`unable to find library /defaultlib:${input.name} (${file} is not in the current directory nor a /libpath directory)`);
    return found;
  }
  if (input.kind === 'file') return input.path;
  const n = input.name;
  const names = n.startsWith(':') ? [n.slice(1)]
    : search === 'mingw'
      ? (input.staticOnly ? [`lib${n}.a`, `${n}.lib`] : [`lib${n}.dll.a`, `${n}.dll.a`, `lib${n}.a`, `${n}.lib`, `lib${n}.dll`, `${n}.dll`])
      : input.staticOnly ? [`lib${n}.a`] : [`lib${n}.so`, `lib${n}.a`];
  for (const dir of libraryPaths) {
    for (const name of names) {
      const p = join(dir, name);
      if (!existsSync(p)) continue;
      if (search === 'mingw' && /\.dll$/i.test(name)) {
        throw new LinkError(`-l${n}: found ${p}: linking against a DLL itself is not supported, only through its import library (lib${n}.dll.a or lib${n}.a)`);
      }
      return p;
    }
  }
  throw new LinkError(`unable to find library -l${n}`);
}

/**
 * lld-link's findFile: an absolute path as it is; else the name in the
 * current directory, then in each /libpath directory, and for an input
 * whose name has no `.`, NAME.obj too. Not found: the name as given (the
 * open reports it).
 */
function findLinkFile(name: string, libraryPaths: readonly string[], addObj: boolean): string {
  if (name.startsWith('/')) return name;
  const obj = addObj && !name.includes('.');
  for (const dir of ['', ...libraryPaths]) {
    const p = dir ? join(dir, name) : name;
    if (existsSync(p)) return p;
    if (obj && existsSync(`${p}.obj`)) return `${p}.obj`;
  }
  return obj ? `${name}.obj` : name;
}

/**
 * The GNU command line without -m: the first input file that is an ELF or
 * a COFF object, or an archive whose first member is one, tells the format
 * (ELF when none does). The files looked at are kept in `peeked` for the link.
 */
function detectFormat(opts: CliOptions, peeked: Map<InputArg, InputFile>, peeks: Peeks): 'elf' | 'coff' {
  for (const input of opts.inputs) {
    if (input.kind !== 'file') continue;
    const file = peekInput(input, input.path, peeks);
    peeked.set(input, file);
    const bytes = firstObjectBytes(file);
    if (!bytes) continue;
    if (isElf(bytes)) return 'elf';
    if (isCoff(bytes)) return 'coff';
  }
  return 'elf';
}

/** The file's first bytes, or its first archive member's; null for an empty or malformed archive. */
function firstObjectBytes(f: InputFile): Uint8Array | null {
  const bytes = f.bytes ?? f.head;
  if (!isArchive(bytes)) return bytes;
  try {
    const ar = readArchive(f.path, bytesOf(f), (p) => readInput(p));
    return ar.members.length ? ar.members[0].bytes : null;
  } catch {
    return null; // the link proper reports the malformed archive
  }
}

/** Without -m (or /machine), the first ELF (COFF) input or archive member decides the architecture. */
function guessArch(files: InputFile[], format: 'elf' | 'coff' = 'elf'): ArchName {
  for (const f of files) {
    const bytes = firstObjectBytes(f);
    if (!bytes) continue;
    if (format === 'elf' && isElf(bytes) && bytes.length >= 20) {
      const arch = elfMachineToArch(bytes[18] | (bytes[19] << 8));
      if (arch) return arch;
    }
    if (format === 'coff' && !isElf(bytes) && isCoff(bytes)) {
      // A /bigobj object or an import library member starts 0x0000 0xffff, with the machine at 6.
      const at = bytes[0] === 0 && bytes[1] === 0 ? 6 : 0;
      const arch = bytes.length >= at + 2 ? coffMachineToArch(bytes[at] | (bytes[at + 1] << 8)) : undefined;
      if (arch) return arch;
    }
  }
  return 'x86_64';
}

/**
 * COFF inputs on the GNU command line without -m: the options that only
 * mean something for ELF outputs are errors rather than ignored.
 */
function checkNoElfOptions(opts: CliOptions): void {
  if (opts.shared && opts.style === 'gnu') throw new LinkError('-shared with COFF inputs: give -m i386pep to link a PE DLL');
  const elfOnly: [boolean, string][] = [
    [opts.pie, '-pie'], [opts.dynamicLinker !== undefined, '-dynamic-linker'], [opts.soname !== undefined, '-soname'],
    [opts.versionScript !== undefined, '--version-script'], [opts.runpath.length > 0, '-rpath'], [opts.exportDynamic, '--export-dynamic'],
    [opts.ehFrameHdr, '--eh-frame-hdr'], [opts.buildId !== undefined, '--build-id'], [opts.symbolic !== 'none', '-Bsymbolic'],
    [opts.bindNow, '-z now'], [!opts.relro, '-z norelro'], [opts.hashStyle !== 'both', '--hash-style'],
    [opts.printGcSections, '--print-gc-sections'], [!opts.startStopGc, '-z nostart-stop-gc'],
    [opts.inputs.some((i) => i.asNeeded), '--as-needed'],
  ];
  const given = elfOnly.find(([on]) => on);
  if (given) throw new LinkError(`${given[1]} applies to ELF outputs only, and the inputs are COFF objects (for a PE image, use MinGW's options with -m i386pep)`);
}

/**
 * Whether a patch keeps the image before it as the output's shadow
 * (--shadow-output). A running program keeps its mapping of the file it
 * was started from; when that file later becomes the shadow and is
 * rewritten, the kernel refuses (ETXTBSY) for a program it executed, and
 * the patch copies instead. A program mapped some other way (a shared
 * library, an emulator's or Wine's guest, `ld.so prog`) has no such guard,
 * so by default only an ELF executable this machine runs natively keeps one.
 */
function keepsShadow(opts: CliOptions, format: 'elf' | 'coff', arch: ArchName): boolean {
  if (opts.shadowOutput !== undefined) return opts.shadowOutput;
  const host = process.arch === 'x64' ? 'x86_64' : process.arch === 'arm64' ? 'aarch64' : null;
  return format === 'elf' && !opts.shared && arch === host && process.platform === 'linux';
}

/** What the state records of the files written: the output's identity, and the shadow's. */
interface Written {
  imageIdentity: BigIntStats;
  shadow: OutputShadow | null;
}

/**
 * The output written, or, when a patch changed nothing, left as it is (its
 * identity is then the one it had when it was opened, and its shadow stays
 * what it was). A patch writes its ranges into the shadow when there is one
 * (writeThroughShadow), else onto a copy of the previous output; a full link
 * writes the whole image, and a new shadow (a copy) when `keepShadow`.
 * `durable`: an incremental link, whose state will name the output, so the
 * output reaches the disk first (see NewOutput).
 */
function writeOrKeepOutput(output: string, session: LinkSession, report: LinkReport, prior: PriorOutput | null, keepShadow: boolean, durable: boolean): Written {
  const shadowPath = `${resolve(output)}.tslink-shadow`;
  if (report.outcome === 'patched' && prior) {
    if (report.writes.length === 0) return { imageIdentity: prior.identity, shadow: keepShadow ? session.priorShadow() : null };
    const recorded = keepShadow ? session.priorShadow() : null;
    const through = recorded ? writeThroughShadow(output, shadowPath, session, report, prior, recorded) : null;
    if (through) return through;
    return writePatchedCopy(output, session, prior, keepShadow ? { path: shadowPath, stale: report.writes } : null, durable);
  }
  const out = new NewOutput(output);
  try {
    session.emit(out.writer);
    const written = placeFullImage(out, output, durable);
    return keepShadow ? { ...written, shadow: writeFreshShadow(shadowPath, session, durable) } : written;
  } finally {
    out.abandon();
  }
}

/**
 * After a full link, the shadow starts as a second copy of the output, so
 * that the first patch too writes only its ranges: without one it copies
 * the whole output, where the file system has no reflinks 0.7 s of the
 * first relink at 200k functions (the full link pays a second write of the
 * image instead). Null, and no shadow, when it cannot be written: the
 * output is in place already, and the next patch copies.
 */
function writeFreshShadow(path: string, session: LinkSession, durable: boolean): OutputShadow | null {
  let copy: NewOutput | null = null;
  try {
    copy = new NewOutput(path);
    session.emit(copy.writer);
    return { identity: copy.commit(durable), stale: [] };
  } catch (e) {
    if (e instanceof LinkError) return null;
    throw e;
  } finally {
    copy?.abandon();
  }
}

/** A full link's image, written: renamed over the output; a shadow, of an image no longer there, goes. */
function placeFullImage(out: NewOutput, output: string, durable: boolean): Written {
  const imageIdentity = out.commit(durable);
  removeFile(`${resolve(output)}.tslink-shadow`);
  return { imageIdentity, shadow: null };
}

/**
 * The output, written beside its name and renamed into place once whole: a
 * failed or interrupted link never leaves a half-written file under the
 * output's name, and a running program keeps its old mapping (no ETXTBSY).
 * The file is created afresh, so its mode is 0777 less the umask, as
 * ld.lld's. A link without --incremental writes into it as it links
 * (LinkSession.link's stream).
 *
 * The image is synced to the disk before the rename only when `durable`:
 * an incremental link's state, written next, trusts the file its identity
 * names to be this image, and after a crash that name must not hold a file
 * the kernel never wrote. A plain link keeps nothing that trusts it and,
 * as ld.lld and mold, leaves the writing to the kernel (at 200k functions,
 * the sync of a 136 MB image took 45-75 ms here).
 */
class NewOutput {
  readonly path: string;
  private readonly tmp: string;
  private fd: number;

  constructor(private readonly output: string) {
    this.path = resolve(output);
    this.tmp = join(dirname(this.path), `.${this.path.split('/').pop()}.tslink-tmp-${process.pid}`);
    this.fd = this.io(() => openSync(this.tmp, 'w', 0o777));
  }

  readonly writer: ImageWriter = {
    setSize: (size) => this.io(() => ftruncateSync(this.fd, size)),
    write: (offset, bytes) => this.io(() => writeAll(this.fd, offset, bytes)),
  };

  /**
   * Makes the file a copy of the previous output (a reflink where the file
   * system has them), keeping its own mode. False when that copy is not of
   * the file `prior` was read from: the output went away, or another image
   * was renamed over it since it was opened.
   */
  copyOf(prior: PriorOutput): boolean {
    return this.io(() => {
      const mode = fstatSync(this.fd).mode & 0o7777;
      closeSync(this.fd);
      this.fd = -1;
      let same = false;
      try {
        copyFileSync(this.path, this.tmp, fsConstants.COPYFILE_FICLONE);
        // Our descriptor keeps the inode we read alive, so no other file can have its number: if the output is
        // still that inode after the copy, it was that inode during the copy (tslink never renames an old image back).
        const now = statSync(this.path, { bigint: true });
        same = now.dev === prior.identity.dev && now.ino === prior.identity.ino;
      } catch {
        same = false; // the previous output went away
      }
      this.fd = openSync(this.tmp, 'r+');
      fchmodSync(this.fd, mode);
      return same;
    });
  }

  /**
   * Renames the file over the output (synced first when `durable`), and
   * returns its identity (device, inode, size, times), taken after the
   * rename from the descriptor it was written through: an incremental
   * state records it, and the next link trusts a file with that identity
   * to be this image without reading it.
   */
  commit(durable: boolean): BigIntStats {
    return this.io(() => {
      if (durable) fsyncSync(this.fd);
      renameSync(this.tmp, this.path);
      const identity = fstatSync(this.fd, { bigint: true });
      closeSync(this.fd);
      this.fd = -1;
      return identity;
    });
  }

  /** Removes the file, unless it was committed. */
  abandon(): void {
    if (this.fd < 0) return;
    closeSync(this.fd);
    this.fd = -1;
    removeFile(this.tmp);
  }

  private io<T>(f: () => T): T {
    try {
      return f();
    } catch (e) {
      throw outputError(this.output, e);
    }
  }
}

/**
 * A patch written onto a copy of the previous output: only its ranges,
 * and the copy costs nothing where the file system has reflinks (then the
 * sync writes only the patch); but only if that copy is of the very file
 * the patch was computed against (NewOutput.copyOf), else the whole image.
 * With `shadow`, the previous output is kept under the shadow's name
 * rather than dropped.
 */
function writePatchedCopy(output: string, session: LinkSession, prior: PriorOutput, shadow: { path: string; stale: ByteRange[] } | null, durable: boolean): Written {
  const out = new NewOutput(output);
  let keep: string | null = null;
  try {
    const patch = out.copyOf(prior);
    if (patch) {
      session.emit(out.writer);
    } else {
      const image = session.image();
      out.writer.setSize(image.length);
      out.writer.write(0, image);
    }
    // The previous image, kept as the shadow: only if the output is still the file the patch read.
    keep = patch && shadow ? keepPrevious(out.path, prior) : null;
    const imageIdentity = out.commit(durable);
    if (keep && shadow) {
      renameSync(keep, shadow.path);
      keep = null;
      return { imageIdentity, shadow: { identity: fstatSync(prior.fd, { bigint: true }), stale: shadow.stale } };
    }
    if (shadow) removeFile(shadow.path);
    return { imageIdentity, shadow: null };
  } catch (e) {
    throw outputError(output, e);
  } finally {
    out.abandon();
    if (keep) removeFile(keep);
  }
}

/**
 * A patch written through the output's shadow, the image before the last
 * patch: the shadow is brought up to the previous output (its size, and the
 * ranges the last patch wrote, read from the previous output), the patch's
 * ranges written into it, and it is renamed over the output; the previous
 * output, hard-linked first, becomes the next shadow. No byte is written
 * but those ranges, and the output is replaced at once, as by NewOutput.
 * Null when the shadow cannot be used (gone, changed since it was recorded,
 * or being executed: ETXTBSY): the caller copies instead.
 */
function writeThroughShadow(
  output: string, shadowPath: string, session: LinkSession, report: LinkReport, prior: PriorOutput, recorded: OutputShadow,
): Written | null {
  const path = resolve(output);
  let fd = -1;
  try {
    fd = openSync(shadowPath, 'r+');
  } catch {
    return null;
  }
  let keep: string | null = null;
  try {
    const st = fstatSync(fd, { bigint: true });
    if (!sameFileIdentity(st, recorded.identity) || st.ino === prior.identity.ino) {
      closeSync(fd);
      return null;
    }
    const handle = fd;
    // Up to the previous output first: its size, then what the last patch wrote (read before anything is written).
    const catchUp = recorded.stale
      .filter((r) => r.offset < prior.size)
      .map((r) => ({ offset: r.offset, bytes: readAt(prior, r.offset, Math.min(r.length, prior.size - r.offset)) }));
    if (st.size !== BigInt(prior.size)) ftruncateSync(handle, prior.size);
    for (const w of catchUp) writeAll(handle, w.offset, w.bytes);
    session.emit({ setSize: (n) => { if (n !== prior.size) ftruncateSync(handle, n); }, write: (offset, bytes) => writeAll(handle, offset, bytes) });
    fsyncSync(handle);
    keep = keepPrevious(path, prior);
    if (!keep) {
      // The output is no longer the file the patch read: the shadow, half brought up, is of no more use.
      closeSync(fd);
      removeFile(shadowPath);
      return null;
    }
    renameSync(shadowPath, path);
    renameSync(keep, shadowPath);
    keep = null;
    const imageIdentity = fstatSync(handle, { bigint: true });
    closeSync(fd);
    fd = -1;
    return {
      imageIdentity,
      shadow: { identity: fstatSync(prior.fd, { bigint: true }), stale: report.writes },
    };
  } catch (e) {
    if (fd >= 0) closeSync(fd);
    if (keep) removeFile(keep);
    throw outputError(output, e);
  }
}

/**
 * A second name for the previous output, so that it survives the rename of
 * the new image over it, if the output is still the file the patch read
 * (`prior`); null if it is not.
 */
function keepPrevious(path: string, prior: PriorOutput): string | null {
  const keep = join(dirname(path), `.${path.split('/').pop()}.tslink-prev-${process.pid}`);
  removeFile(keep);
  try {
    linkSync(path, keep);
  } catch {
    return null;
  }
  const st = statSync(keep, { bigint: true });
  if (st.dev === prior.identity.dev && st.ino === prior.identity.ino) return keep;
  removeFile(keep);
  return null;
}

function writeAll(fd: number, offset: number, bytes: Uint8Array): void {
  let done = 0;
  while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done, offset + done);
}

/** A system error while writing the output, as the error the user sees; other errors as they are. */
function outputError(output: string, e: unknown): unknown {
  const code = (e as { code?: string }).code;
  return code ? new LinkError(`cannot write output file ${output}: ${systemMessage(code)}`) : e;
}

function removeFile(path: string): void {
  try { unlinkSync(path); } catch { /* not there */ }
}

/**
 * The state, after the output: the objects' records first, appended to the
 * records file beside it (or written as a new one: after a full link, or
 * when most of the file is records no longer referred to), then the state,
 * which refers to them, renamed into place. An interruption in between
 * leaves the previous state, whose records are still where it says: the
 * records file is only appended to, or replaced by a rename, after which
 * the previous state's records fail their checksums and the next link is a
 * full one.
 */
function writeState(statePath: string, records: RecordsFile, session: LinkSession, written: Written): void {
  const split = session.serializeStateSplit(records, written);
  records.write(split.records, split.fresh);
  writeFileAtomically(statePath, split.state);
}

/** The records file beside the state (LinkSession.serializeStateSplit), read where a patch looks. */
class RecordsFile implements RecordStore {
  private fd = -1;
  size = 0;

  constructor(private readonly path: string) {}

  /** Whether there is one. */
  open(): boolean {
    this.close();
    try {
      this.fd = openSync(this.path, 'r');
      this.size = fstatSync(this.fd).size;
      return true;
    } catch {
      this.fd = -1; // none: a state that refers to it is not used
      this.size = 0;
      return false;
    }
  }

  /**
   * Reads `length` bytes at `offset`. A small read (a fresh relink reads hundreds of 4 KiB blocks of the
   * globals) is a view of a shared slab, not a buffer of its own: each new ArrayBuffer costs a few
   * microseconds. A slab is never written again once handed out, so the views stay what was read.
   */
  read(offset: number, length: number): Uint8Array {
    if (length > RecordsFile.SLAB / 8) return readRange(this.fd, this.path, offset, length);
    if (this.slabUsed + length > this.slab.length) {
      this.slab = new Uint8Array(RecordsFile.SLAB);
      this.slabUsed = 0;
    }
    const out = readRange(this.fd, this.path, offset, length, this.slab.subarray(this.slabUsed, this.slabUsed + length));
    this.slabUsed += length;
    return out;
  }

  private static readonly SLAB = 256 * 1024;
  private slab = new Uint8Array(0);
  private slabUsed = 0;

  /** Appends `bytes` at the end, or (`fresh`) replaces the file with them, renamed into place. */
  write(bytes: Uint8Array, fresh: boolean): void {
    try {
      if (fresh) {
        writeFileAtomically(this.path, bytes, 'incremental records');
        this.open();
        return;
      }
      if (bytes.length === 0) return;
      const fd = openSync(this.path, 'r+');
      try {
        writeAll(fd, this.size, bytes);
      } finally {
        closeSync(fd);
      }
      this.size += bytes.length;
    } catch (e) {
      if (e instanceof LinkError) throw e;
      const code = (e as { code?: string }).code ?? 'error';
      throw new LinkError(`cannot write incremental records ${this.path}: ${systemMessage(code)}`);
    }
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}

function writeFileAtomically(path: string, bytes: Uint8Array, what = 'incremental state'): void {
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, bytes);
    renameSync(tmp, path);
  } catch (e) {
    try { unlinkSync(tmp); } catch { /* already gone */ }
    const code = (e as { code?: string }).code;
    throw new LinkError(`cannot write ${what} ${path}: ${code ? systemMessage(code) : String(e)}`);
  }
}
