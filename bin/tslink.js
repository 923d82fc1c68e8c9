#!/usr/bin/env node
// The command line. It runs the bundle (npm run build) through load.js, which keeps V8's compiled code
// between runs: a fresh process loads one file, and compiles little of it.
const argv = process.argv.slice(2);
const FLAG = '--no-memory-reducer';

// `--watch` keeps its session in memory, idle between relinks. V8's memory reducer goes over an idle heap
// (a large program's session holds a gigabyte) and leaves the next relink to pay for it: at 200k functions a
// relink after 10 s idle took 6 or 16 ms, 3 to 8 ms without it (doc/incremental.md). Node takes the flag only
// when it starts, so the watch runs in a child Node started with it; this process passes signals on and
// ends as the child does. The child has a process group of its own, so that a Ctrl-C (which the terminal
// sends to the whole foreground group) reaches it once, passed on from here, and not a second time while
// it is already ending.
if (argv.includes('--watch') && !process.execArgv.includes(FLAG)) {
  const { spawn } = require('node:child_process');
  const child = spawn(process.execPath, [...process.execArgv, FLAG, __filename, ...argv], {
    stdio: 'inherit', detached: true, env: { ...process.env, TSLINK_WATCH_PARENT: String(process.pid) },
  });
  const forward = (signal) => child.kill(signal);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, forward);
  child.on('error', (e) => {
    process.stderr.write(`tslink: cannot start the watch: ${e.message}\n`);
    process.exit(1);
  });
  child.on('exit', (code, signal) => {
    if (signal) {
      for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.off(s, forward);
      process.kill(process.pid, signal);
    } else {
      process.exit(code ?? 1);
    }
  });
} else {
  // The watch's child ends if this process is gone (killed outright: no signal to pass on).
  const parent = Number(process.env.TSLINK_WATCH_PARENT);
  if (parent > 0) {
    setInterval(() => {
      if (process.ppid !== parent) process.exit(1);
    }, 1000).unref();
  }
  require('./load.js').runTslink(argv).then(() => {
    // Once the link is done (its files written and closed), end the process at once rather than let Node take
    // its heap apart first: about 5 ms of a fresh incremental relink at 200k functions. Not while output is
    // still queued for a pipe (asynchronous on some systems), and never for a watch, which goes on.
    if (!argv.includes('--watch') && process.stdout.writableLength === 0 && process.stderr.writableLength === 0) process.exit();
  });
}
