/**
 * inputHeads.ts: the incremental command line's record of its inputs' first
 * bytes, by path and file identity, beside the state. A relink learns an
 * unchanged input's head from it with a stat, without opening the file.
 */
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { InputHeads, statIdentity } from '../../src/cli/inputHeads.js';
import { tmpDir } from '../support/toolchain.js';

describe('the inputs\' heads kept beside the incremental state', function () {
  let work = '';
  beforeEach(function () {
    work = tmpDir('tslink-heads');
  });
  afterEach(function () {
    if (work && !process.env.TSLINK_KEEP_TMP) fs.rmSync(work, { recursive: true, force: true });
  });

  const HEAD = new Uint8Array(64).map((_, i) => i * 3);
  /** A file whose times are set an hour back (settled); its ctime is now, so "now" for the cache is an hour on. */
  const file = (name: string, bytes: Uint8Array = HEAD) => {
    const p = path.join(work, name);
    fs.writeFileSync(p, bytes);
    return p;
  };
  const later = () => BigInt(Date.now() + 3_600_000) * 1_000_000n;
  const write = (p: string, bytes: Uint8Array) => fs.writeFileSync(p, bytes);

  it('gives back a remembered head while the file keeps its identity, and nothing once it changes', function () {
    const a = file('a.o');
    const cachePath = path.join(work, 'state.heads');
    const heads = InputHeads.read(cachePath);
    expect(heads.empty, 'no file yet: empty').to.equal(true);
    heads.remember(a, statIdentity(a)!, HEAD, later());
    heads.save(cachePath, write);

    const again = InputHeads.read(cachePath);
    expect(again.empty).to.equal(false);
    expect([...again.lookup(a, statIdentity(a)!)!]).to.deep.equal([...HEAD]);
    fs.writeFileSync(a, new Uint8Array(64)); // same size, new contents: new times
    const st = statIdentity(a)!;
    const changed = InputHeads.read(cachePath).lookup(a, { ...st, mtimeNs: st.mtimeNs + 1n } as typeof st);
    expect(changed, 'another identity: no head').to.equal(undefined);
    expect(InputHeads.read(cachePath).lookup(path.join(work, 'b.o'), st), 'another path: no head').to.equal(undefined);
  });

  it('gives each file its own head, whatever its name or its head\'s length', function () {
    const heads = new Map([['ä.o', 10], ['b.o', 64], ['c-日本.o', 1], ['d.o', 0]].map(([name, n]) => {
      const head = new Uint8Array(n as number).map((_, i) => (i * 7 + (name as string).length) & 0xff);
      const p = file(name as string, head);
      fs.utimesSync(p, new Date(Date.now() - 7_200_000), new Date(Date.now() - 3_600_000)); // every time its own
      return [p, head];
    }));
    const cachePath = path.join(work, 'state.heads');
    const first = InputHeads.read(cachePath);
    for (const [p, head] of heads) first.remember(p, statIdentity(p)!, head, later());
    first.save(cachePath, write);
    const second = InputHeads.read(cachePath);
    // Looked up in another order than written: each entry is found by its path.
    for (const [p, head] of [...heads].reverse()) expect([...second.lookup(p, statIdentity(p)!)!], p).to.deep.equal([...head]);
    const [a, b] = [...heads.keys()];
    expect(InputHeads.read(cachePath).lookup(a, statIdentity(b)!), 'another file\'s identity').to.equal(undefined);
    // Saved again after those lookups: the entries read from the file are written back as they were.
    second.remember(path.join(work, 'b.o'), statIdentity(path.join(work, 'b.o'))!, heads.get(path.join(work, 'b.o'))!, later());
    second.save(cachePath, write);
    const third = InputHeads.read(cachePath);
    for (const [p, head] of heads) expect([...third.lookup(p, statIdentity(p)!)!], `${p} after a rewrite`).to.deep.equal([...head]);
  });

  it('does not remember a file whose times are too recent to trust', function () {
    const a = file('a.o');
    const cachePath = path.join(work, 'state.heads');
    const heads = InputHeads.read(cachePath);
    heads.remember(a, statIdentity(a)!, HEAD, BigInt(Date.now()) * 1_000_000n);
    heads.save(cachePath, write);
    expect(fs.existsSync(cachePath), 'nothing to write').to.equal(false);
  });

  it('keeps only the entries of the files the last link looked at', function () {
    const [a, b] = [file('a.o'), file('b.o')];
    const cachePath = path.join(work, 'state.heads');
    const first = InputHeads.read(cachePath);
    first.remember(a, statIdentity(a)!, HEAD, later());
    first.remember(b, statIdentity(b)!, HEAD, later());
    first.save(cachePath, write);
    const second = InputHeads.read(cachePath);
    expect(second.lookup(a, statIdentity(a)!)).to.not.equal(undefined);
    second.save(cachePath, write); // b.o not looked at
    const third = InputHeads.read(cachePath);
    expect(third.lookup(a, statIdentity(a)!)).to.not.equal(undefined);
    expect(third.lookup(b, statIdentity(b)!), 'b.o was dropped').to.equal(undefined);
  });

  it('a damaged or foreign file is an empty record, never an error', function () {
    const a = file('a.o');
    const cachePath = path.join(work, 'state.heads');
    const heads = InputHeads.read(cachePath);
    heads.remember(a, statIdentity(a)!, HEAD, later());
    heads.save(cachePath, write);
    const good = fs.readFileSync(cachePath);
    for (const at of [0, 9, 20, good.length - 40, good.length - 1]) {
      const bad = Uint8Array.from(good);
      bad[at] ^= 1;
      fs.writeFileSync(cachePath, bad);
      expect(InputHeads.read(cachePath).empty, `byte ${at} flipped`).to.equal(true);
    }
    fs.writeFileSync(cachePath, good.subarray(0, good.length - 5));
    expect(InputHeads.read(cachePath).empty, 'truncated').to.equal(true);
    fs.writeFileSync(cachePath, 'TSLKHEAD');
    expect(InputHeads.read(cachePath).empty, 'too short').to.equal(true);
  });
});
