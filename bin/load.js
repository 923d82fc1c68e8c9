'use strict';
/**
 * Loads and runs the command line: one CommonJS bundle (dist/bundle/tslink.cjs,
 * built by `npm run build`), compiled through V8's code cache.
 *
 * A fresh `tslink` process spends a good part of its time compiling the
 * bundle's functions, the same ones every time. V8 can save what it compiled
 * and take it back in a later process (vm.Script's cachedData); Node 20 does
 * not do that for modules on its own. So the loader keeps one cache file per
 * bundle, under $TSLINK_COMPILE_CACHE, else $XDG_CACHE_HOME/tslink, else
 * ~/.cache/tslink, in a directory only this user can write (compiled code
 * from anyone else's file would be run as ours). TSLINK_COMPILE_CACHE=0
 * turns it off. The file is named by a hash of the bundle's text, Node's
 * version and the architecture; V8 checks its own version and flags, and
 * says when it rejects the data (then the loader writes it anew).
 *
 * V8 saves only functions that have been compiled, and a link compiles those
 * of the way it goes: a plain link, an incremental link done in full, or a
 * patch (main's LinkRoute). The file's header records the ways whose
 * functions it holds; a run that went another way writes it again, with
 * them. So the cache settles after at most three writes.
 *
 * Nothing here can fail a link: a cache that cannot be read, checked or
 * written is left alone. TSLINK_DEBUG=1 prints what the loader did.
 */
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');
const os = require('node:os');
const crypto = require('node:crypto');
const { wrap } = require('node:module');

const BUNDLE = path.join(__dirname, '..', 'dist', 'bundle', 'tslink.cjs');
const MAGIC = 0x43435354; // 'TSCC', little-endian
const HEADER = 8; // magic, then the ways (a bit each) the saved code covers
const ROUTES = { link: 1, 'incremental-full': 2, patched: 4 };
const STALE_MS = 7 * 24 * 3600 * 1000;

function debug(line) {
  if (process.env.TSLINK_DEBUG) process.stderr.write(`tslink: compile cache: ${line}\n`);
}

/** The cache directory, made if need be; null when there is none this user alone can write. */
function cacheDir() {
  const given = process.env.TSLINK_COMPILE_CACHE;
  if (given === '0' || given === 'off') return null;
  const dir = given || path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'tslink');
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = fs.lstatSync(dir);
  const mine = typeof process.getuid !== 'function' || st.uid === process.getuid();
  if (!st.isDirectory() || !mine || (st.mode & 0o022) !== 0) {
    debug(`${dir} is not a directory that only this user can write; not used`);
    return null;
  }
  return dir;
}

/** Runs tslink's main() on `argv`; sets the exit status. */
function runTslink(argv) {
  let source;
  try {
    source = fs.readFileSync(BUNDLE, 'utf8');
  } catch (e) {
    process.stderr.write(`tslink: cannot read ${BUNDLE}: ${e.code || e.message}; run \`npm run build\` first\n`);
    process.exitCode = 1;
    return Promise.resolve();
  }
  let file = null;
  let cached;
  let routes = 0;
  try {
    const dir = cacheDir();
    if (dir) {
      const key = crypto.createHash('sha256').update(`${process.version}\0${process.arch}\0`).update(source).digest('hex').slice(0, 32);
      file = path.join(dir, `compile-${key}`);
      const bytes = fs.readFileSync(file);
      if (bytes.length > HEADER && bytes.readUInt32LE(0) === MAGIC) {
        routes = bytes.readUInt32LE(4);
        cached = bytes.subarray(HEADER);
      }
    }
  } catch (e) {
    if (e.code !== 'ENOENT') debug(`not read: ${e.message}`);
  }
  const script = new vm.Script(wrap(source), { filename: BUNDLE, cachedData: cached });
  if (cached) debug(`${file}: ${script.cachedDataRejected ? 'rejected' : 'used'}`);
  const module = { exports: {} };
  script.runInThisContext()(module.exports, require, module, BUNDLE, path.dirname(BUNDLE));
  let seen = 0;
  return module.exports.main(argv, (route) => { seen |= ROUTES[route] || 0; }).then((status) => {
    process.exitCode = status;
    if (file && (!cached || script.cachedDataRejected || (seen & ~routes) !== 0)) save(file, script, cached && !script.cachedDataRejected ? routes | seen : seen);
  });
}

/**
 * Writes the code compiled so far, replacing the file at once. Removes the files of other bundles
 * last written over a week ago (another checkout of tslink may share the directory and still use its own).
 */
function save(file, script, routes) {
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    const data = script.createCachedData();
    const header = Buffer.alloc(HEADER);
    header.writeUInt32LE(MAGIC, 0);
    header.writeUInt32LE(routes, 4);
    fs.writeFileSync(tmp, Buffer.concat([header, data]), { mode: 0o600 });
    fs.renameSync(tmp, file);
    debug(`${file}: written (${data.length} bytes)`);
    const dir = path.dirname(file);
    for (const name of fs.readdirSync(dir)) {
      if (!name.startsWith('compile-') || name === path.basename(file) || name.includes('.tmp-')) continue;
      const other = path.join(dir, name);
      if (Date.now() - fs.statSync(other).mtimeMs > STALE_MS) fs.rmSync(other, { force: true });
    }
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    debug(`not written: ${e.message}`);
  }
}

module.exports = { runTslink };
