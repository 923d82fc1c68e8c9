/**
 * A link that keeps no state gives back the part of each object it no longer
 * reads once it has parsed it (LinkSession's `release`, obj/compactObject.ts):
 * the symbol and string tables and the section headers, which the command
 * line's InputArena reads the next input over; the relocation rows, which
 * clang writes after the symbol table, are moved down over it first. Whatever is then written
 * there, the image must be the one a link of untouched bytes makes; an
 * incremental link, whose state hashes the objects' bytes, gives nothing back.
 */
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { bytesInUse } from '../../src/obj/compactObject.js';
import { readElfObject } from '../../src/obj/readElf.js';
import { LinkSession, type SessionOptions } from '../../src/session/LinkSession.js';
import { compile, describeExit, repoRoot, requireToolsOrSkip, run, tmpDir, type Arch } from '../support/toolchain.js';

// Two units: calls and data across them, strings to merge, unwind tables and debug info (relocations in
// every kind of section the link reads); and one of data alone, without relocations, whose contents are
// what it still reads.
const MAIN = `
#include "start.h"
extern const char *greeting(int i);
extern int table[64];
extern const int magic[4];
int count(const char *s) { int n = 0; while (*s++) n++; return n; }
int test_main(void) { return count(greeting(0)) + count(greeting(1)) + table[63] + magic[3]; }
`;
const LIB = `
int table[64] = { [63] = 30 };
static const char *const words[] = { "hello", "linker" };
const char *greeting(int i) { return words[i & 1]; }
`;
const DATA = `
const int magic[4] = { 1, 2, 3, 4 };
`;

const options = (arch: Arch, incremental: boolean): SessionOptions => ({
  format: 'elf', arch, output: 'exe', entry: '_start', buildId: 'sha1', ehFrameHdr: true, incremental,
});

describe('the bytes of objects a plain link gives back', function () {
  this.timeout(120_000);
  let dir = '';
  const objects = new Map<Arch, string[]>();

  before(async function () {
    await requireToolsOrSkip(this, ['clang']);
    dir = tmpDir('release-inputs-');
    for (const [name, text] of [['main.c', MAIN], ['lib.c', LIB], ['data.c', DATA]]) fs.writeFileSync(path.join(dir, name), text);
    for (const arch of ['x86_64', 'aarch64'] as const) {
      const objs: string[] = [];
      for (const unit of ['main', 'lib', 'data']) {
        const obj = path.join(dir, `${unit}-${arch}.o`);
        const flags = ['-g', '-ffunction-sections', '-fdata-sections', '-funwind-tables', '-I', path.join(repoRoot(), 'test', 'programs')];
        await compile(path.join(dir, `${unit}.c`), obj, arch, unit === 'data' ? [] : flags);
        objs.push(obj);
      }
      objects.set(arch, objs);
    }
  });

  after(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  for (const arch of ['x86_64', 'aarch64'] as const) {
    it(`${arch}: an image as if nothing was given back, with what was given back overwritten`, async function () {
      const files = objects.get(arch)!;
      const plain = new LinkSession(options(arch, false));
      for (const f of files) plain.addObject(path.basename(f), new Uint8Array(fs.readFileSync(f)));
      plain.link();
      const want = plain.image();

      const released: Array<{ keep: number; size: number; before: number }> = [];
      const session = new LinkSession(options(arch, false));
      for (const f of files) {
        const bytes = new Uint8Array(fs.readFileSync(f));
        // What the object's parsed form reads where the file has it, before any move.
        const before = bytesInUse(readElfObject(f, bytes.slice()));
        session.addInput(path.basename(f), () => bytes, {
          release: (keep) => {
            released.push({ keep, size: bytes.length, before });
            bytes.fill(0xee, keep);
          },
        });
      }
      session.link();
      expect(released.length, 'each object, once').to.equal(files.length);
      for (const { keep, size, before } of released) {
        // clang writes the tables and headers last: a good part of each object goes back.
        expect(keep).to.be.greaterThan(0);
        expect(keep).to.be.lessThan(size * 0.9);
        expect(keep).to.be.at.most(before);
      }
      // The two objects with relocations had their rows moved down over their symbol tables.
      expect(released.filter((r) => r.keep < r.before).length).to.equal(2);
      const got = session.image();
      expect(Buffer.from(got).equals(Buffer.from(want)), 'the same image').to.equal(true);
      const exe = path.join(dir, `prog-${arch}`);
      fs.writeFileSync(exe, got, { mode: 0o755 });
      expect(describeExit(await run(exe, arch))).to.equal(`exit status ${5 + 6 + 30 + 4}`);
    });
  }

  it('an incremental link gives nothing back', function () {
    let calls = 0;
    const session = new LinkSession(options('x86_64', true));
    for (const f of objects.get('x86_64')!) {
      const bytes = new Uint8Array(fs.readFileSync(f));
      session.addInput(path.basename(f), () => bytes, { release: () => calls++ });
    }
    expect(session.link().outcome).to.equal('full');
    expect(calls).to.equal(0);
  });
});
