/**
 * A link that keeps no copy of its image writes it a window at a time
 * (src/link/streamImage.ts). What it writes must be the image the link
 * would have kept, byte for byte: the trap fill of code sections, atoms
 * that run across windows, the headers and tables laid over, .eh_frame_hdr
 * (which comes before the .eh_frame it indexes) and the build id, which
 * hashes the chunks as the windows pass.
 */
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { link, type LinkOptions } from '../../src/link/pipeline.js';
import type { LinkInput } from '../../src/link/resolve.js';
import { BUILD_ID_CHUNK } from '../../src/link/buildId.js';
import type { ImageWriter } from '../../src/link/streamImage.js';
import { readElfObject } from '../../src/obj/readElf.js';
import { LinkError } from '../../src/obj/LinkError.js';
import { LinkSession } from '../../src/session/LinkSession.js';
import { compile, describeExit, requireToolsOrSkip, run, tmpDir, type Arch } from '../support/toolchain.js';

// Code in many small functions, a table larger than a window, and unwind and debug info.
const SOURCE = `
static volatile unsigned char table[300000] = { 7, 1, 2, 3 };
unsigned char last_of_table(void) { return table[sizeof table - 1]; }
${Array.from({ length: 40 }, (_, i) => `__attribute__((noinline)) int f${i}(int x) { return x * ${i + 3} + table[${i * 5000}]; }`).join('\n')}
int sum(void) { int s = 0; ${Array.from({ length: 40 }, (_, i) => `s += f${i}(${i});`).join(' ')} return s; }
void _start(void) {
  table[sizeof table - 1] = 9;
  int code = sum() == ${Array.from({ length: 40 }, (_, i) => i * (i + 3) + (i === 0 ? 7 : 0)).reduce((a, b) => a + b)} && last_of_table() == 9 ? 42 : 1;
#if defined(__x86_64__)
  __asm__ volatile("mov $60, %%eax\\n syscall" :: "D"(code));
#else
  register long x0 __asm__("x0") = code;
  __asm__ volatile("mov x8, #93\\n svc #0" :: "r"(x0));
#endif
  for (;;) {}
}
`;

/** Collects what a streamed link writes, and checks the order: the size first, then each window once, in turn. */
class Collector implements ImageWriter {
  bytes: Uint8Array | null = null;
  readonly writes: Array<{ offset: number; length: number }> = [];
  constructor(readonly windowSize?: number) {}
  setSize(size: number): void {
    expect(this.bytes, 'setSize comes first, once').to.equal(null);
    this.bytes = new Uint8Array(size);
  }
  write(offset: number, bytes: Uint8Array): void {
    expect(this.bytes, 'a write after setSize').to.not.equal(null);
    this.bytes!.set(bytes, offset);
    this.writes.push({ offset, length: bytes.length });
  }
}

function options(arch: Arch, stream?: ImageWriter): LinkOptions {
  return {
    arch, entry: '_start', buildId: { kind: 'hash', size: 20 }, undefinedRoots: [], keepChunkDigests: true, ehFrameHdr: true,
    dynamic: null, relro: true, gcSections: false, stream,
  };
}

describe('the image streamed a window at a time', function () {
  this.timeout(120_000);
  let dir = '';
  const objects = new Map<Arch, string>();

  before(async function () {
    await requireToolsOrSkip(this, ['clang']);
    dir = tmpDir('stream-image-');
    fs.writeFileSync(path.join(dir, 'prog.c'), SOURCE);
    for (const arch of ['x86_64', 'aarch64'] as const) {
      const obj = path.join(dir, `prog-${arch}.o`);
      await compile(path.join(dir, 'prog.c'), obj, arch, ['-g', '-ffunction-sections', '-fdata-sections', '-funwind-tables']);
      objects.set(arch, obj);
    }
  });

  after(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  const inputs = (arch: Arch): LinkInput[] => [{ kind: 'object', file: readElfObject('prog.o', fs.readFileSync(objects.get(arch)!)) }];
  const noArchives = () => {
    throw new Error('no archives here');
  };

  for (const arch of ['x86_64', 'aarch64'] as const) {
    it(`${arch}: writes the bytes of the whole image, with its build id and chunk digests, across 64 KiB windows`, async function () {
      const whole = link(inputs(arch), noArchives, options(arch));
      const out = new Collector(BUILD_ID_CHUNK);
      const streamed = link(inputs(arch), noArchives, options(arch, out));

      expect(streamed.image, 'no copy kept').to.equal(null);
      expect(streamed.imageSize).to.equal(whole.image!.length);
      // The table runs across windows: the test covers atoms carried from one window into the next.
      const table = whole.layout.sections.find((s) => s.name === '.data')!;
      expect(Math.floor(table.offset / BUILD_ID_CHUNK)).to.be.lessThan(Math.floor((table.offset + table.size - 1) / BUILD_ID_CHUNK) - 1);
      expect(whole.layout.sections.some((s) => s.name === '.eh_frame_hdr')).to.equal(true);

      expect(Buffer.from(out.bytes!).equals(Buffer.from(whole.image!)), 'the same bytes').to.equal(true);
      expect(streamed.buildIdOffset).to.equal(whole.buildIdOffset);
      expect(streamed.chunkDigests.map((d) => Buffer.from(d).toString('hex'))).to.deep.equal(whole.chunkDigests.map((d) => Buffer.from(d).toString('hex')));
      expect(streamed.counters).to.deep.equal(whole.counters);
      // Window after window, then the build id's own bytes.
      const windows = out.writes.slice(0, -1);
      expect(windows.map((w) => w.offset)).to.deep.equal(windows.map((_, i) => i * BUILD_ID_CHUNK));
      expect(windows.reduce((n, w) => n + w.length, 0)).to.equal(whole.image!.length);
      expect(out.writes.at(-1)).to.deep.equal({ offset: whole.buildIdOffset, length: 20 });

      // And it runs.
      const exe = path.join(dir, `prog-${arch}`);
      fs.writeFileSync(exe, out.bytes!, { mode: 0o755 });
      expect(describeExit(await run(exe, arch))).to.equal('exit status 42');
    });
  }

  it('takes a window size only in whole 64 KiB chunks', function () {
    expect(() => link(inputs('x86_64'), noArchives, options('x86_64', new Collector(BUILD_ID_CHUNK + 4096))))
      .to.throw(LinkError, /multiple of 65536 bytes/);
  });

  it('a session that is not incremental keeps no copy of a streamed image; an incremental one streams what emit() writes', function () {
    const bytes = fs.readFileSync(objects.get('aarch64')!);
    const plain = new LinkSession({ format: 'elf', arch: 'aarch64', output: 'exe', entry: '_start', buildId: 'sha1', ehFrameHdr: true });
    plain.addInput('prog.o', bytes);
    const kept = plain.link().size;
    const reference = plain.image().slice();
    const out = new Collector();
    const report = plain.link({ stream: out });
    expect(report.size).to.equal(kept);
    expect(Buffer.from(out.bytes!).equals(Buffer.from(reference))).to.equal(true);
    expect(() => plain.image()).to.throw(LinkError, /kept no copy/);
    expect(() => plain.emit(new Collector())).to.throw(LinkError, /kept no copy/);

    const incremental = new LinkSession({ format: 'elf', arch: 'aarch64', output: 'exe', entry: '_start', buildId: 'sha1', incremental: true });
    incremental.addInput('prog.o', bytes);
    const streamed = new Collector();
    incremental.link({ stream: streamed });
    expect(Buffer.from(streamed.bytes!).equals(Buffer.from(incremental.image()))).to.equal(true);
  });
});
