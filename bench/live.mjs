// The benchmark's live session (doc/benchmarks.md): a child process of
// bench/bench.mjs that keeps one LinkSession in memory, the way a watching
// build tool or `tslink --incremental --watch` would, and relinks on request.
//
// Messages (Node IPC), each answered with one message:
//   { op: 'load', cwd, args, output }
//       parse the linker command line `args` (GNU ld syntax, as the compiler
//       driver passes it) the way the tslink command line does, read every
//       input once, link in full with incremental: true, write `output`.
//   { op: 'relink', changed: [path, ...] }
//       the timed relink: read the changed inputs (paths as on the command
//       line), replaceInput each, link(), and emit() into the output file,
//       which stays open (only the changed ranges after a patch).
//   { op: 'exit' }
//
// Replies carry the wall time (performance.now), the CPU time of this process
// over the same span (process.cpuUsage: user + system), and the peak RSS of
// this process so far (process.resourceUsage().maxRSS, so it includes the
// load and the first full link).

import { closeSync, existsSync, ftruncateSync, openSync, readFileSync, writeSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { parseArgs } from '../dist/src/cli/args.js';
import { LinkSession } from '../dist/src/session/LinkSession.js';
import { isLinkerScript, parseInputScript } from '../dist/src/obj/linkerScript.js';

let session = null;
let fd = -1;
let cwd = '.';
/** Command-line path of each input -> its InputId. */
const ids = new Map();

const here = (path) => (isAbsolute(path) ? path : join(cwd, path));

function read(path) {
  const b = readFileSync(here(path));
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

// The command line's input resolution (src/cli/main.ts findInput and expandInput, which it does not export),
// repeated here: -lNAME is libNAME.so then libNAME.a in each -L directory (only .a after -Bstatic), and a linker
// script (Debian's libc.so) stands for the inputs it names. The bench checks that the session's first link is
// byte-identical to the command line's, so a difference shows.
function findInput(input, dirs) {
  if (input.kind === 'file') return input.path;
  const names = input.name.startsWith(':') ? [input.name.slice(1)]
    : input.staticOnly ? [`lib${input.name}.a`] : [`lib${input.name}.so`, `lib${input.name}.a`];
  for (const d of dirs) {
    for (const n of names) {
      const p = join(d, n);
      if (existsSync(here(p))) return p;
    }
  }
  throw new Error(`live session: unable to find library -l${input.name}`);
}

function expandInput(input, path, dirs, out, depth = 0) {
  const bytes = read(path);
  if (!isLinkerScript(bytes)) {
    out.push({ input, path, bytes });
    return;
  }
  if (depth > 8) throw new Error(`live session: ${path}: linker scripts nest too deeply`);
  const script = parseInputScript(path, new TextDecoder().decode(bytes));
  const searchDirs = [...script.searchDirs, ...dirs];
  for (const item of script.inputs) {
    const asNeeded = input.asNeeded || item.asNeeded;
    if (item.isLibrary) {
      const lib = { kind: 'library', name: item.path, wholeArchive: input.wholeArchive, staticOnly: input.staticOnly, asNeeded };
      expandInput(lib, findInput(lib, searchDirs), dirs, out, depth + 1);
      continue;
    }
    const candidates = item.path.startsWith('/') ? [item.path] : [join(dirname(path), item.path), item.path, ...searchDirs.map((d) => join(d, item.path))];
    const found = candidates.find((c) => existsSync(here(c)));
    if (!found) throw new Error(`live session: ${path}: cannot find ${item.path}, named by this linker script`);
    expandInput({ kind: 'file', path: found, wholeArchive: input.wholeArchive, staticOnly: input.staticOnly, asNeeded }, found, dirs, out, depth + 1);
  }
}

/** The session options the command line gives for `opts` (src/cli/main.ts runLink), with incremental on. */
function sessionOptions(opts) {
  return {
    format: 'elf', arch: opts.arch ?? 'x86_64', output: 'exe', entry: opts.entry, buildId: opts.buildId,
    undefinedSymbols: opts.undefinedSymbols, incremental: true, codeSlackPct: opts.codeSlackPct,
    dataSlackPct: opts.dataSlackPct, ehFrameHdr: opts.ehFrameHdr,
    // Dynamic linking's options, where this tslink's command line has them (undefined: the session's default).
    pie: opts.pie, dynamicLinker: opts.staticLink ? undefined : opts.dynamicLinker, bindNow: opts.bindNow,
    relro: opts.relro, runpath: opts.runpath, hashStyle: opts.hashStyle, exportDynamic: opts.exportDynamic,
  };
}

function emit(report) {
  const t = performance.now();
  session.emit({
    setSize(n) {
      if (report.outcome !== 'patched') ftruncateSync(fd, n);
    },
    write(offset, bytes) {
      let done = 0;
      while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done, offset + done);
    },
  });
  return performance.now() - t;
}

function measure(fn) {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const out = fn();
  const wallMs = performance.now() - t0;
  const c = process.cpuUsage(c0);
  return { ...out, wallMs, cpuMs: (c.user + c.system) / 1000, maxRssKb: process.resourceUsage().maxRSS };
}

function describe(r) {
  return { outcome: r.outcome, reason: r.reason, bytesWritten: r.writes.reduce((n, w) => n + w.length, 0), ranges: r.writes.length, size: r.size, work: r.work };
}

function load(msg) {
  cwd = msg.cwd;
  const opts = parseArgs(msg.args);
  return measure(() => {
    session = new LinkSession(sessionOptions(opts));
    const files = [];
    for (const input of opts.inputs) expandInput(input, findInput(input, opts.libraryPaths), opts.libraryPaths, files);
    for (const { input, path, bytes } of files) {
      ids.set(path, session.addInput(path, bytes, { wholeArchive: input.wholeArchive, asNeeded: input.asNeeded, readThinMember: (p) => read(p) }));
    }
    const linkStart = performance.now();
    const r = session.link();
    const linkMs = performance.now() - linkStart;
    fd = openSync(here(msg.output), 'w', 0o755);
    const writeMs = emit(r);
    return { ...describe(r), linkMs, writeMs };
  });
}

function relink(msg) {
  return measure(() => {
    for (const path of msg.changed) {
      const id = ids.get(path);
      if (id === undefined) throw new Error(`live session: ${path} is not an input of this link`);
      session.replaceInput(id, read(path));
    }
    const linkStart = performance.now();
    const r = session.link();
    const linkMs = performance.now() - linkStart;
    const writeMs = emit(r);
    return { ...describe(r), linkMs, writeMs };
  });
}

process.on('message', (msg) => {
  try {
    if (msg.op === 'load') process.send({ ok: true, ...load(msg) });
    else if (msg.op === 'relink') process.send({ ok: true, ...relink(msg) });
    else if (msg.op === 'exit') {
      if (fd >= 0) closeSync(fd);
      process.send({ ok: true }, () => process.exit(0));
    } else throw new Error(`live session: unknown op ${msg.op}`);
  } catch (e) {
    process.send({ ok: false, error: e instanceof Error ? e.message : String(e) });
  }
});
