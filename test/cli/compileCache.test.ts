/**
 * bin/load.js, the command line's loader: it keeps V8's compiled code for
 * the bundle in a cache directory (TSLINK_COMPILE_CACHE here), reuses it in
 * later processes, writes it again when a link goes a way (plain,
 * incremental in full, patched) whose code it lacks or when V8 rejects it,
 * and never lets the cache fail a link. TSLINK_DEBUG=1 makes it say what it
 * did, which is what these tests read.
 */
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { compile, exec, repoRoot, requireTools, tmpDir, type ExecResult } from '../support/toolchain.js';

const BIN = path.join(repoRoot(), 'bin', 'tslink.js');

describe('the command line\'s compile cache (bin/load.js)', function () {
  let work = '';
  let obj = '';

  before(async function () {
    await requireTools(['clang']);
    work = tmpDir('tslink-ccache');
    const src = path.join(work, 'main.c');
    fs.writeFileSync(src, '#include "start.h"\nint test_main(void) { return 42; }\n');
    obj = path.join(work, 'main.o');
    await compile(src, obj, 'x86_64', ['-I', path.join(repoRoot(), 'test', 'programs'), '-fno-pic']);
  });

  after(function () {
    if (work && !process.env.TSLINK_KEEP_TMP) fs.rmSync(work, { recursive: true, force: true });
  });

  /** Runs tslink with the cache in `cache`, debug lines on; `args` default to a plain link of main.o. */
  const tslink = (cache: string, args = ['-static', '-e', '_start', '-o', path.join(work, 'prog'), obj]): Promise<ExecResult> =>
    exec('node', [BIN, ...args], { cwd: work, env: { ...process.env, TSLINK_COMPILE_CACHE: cache, TSLINK_DEBUG: '1' } });

  const cacheLines = (r: ExecResult) => r.stderr.split('\n').filter((l) => l.startsWith('tslink: compile cache: ')).map((l) => l.replace(/^.*compile-[0-9a-f]+: /, ''));
  const files = (dir: string) => fs.readdirSync(dir).filter((n) => n.startsWith('compile-'));
  const routes = (dir: string) => fs.readFileSync(path.join(dir, files(dir)[0])).readUInt32LE(4);

  it('writes the cache, uses it in the next process, and writes it again for a way of linking it has not seen', async function () {
    const cache = path.join(work, 'cache-a');
    let r = await tslink(cache, ['--version']);
    expect(r.status).to.equal(0);
    expect(cacheLines(r), 'no cache yet: written after the run').to.have.length(1);
    expect(cacheLines(r)[0]).to.match(/^written \(\d+ bytes\)$/);
    expect(files(cache)).to.have.length(1);
    expect(fs.statSync(cache).mode & 0o777, 'the directory is the user\'s alone').to.equal(0o700);
    expect(routes(cache), '--version links nothing').to.equal(0);

    r = await tslink(cache);
    expect(r.status, r.stderr).to.equal(0);
    expect(cacheLines(r), 'a plain link: the cache used, then written with the plain link\'s code').to.have.length(2);
    expect(cacheLines(r)[0]).to.equal('used');
    expect(cacheLines(r)[1]).to.match(/^written/);
    expect(routes(cache)).to.equal(1);

    r = await tslink(cache);
    expect(r.status, r.stderr).to.equal(0);
    expect(cacheLines(r), 'the same again: used, not written').to.deep.equal(['used']);
    expect((await exec(path.join(work, 'prog'), [])).status, 'the program runs').to.equal(42);
  });

  it('a cache V8 rejects is not used, the link goes on, and the cache is written anew', async function () {
    const cache = path.join(work, 'cache-b');
    expect((await tslink(cache)).status).to.equal(0);
    const file = path.join(cache, files(cache)[0]);
    const bytes = fs.readFileSync(file);
    for (let i = 8; i < bytes.length; i += 7) bytes[i] ^= 0x5a;
    fs.writeFileSync(file, bytes);
    const r = await tslink(cache);
    expect(r.status, r.stderr).to.equal(0);
    expect(cacheLines(r)[0]).to.equal('rejected');
    expect(cacheLines(r)[1]).to.match(/^written/);
    expect(cacheLines(await tslink(cache))).to.deep.equal(['used']);
  });

  it('a directory others can write is not used; TSLINK_COMPILE_CACHE=0 turns the cache off', async function () {
    const open = path.join(work, 'cache-open');
    fs.mkdirSync(open);
    fs.chmodSync(open, 0o777);
    let r = await tslink(open);
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stderr).to.match(/is not a directory that only this user can write; not used/);
    expect(files(open), 'nothing written there').to.deep.equal([]);

    r = await tslink('0');
    expect(r.status, r.stderr).to.equal(0);
    expect(cacheLines(r)).to.deep.equal([]);
    expect(fs.existsSync(path.join(work, '0')), 'no directory named 0').to.equal(false);
  });

  it('writing its cache removes the caches of other bundles last written over a week ago, and keeps newer ones', async function () {
    const cache = path.join(work, 'cache-c');
    fs.mkdirSync(cache, { mode: 0o700 });
    const stale = path.join(cache, 'compile-0123456789abcdef0123456789abcdef');
    const recent = path.join(cache, 'compile-fedcba9876543210fedcba9876543210');
    fs.writeFileSync(stale, 'old');
    fs.writeFileSync(recent, 'new');
    const eightDaysAgo = new Date(Date.now() - 8 * 24 * 3600 * 1000);
    fs.utimesSync(stale, eightDaysAgo, eightDaysAgo);
    const r = await tslink(cache);
    expect(r.status, r.stderr).to.equal(0);
    expect(cacheLines(r)[0]).to.match(/^written/);
    expect(fs.existsSync(stale), 'the stale cache is removed').to.equal(false);
    expect(fs.existsSync(recent), 'another checkout\'s recent cache is kept').to.equal(true);
    expect(files(cache)).to.have.length(2);
  });

  it('a command line without its bundle says to build it, in one line', async function () {
    const copy = path.join(work, 'unbuilt');
    fs.mkdirSync(path.join(copy, 'bin'), { recursive: true });
    for (const name of ['tslink.js', 'load.js', 'package.json']) fs.copyFileSync(path.join(path.dirname(BIN), name), path.join(copy, 'bin', name));
    const r = await exec('node', [path.join(copy, 'bin', 'tslink.js'), '--version'], { cwd: work });
    expect(r.status).to.equal(1);
    expect(r.stderr.trim().split('\n')).to.have.length(1);
    expect(r.stderr).to.match(/^tslink: cannot read .*tslink\.cjs: ENOENT; run `npm run build` first/);
  });
});
