import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { InputArena } from '../../src/cli/inputArena.js';
import { LINK_FLAGS, compile, linkLld, linkTslink, requireTools, run, tmpDir } from '../support/toolchain.js';

/** Files of the given sizes, each byte its file's number plus its offset (so that a misplaced read shows). */
function files(dir: string, sizes: readonly number[]): string[] {
  return sizes.map((size, i) => {
    const p = path.join(dir, `f${i}`);
    fs.writeFileSync(p, Uint8Array.from({ length: size }, (_, k) => (i * 7 + k) & 0xff));
    return p;
  });
}

describe('command line: inputs read into one buffer (InputArena)', () => {
  const dir = tmpDir('tslink-arena-');
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('reads the first files on their own, then all others into one buffer made for what was unread', () => {
    const sizes = [5, 100, 3, 64, 17, 1000];
    const paths = files(dir, sizes);
    let asked = 0;
    const arena = new InputArena(() => (asked++, sizes.slice(2)), 2);
    expect(arena.read(paths[0], sizes[0])).to.equal(null);
    expect(arena.read(paths[1], sizes[1])).to.equal(null);
    const got = paths.slice(2).map((p, i) => arena.read(p, sizes[i + 2])!);
    expect(asked).to.equal(1);
    got.forEach((bytes, i) => {
      expect(Buffer.from(bytes).equals(fs.readFileSync(paths[i + 2])), `file ${i + 2}`).to.equal(true);
      expect(bytes.buffer).to.equal(got[0].buffer);
      expect(bytes.byteOffset % 16).to.equal(0);
    });
    // Each file in its own 16-byte aligned place: 3 -> 16, 64, 17 -> 32, 1000 -> 1008.
    expect(got[0].buffer.byteLength).to.equal(16 + 64 + 32 + 1008);
  });

  it('leaves to a read of its own a file whose size changed, a missing file, and one that does not fit', () => {
    const paths = files(dir, [10, 10, 10, 10]);
    const arena = new InputArena(() => [10, 10, 10], 0);
    expect(arena.read(paths[0], 9), 'longer than when looked at').to.equal(null);
    expect(arena.read(paths[1], 11), 'shorter than when looked at').to.equal(null);
    expect(arena.read(path.join(dir, 'missing'), 10)).to.equal(null);
    expect(arena.read(paths[2], 0), 'empty').to.equal(null);
    const a = arena.read(paths[2], 10)!;
    expect(Buffer.from(a).equals(fs.readFileSync(paths[2]))).to.equal(true);
    const b = arena.read(paths[3], 10)!;
    expect(Buffer.from(b).equals(fs.readFileSync(paths[3]))).to.equal(true);
    // The buffer holds three (rounded) files; the reads that failed took no room.
    const c = arena.read(paths[0], 10)!;
    expect(Buffer.from(c).equals(fs.readFileSync(paths[0]))).to.equal(true);
    expect(arena.read(paths[1], 10), 'no room left').to.equal(null);
  });

  it('reads the next file over what the last one gave back, and takes back nothing else', () => {
    const sizes = [100, 50, 40];
    const paths = files(dir, sizes);
    const arena = new InputArena(() => sizes, 0);
    const a = arena.read(paths[0], 100)!;
    arena.release(a, 20);
    const b = arena.read(paths[1], 50)!;
    // 20 bytes kept, rounded to 32: the next file starts there.
    expect(b.byteOffset - a.byteOffset).to.equal(32);
    expect(Buffer.from(a.subarray(0, 20)).equals(fs.readFileSync(paths[0]).subarray(0, 20)), 'what was kept').to.equal(true);
    expect(Buffer.from(b).equals(fs.readFileSync(paths[1]))).to.equal(true);
    // Not the last file read: nothing happens, and b stays whole.
    arena.release(a, 0);
    // Bytes from elsewhere, or more than the file has: nothing happens.
    arena.release(new Uint8Array(50), 0);
    arena.release(b, 51);
    const c = arena.read(paths[2], 40)!;
    expect(c.byteOffset - b.byteOffset).to.equal(64);
    expect(Buffer.from(b).equals(fs.readFileSync(paths[1])), 'the file before').to.equal(true);
    expect(Buffer.from(c).equals(fs.readFileSync(paths[2]))).to.equal(true);
  });

  it('links a program of 16 objects (most read into the buffer) that runs as ld.lld\'s link does', async function () {
    this.timeout(120_000);
    await requireTools(['clang', 'ld.lld']);
    const objs: string[] = [];
    const n = 16;
    for (let i = 0; i < n; i++) {
      const src = path.join(dir, `u${i}.c`);
      fs.writeFileSync(src, i === 0
        ? `${Array.from({ length: n - 1 }, (_, k) => `int f${k + 1}(void);`).join('\n')}
int total(void) { return ${Array.from({ length: n - 1 }, (_, k) => `f${k + 1}()`).join(' + ')}; }
void _start(void) { int r = total(); __asm__ volatile("syscall" :: "a"(60), "D"(r)); for (;;) {} }\n`
        : `static int data${i}[${i * 50}] = { ${i} };\nint f${i}(void) { return data${i}[0] * 2 - ${i}; }\n`);
      const obj = path.join(dir, `u${i}.o`);
      await compile(src, obj, 'x86_64');
      objs.push(obj);
    }
    await linkTslink(path.join(dir, 'ts'), objs, LINK_FLAGS);
    await linkLld(path.join(dir, 'lld'), objs, LINK_FLAGS);
    const ts = await run(path.join(dir, 'ts'), 'x86_64');
    const lld = await run(path.join(dir, 'lld'), 'x86_64');
    expect(lld.status).to.equal(((n - 1) * n / 2) & 0xff);
    expect(ts.status).to.equal(lld.status);
  });
});
