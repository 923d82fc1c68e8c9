/**
 * Work proportional to the edit, as counted by the session (LinkReport.work),
 * on the fixture (x86-64, app_a.o and libcore.a):
 *
 *  - inputs known unchanged, by their file identity (device, inode, size,
 *    times) matching the state's or by the caller's word (`unchanged`), are
 *    not read (their readers are not called) nor hashed; a prior image whose
 *    identity matches the one serializeState recorded is read only where the
 *    patch looks; and the patch is byte for byte the one a session given
 *    every byte makes;
 *  - a link that falls back to a full one reads them after all, and gives
 *    the cold link's image;
 *  - an identity too recent to trust is not recorded; a prior image whose
 *    identity does not match is read whole and checked against the state's
 *    hash;
 *  - a live session hashes only the input it was given anew;
 *  - a thin archive's member edited in place (the archive file unchanged) is
 *    seen: the patch equals a cold link of the edit;
 *  - an atom whose bytes and relocations did not change is left alone by a
 *    patch, but not when a local symbol it refers to moved;
 *  - with .eh_frame_hdr, the unwinder's table after functions move (the
 *    patch updates only the entries that change) is the table a rebuild
 *    from the patched .eh_frame gives, and a prior image of many chunks
 *    is read only in part (a program of our own: the fixture has no
 *    .eh_frame, and its image is two chunks).
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { FixtureBuild } from '../../src/cli/fixture.js';
import { buildIdFromChunks, chunkDigests } from '../../src/link/buildId.js';
import { ehFrameHdrBytes } from '../../src/link/ehFrameHdr.js';
import { LinkSession, type FileIdentity, type LinkReport, type SessionOptions } from '../../src/session/LinkSession.js';
import { decodeState } from '../../src/session/state.js';
import { compile, repoRoot, requireTools, tmpDir } from '../support/toolchain.js';
import { MemoryRecords, buildAll, buildIdRange, coldLink, readBytes, runStatus, sameBytes, sections, sessionOptions, writeImage, type InputFile } from './support.js';

const arch = 'x86_64' as const;
const KEEP = process.env.TSLINK_KEEP_TMP === '1';

/** An identity whose times are long past (a settled file). */
const oldId = (ino: number, size: number, mtime = 1): FileIdentity => ({ dev: 7n, ino: BigInt(ino), size: BigInt(size), mtimeNs: BigInt(mtime), ctimeNs: BigInt(mtime) });

/** A reader that counts its calls. */
function reader(bytes: Uint8Array): { read: () => Uint8Array; calls: number } {
  const r = { calls: 0, read: () => { r.calls++; return bytes; } };
  return r;
}

/** A prior image read through a function, counting the bytes asked for. */
function priorImage(image: Uint8Array, identity: FileIdentity) {
  const p = {
    asked: 0,
    size: image.length,
    identity,
    read(offset: number, length: number) {
      p.asked += length;
      return image.slice(offset, offset + length);
    },
  };
  return p;
}

describe('incremental linking: unchanged inputs are not read (x86_64)', function () {
  this.timeout(300_000);
  let root = '';
  let b: Record<'base' | 'inslack' | 'grow' | 'extra', FixtureBuild>;
  const opts = (extra: Partial<SessionOptions> = {}) => sessionOptions(arch, extra);

  before(async function () {
    await requireTools(['clang', 'llvm-ar']);
    root = tmpDir('tslink-unchanged');
    b = await buildAll(arch, root, {
      base: { variants: {}, debug: false },
      inslack: { variants: { table: 'edit-inslack' }, debug: false },
      grow: { variants: { table: 'edit-grow' }, debug: false },
      extra: { variants: { state: 'edit-extra' }, debug: false },
    });
  });

  after(function () {
    if (root && !KEEP) fs.rmSync(root, { recursive: true, force: true });
  });

  /** The cold incremental link of app_a.o + libcore.a (from `lib`), inputs given by readers with these identities. */
  function cold(lib: string, ids: [FileIdentity, FileIdentity], imageId: FileIdentity, extra: Partial<SessionOptions> = {}) {
    const s = new LinkSession(opts(extra));
    s.addInput('app_a.o', reader(readBytes(b.base.apps.app_a)).read, { identity: ids[0] });
    s.addInput('libcore.a', reader(readBytes(lib)).read, { identity: ids[1] });
    const r = s.link();
    expect(r.outcome).to.equal('full');
    return { image: s.image().slice(), state: s.serializeState({ imageIdentity: imageId }) };
  }

  /** A relink in a fresh session: the prior image through a reader with `imageId`, the inputs through counting readers. */
  function relink(prior: { image: Uint8Array; state: Uint8Array }, lib: string, ids: [FileIdentity, FileIdentity], imageId: FileIdentity, extra: Partial<SessionOptions> = {}) {
    const s = new LinkSession(opts(extra));
    const image = priorImage(prior.image, imageId);
    s.setPriorState(prior.state, image);
    const app = reader(readBytes(b.base.apps.app_a));
    const core = reader(readBytes(lib));
    s.addInput('app_a.o', app.read, { identity: ids[0] });
    s.addInput('libcore.a', core.read, { identity: ids[1] });
    const r = s.link();
    return { s, r, app, core, image };
  }

  /** The same relink by a session given every byte (as before file identities): the reference. */
  function reference(prior: { image: Uint8Array; state: Uint8Array }, lib: string, extra: Partial<SessionOptions> = {}): { r: LinkReport; image: Uint8Array } {
    const s = new LinkSession(opts(extra));
    s.setPriorState(prior.state, prior.image.slice());
    s.addObject('app_a.o', readBytes(b.base.apps.app_a));
    s.addArchive('libcore.a', readBytes(lib));
    const r = s.link();
    return { r, image: s.image() };
  }

  it('an input whose identity matches the state is neither read nor hashed, the prior image is read only where the patch looks, and the patch is the same', function () {
    const appSize = fs.statSync(b.base.apps.app_a).size;
    const libSize = fs.statSync(b.base.libcore).size;
    const editSize = fs.statSync(b.inslack.libcore).size;
    const ids: [FileIdentity, FileIdentity] = [oldId(1, appSize), oldId(2, libSize)];
    const prior = cold(b.base.libcore, ids, oldId(3, 0));

    // libcore.a rebuilt (a new inode and time); app_a.o untouched.
    const edited: [FileIdentity, FileIdentity] = [ids[0], oldId(4, editSize, 5)];
    const x = relink(prior, b.inslack.libcore, edited, oldId(3, 0));
    expect(x.r.outcome, x.r.reason ?? '').to.equal('patched');
    expect(x.app.calls, 'app_a.o is not read').to.equal(0);
    expect(x.core.calls, 'libcore.a is read once').to.equal(1);
    expect(x.r.work.inputBytesRead, 'input bytes read: libcore.a only').to.equal(editSize);
    expect(x.r.work.bytesHashed, 'input bytes hashed: libcore.a only').to.equal(editSize);
    // (This image is two 64 KiB chunks: the patch reads both. The .eh_frame_hdr test's is larger.)
    expect(x.r.work.imageBytesRead, 'the prior image is read where the patch looks').to.be.greaterThan(0);
    const ref = reference(prior, b.inslack.libcore);
    expect(ref.r.outcome).to.equal('patched');
    expect(x.r.writes, 'the same writes as a session given every byte').to.deep.equal(ref.r.writes);
    expect(sameBytes(x.s.image(), ref.image), 'the same image').to.equal(true);

    // A no-op relink against that link's state: nothing read, nothing hashed, nothing written.
    const next = { image: x.s.image().slice(), state: x.s.serializeState({ imageIdentity: oldId(5, 0) }) };
    const y = relink(next, b.inslack.libcore, edited, oldId(5, 0));
    expect(y.r.outcome).to.equal('patched');
    expect(y.r.writes).to.deep.equal([]);
    expect([y.app.calls, y.core.calls, y.r.work.inputBytesRead, y.r.work.bytesHashed, y.r.work.imageBytesRead]).to.deep.equal([0, 0, 0, 0, 0]);
  });

  it('`unchanged: true` takes the caller\'s word the same way', function () {
    const prior = cold(b.base.libcore, [oldId(1, 1), oldId(2, 1)], oldId(3, 0));
    const s = new LinkSession(opts());
    s.setPriorState(prior.state, prior.image.slice());
    const app = reader(readBytes(b.base.apps.app_a));
    s.addObject('app_a.o', app.read, { unchanged: true });
    s.addArchive('libcore.a', readBytes(b.inslack.libcore));
    const r = s.link();
    expect(r.outcome, r.reason ?? '').to.equal('patched');
    expect(app.calls).to.equal(0);
    expect(r.work.bytesHashed).to.equal(fs.statSync(b.inslack.libcore).size);
    expect(sameBytes(s.image(), reference(prior, b.inslack.libcore).image)).to.equal(true);
  });

  it('a link that falls back reads the inputs known unchanged after all, and gives the cold link\'s image', function () {
    const ids: [FileIdentity, FileIdentity] = [oldId(1, 1), oldId(2, 1)];
    const prior = cold(b.base.libcore, ids, oldId(3, 0));
    // state.c gains a global: a full link.
    const x = relink(prior, b.extra.libcore, [ids[0], oldId(4, 1, 9)], oldId(3, 0));
    expect(x.r.outcome).to.equal('fell-back-full');
    expect(x.r.reason).to.match(/new global symbol/);
    expect(x.app.calls, 'app_a.o is read for the full link').to.equal(1);
    const inputs: InputFile[] = [{ kind: 'object', name: 'app_a.o', file: b.base.apps.app_a }, { kind: 'archive', name: 'libcore.a', file: b.extra.libcore }];
    const c = coldLink(arch, inputs, path.join(root, 'cold-extra'));
    expect(sameBytes(x.s.image(), c.image), 'the image of a cold link').to.equal(true);
    // The prior image is not needed by a full link, and was not read.
    expect(x.r.work.imageBytesRead).to.equal(0);
  });

  it('an identity too recent to trust is not recorded: the next link reads and hashes the input', function () {
    const now = BigInt(Date.now()) * 1_000_000n;
    const fresh: FileIdentity = { dev: 7n, ino: 1n, size: 1n, mtimeNs: now, ctimeNs: now };
    const prior = cold(b.base.libcore, [fresh, oldId(2, 1)], oldId(3, 0));
    const x = relink(prior, b.base.libcore, [fresh, oldId(2, 1)], oldId(3, 0));
    expect(x.r.outcome).to.equal('patched');
    expect(x.app.calls, 'app_a.o is read: its identity was not recorded').to.equal(1);
    expect(x.core.calls, 'libcore.a is not read').to.equal(0);
  });

  it('a prior image whose identity does not match is read whole and checked', function () {
    const prior = cold(b.base.libcore, [oldId(1, 1), oldId(2, 1)], oldId(3, 0));
    const x = relink(prior, b.inslack.libcore, [oldId(1, 1), oldId(4, 1, 5)], oldId(99, 0));
    expect(x.r.outcome).to.equal('patched');
    expect(x.r.work.imageBytesRead, 'read whole').to.be.at.least(prior.image.length);
    // The same file changed behind the state's back, under another identity: a full link says so.
    const damaged = prior.image.slice();
    damaged[damaged.length - 1] ^= 1;
    const y = relink({ image: damaged, state: prior.state }, b.inslack.libcore, [oldId(1, 1), oldId(4, 1, 5)], oldId(98, 0));
    expect(y.r.outcome).to.equal('fell-back-full');
    expect(y.r.reason).to.match(/no longer matches/);
  });

  it('an input under a new name, its bytes the same, is patched; its objects\' records, not decoded, keep every field', function () {
    const prior = cold(b.base.libcore, [oldId(1, 1), oldId(2, 1)], oldId(3, 0));
    /** A fresh session on `state` with app_a.o's bytes under `appName` and libcore.a from `lib`. */
    const link = (state: Uint8Array, image: Uint8Array, appName: string, lib: string) => {
      const s = new LinkSession(opts());
      s.setPriorState(state, image.slice());
      s.addInput(appName, readBytes(b.base.apps.app_a));
      s.addInput('libcore.a', readBytes(lib));
      return { s, r: s.link() };
    };
    // Renamed, and libcore.a edited: the patch renames the records of app_a.o's objects without decoding them.
    const x = link(prior.state, prior.image, 'moved/app_a.o', b.inslack.libcore);
    expect(x.r.outcome, x.r.reason ?? '').to.equal('patched');
    const state = x.s.serializeState();
    for (const o of decodeState(state).objects) expect(o.atoms.length, `${o.name}'s record`).to.be.greaterThan(0);
    expect(decodeState(state).objects.map((o) => o.name)).to.include('moved/app_a.o');
    // The next patch from that state is the one a session given every byte makes.
    const y = link(state, x.s.image(), 'moved/app_a.o', b.base.libcore);
    expect(y.r.outcome, y.r.reason ?? '').to.equal('patched');
    const c = new LinkSession(opts());
    c.addInput('moved/app_a.o', readBytes(b.base.apps.app_a));
    c.addInput('libcore.a', readBytes(b.base.libcore));
    c.link();
    expect(sameBytes(y.s.image(), c.image()), 'the image of a cold link').to.equal(true);
  });

  it('a split state: a patch reads part of the records file and appends to it, until most of it is stale; then it is written anew', function () {
    // The records file, in memory, counting the bytes read from it.
    const store = new MemoryRecords();
    const write = (split: { records: Uint8Array; fresh: boolean }) => store.write(split);
    const inputs = (s: LinkSession, lib: string) => {
      s.addInput('app_a.o', readBytes(b.base.apps.app_a));
      s.addInput('libcore.a', readBytes(lib));
    };
    const first = new LinkSession(opts());
    inputs(first, b.base.libcore);
    first.link();
    let split = first.serializeStateSplit(store);
    expect(split.fresh, 'the first records are a new file').to.equal(true);
    write(split);
    // The same links with self-contained states, for comparison.
    let prior = { image: first.image().slice(), state: split.state, whole: first.serializeState() };
    const outcomes: string[] = [];
    for (let i = 0; i < 60 && !outcomes.includes('fresh'); i++) {
      const lib = i % 2 === 0 ? b.inslack.libcore : b.base.libcore;
      const s = new LinkSession(opts());
      store.bytesRead = 0;
      s.setPriorState(prior.state, prior.image.slice(), store);
      inputs(s, lib);
      const r = s.link();
      expect(r.outcome, `patch ${i + 1}: ${r.reason}`).to.equal('patched');
      expect(store.bytesRead, `patch ${i + 1}: bytes of the records file read`).to.be.greaterThan(0).and.lessThan(store.bytes.length);
      const whole = new LinkSession(opts());
      whole.setPriorState(prior.whole, prior.image.slice());
      inputs(whole, lib);
      expect(whole.link().outcome).to.equal('patched');
      expect(sameBytes(s.image(), whole.image()), `patch ${i + 1}: the image is the one a self-contained state gives`).to.equal(true);
      const size = store.bytes.length;
      split = s.serializeStateSplit(store);
      write(split);
      if (!split.fresh) expect(store.bytes.length - size, `patch ${i + 1}: only the changed records are appended`).to.be.lessThan(size / 4);
      outcomes.push(split.fresh ? 'fresh' : 'appended');
      prior = { image: s.image().slice(), state: split.state, whole: whole.serializeState() };
    }
    expect(outcomes[0], 'the first patch appends').to.equal('appended');
    expect(outcomes, 'the file is written anew once most of it is stale').to.include('fresh');
    // And a patch reads the new file.
    const s = new LinkSession(opts());
    s.setPriorState(prior.state, prior.image.slice(), store);
    inputs(s, b.inslack.libcore);
    expect(s.link().outcome).to.equal('patched');

    // A session that stays (--watch) and writes its state after each relink: after every write, through
    // appends and rewrites, the state and the records file give a session that sees nothing to change.
    const live = new LinkSession(opts());
    live.setPriorState(prior.state, prior.image.slice(), store);
    const ids = [live.addInput('app_a.o', readBytes(b.base.apps.app_a)), live.addInput('libcore.a', readBytes(b.inslack.libcore))];
    const seen = new Set<boolean>();
    for (let i = 0; i < 60 && seen.size < 2; i++) {
      live.replaceInput(ids[1], readBytes(i % 2 === 0 ? b.base.libcore : b.inslack.libcore));
      expect(live.link().outcome).to.equal('patched');
      split = live.serializeStateSplit(store);
      write(split);
      seen.add(split.fresh);
      const check = new LinkSession(opts());
      check.setPriorState(split.state, live.image().slice(), store);
      inputs(check, i % 2 === 0 ? b.base.libcore : b.inslack.libcore);
      const r = check.link();
      expect([r.outcome, r.writes.length], `after the live session's relink ${i + 1} (${split.fresh ? 'written anew' : 'appended'})`).to.deep.equal(['patched', 0]);
      // Every record the live session did not decode, read from where it now believes it is, and checked.
      for (const o of decodeState(live.serializeState()).objects) expect(o.atoms.length, `${o.name}'s record after relink ${i + 1}`).to.be.greaterThan(0);
    }
    expect([...seen].sort(), 'the live session both appended and wrote the file anew').to.deep.equal([false, true]);
  });

  it('a live session hashes only the input it is given anew', function () {
    const s = new LinkSession(opts());
    s.addObject('app_a.o', readBytes(b.base.apps.app_a));
    const lib = s.addArchive('libcore.a', readBytes(b.base.libcore));
    expect(s.link().outcome).to.equal('full');
    expect(s.link().work.bytesHashed, 'a no-op relink hashes nothing').to.equal(0);
    for (const file of [b.inslack.libcore, b.base.libcore, b.grow.libcore]) {
      s.replaceInput(lib, readBytes(file));
      const r = s.link();
      expect(r.outcome, r.reason ?? '').to.equal('patched');
      expect(r.work.bytesHashed).to.equal(fs.statSync(file).size);
    }
  });

  it('a thin archive\'s member edited in place, the archive file unchanged, is seen', function () {
    const dir = path.join(root, 'thin');
    fs.mkdirSync(dir, { recursive: true });
    const units = Object.keys(b.base.objects) as Array<keyof FixtureBuild['objects']>;
    for (const u of units) fs.copyFileSync(b.base.objects[u], path.join(dir, `${u}.o`));
    execFileSync('llvm-ar', ['rcsT', 'libthin.a', ...units.map((u) => `${u}.o`)], { cwd: dir });
    const thin = path.join(dir, 'libthin.a');
    const member = (p: string) => readBytes(path.isAbsolute(p) ? p : path.join(dir, p));
    const add = (s: LinkSession) => {
      s.addObject('app_a.o', readBytes(b.base.apps.app_a));
      // An identity, which a thin archive's must not be trusted on (its members are other files).
      s.addArchive('libthin.a', readBytes(thin), { readThinMember: member, identity: oldId(2, fs.statSync(thin).size) });
    };
    const s0 = new LinkSession(opts());
    add(s0);
    s0.link();
    const prior = { image: s0.image().slice(), state: s0.serializeState() };
    const archiveBefore = readBytes(thin);
    fs.copyFileSync(b.inslack.objects.table, path.join(dir, 'table.o'));
    expect(sameBytes(readBytes(thin), archiveBefore), 'the thin archive itself is unchanged').to.equal(true);
    const s1 = new LinkSession(opts());
    s1.setPriorState(prior.state, prior.image.slice());
    add(s1);
    const r = s1.link();
    expect(r.writes.length, `${r.outcome}: the edit is written`).to.be.greaterThan(0);
    const c = new LinkSession(opts());
    add(c);
    c.link();
    expect(sameBytes(s1.image(), c.image()), 'the image of a cold link of the edit').to.equal(true);
  });

  /** A session seeded with the state and image of a link of the object `before`, relinked with `after` in its place. */
  function relinkFrom(name: string, before: string, after: string): { session: LinkSession; report: LinkReport } {
    const s0 = new LinkSession(opts());
    s0.addObject(name, readBytes(before));
    s0.link();
    const session = new LinkSession(opts());
    session.setPriorState(s0.serializeState(), s0.image().slice());
    session.addObject(name, readBytes(after));
    return { session, report: session.link() };
  }

  it('an atom that did not change is relocated again when a local symbol it refers to moved within its section', async function () {
    // x and y swap places in .bss.vars; .text.use is the same bytes and relocations (a GOT reference keeps its
    // local symbol, where a plain one would become the section's symbol and an addend), and so is .bss.vars.
    const asm = (first: string, second: string) => `  .type x,@object
  .type y,@object
  .section .text._start,"ax",@progbits
  .globl _start
_start:
  call use
  movl (%rax), %edi
  movl $60, %eax
  syscall
  .section .text.use,"ax",@progbits
  .globl use
use:
  movq y@GOTPCREL(%rip), %rax
  ret
  .section .bss.vars,"aw",@nobits
${first}: .zero 8
${second}: .zero 8
`;
    const objs: string[] = [];
    for (const [tag, text] of [['xy', asm('x', 'y')], ['yx', asm('y', 'x')]]) {
      const dir = path.join(root, 'swap', tag);
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(path.join(dir, 'swap.s'), text);
      await compile(path.join(dir, 'swap.s'), path.join(dir, 'swap.o'), arch);
      objs.push(path.join(dir, 'swap.o'));
    }
    const { session, report } = relinkFrom('swap.o', objs[0], objs[1]);
    const c = coldLink(arch, [{ kind: 'object', name: 'swap.o', file: objs[1] }], path.join(root, 'swap', 'cold'));
    expect(sameBytes(session.image(), c.image), `${report.outcome}: the image of a cold link of the edit`).to.equal(true);
  });

  /** Assembly whose _start exits with what `fn` returns in %eax. */
  const exitWith = (fn: string) => `  .section .text._start,"ax",@progbits
  .globl _start
_start:
  call ${fn}
  movl %eax, %edi
  movl $60, %eax
  syscall
`;

  /** Links the first source, patches the second in (it must patch), and runs the patched program: its exit status. */
  async function patchedStatus(tag: string, sources: readonly [string, string]): Promise<number | null> {
    const objs: string[] = [];
    for (const [k, text] of sources.entries()) {
      const dir = path.join(root, tag, String(k));
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(path.join(dir, `${tag}.s`), text);
      await compile(path.join(dir, `${tag}.s`), path.join(dir, `${tag}.o`), arch);
      objs.push(path.join(dir, `${tag}.o`));
    }
    const { session, report } = relinkFrom(`${tag}.o`, objs[0], objs[1]);
    expect(report.outcome, report.reason ?? '').to.equal('patched');
    const file = path.join(root, tag, 'prog');
    writeImage(file, session.image());
    return runStatus(file, arch);
  }

  it('an atom that did not change is relocated again when an atom it refers to moved past its slot', async function () {
    // helper (local) grows past its slot and moves (4 kB more cannot be in place); .text.check and .data.hp are
    // the same bytes and relocations. Each refers to helper, and must now reach its new place: hp must hold the
    // address helper sees as its own (the old place is an island now), or check says otherwise in the exit status.
    const asm = (pad: number) => `${exitWith('check')}  .section .text.check,"ax",@progbits
  .globl check
check:
  call helper
  xorl %ecx, %ecx
  cmpq hp(%rip), %rax
  setne %cl
  movl %ecx, %eax
  ret
  .section .text.helper,"ax",@progbits
helper:
  leaq helper(%rip), %rax
  .fill ${pad}, 1, 0x90
  ret
  .section .data.hp,"aw",@progbits
hp:
  .quad helper
`;
    expect(await patchedStatus('moved', [asm(0), asm(4096)]), 'hp holds the address helper has now').to.equal(0);
  });

  it('an atom that did not change is relocated again when a global it refers to changed size', async function () {
    // val's section is the same 16 bytes, its symbol 8 bytes long, then 12: .text.size, the same bytes and
    // relocations, reads the size through a relocation and returns it as the exit status.
    const asm = (size: number) => `${exitWith('size')}  .section .text.size,"ax",@progbits
  .globl size
size:
  movl $val@SIZE, %eax
  ret
  .section .data.val,"aw",@progbits
  .globl val
  .type val,@object
  .size val, ${size}
val:
  .zero 16
`;
    expect(await patchedStatus('resized', [asm(8), asm(12)]), 'val@SIZE').to.equal(12);
  });

  it('the build id after a patch whose writes run across chunks is the one the whole image hashes to', async function () {
    // Every element of a 160 kB table changes: one write over three 64 KiB chunks, of which the patch
    // rehashes each from the image and the write's bytes.
    const objs: string[] = [];
    for (const v of [1, 2]) {
      const dir = path.join(root, 'chunks', String(v));
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(path.join(dir, 'big.c'), `#include "start.h"\nint big[40000] = { [0 ... 39999] = ${v} };\nint test_main(void) { return big[0] + big[39999]; }\n`);
      await compile(path.join(dir, 'big.c'), path.join(dir, 'big.o'), arch, ['-I', path.join(repoRoot(), 'test', 'programs')]);
      objs.push(path.join(dir, 'big.o'));
    }
    const { session, report } = relinkFrom('big.o', objs[0], objs[1]);
    expect(report.outcome, report.reason ?? '').to.equal('patched');
    expect(report.writes.some((w) => Math.floor(w.offset / 65536) + 1 < Math.floor((w.offset + w.length - 1) / 65536)), 'a write over three chunks').to.equal(true);
    const image = session.image();
    const id = buildIdRange(image);
    const zeroed = image.slice();
    zeroed.fill(0, id.start, id.end);
    const want = buildIdFromChunks(chunkDigests(zeroed), id.end - id.start);
    expect(Buffer.from(image.subarray(id.start, id.end)).toString('hex')).to.equal(Buffer.from(want).toString('hex'));
    const file = path.join(root, 'chunks', 'prog');
    writeImage(file, image);
    expect(await runStatus(file, arch)).to.equal(4);
  });

  /**
   * funcs.c: f0..f5, each `n` steps of arithmetic on a volatile (so an edit
   * grows one past its slack); main.c sums their results, and has a 1 MiB
   * table, so that the image is many chunks.
   */
  async function buildFuncs(tag: string, steps: number[]): Promise<string> {
    const dir = path.join(root, 'funcs', tag);
    fs.mkdirSync(dir, { recursive: true });
    const fns = steps.map((n, i) => `__attribute__((noinline)) int f${i}(int x) { volatile int v = x;${' v = v * 3 + 1;'.repeat(n)} return v; }`);
    fs.writeFileSync(path.join(dir, 'funcs.c'), `${fns.join('\n')}\n`);
    await compile(path.join(dir, 'funcs.c'), path.join(dir, 'funcs.o'), arch, ['-fno-pic', '-fasynchronous-unwind-tables']);
    return path.join(dir, 'funcs.o');
  }

  /** What the program exits with for these step counts (the arithmetic of funcs.c, in 32 bits). */
  function expectedStatus(steps: number[]): number {
    let sum = 0;
    steps.forEach((n, i) => {
      let v = i + 1;
      for (let k = 0; k < n; k++) v = (Math.imul(v, 3) + 1) | 0;
      sum = (sum + v) | 0;
    });
    return sum & 0xff;
  }

  it('.eh_frame_hdr: after functions move, the table is the one the patched .eh_frame gives; the prior image is read in part', async function () {
    const mainDir = path.join(root, 'funcs', 'main');
    fs.mkdirSync(mainDir, { recursive: true });
    const calls = [0, 1, 2, 3, 4, 5].map((i) => `f${i}(${i + 1})`).join(' + ');
    fs.writeFileSync(path.join(mainDir, 'main.c'), `#include "start.h"\nconst unsigned char big_table[1 << 20] = { 1, 2, 3 };\n`
      + `${[0, 1, 2, 3, 4, 5].map((i) => `int f${i}(int);`).join(' ')}\nint test_main(void) { return (${calls} + big_table[1] - 2) & 0xff; }\n`);
    await compile(path.join(mainDir, 'main.c'), path.join(mainDir, 'main.o'), arch, ['-fno-pic', '-fasynchronous-unwind-tables', '-I', path.join(repoRoot(), 'test', 'programs')]);
    const mainObj = path.join(mainDir, 'main.o');
    // Grow f1, then f3, then f1 again (a second move: its island is re-pointed), then back to the base (in place).
    const versions = [[2, 2, 2, 2, 2, 2], [2, 60, 2, 2, 2, 2], [2, 60, 2, 60, 2, 2], [2, 200, 2, 60, 2, 2], [2, 2, 2, 2, 2, 2]];
    const objs = await Promise.all(versions.map((v, k) => buildFuncs(`v${k}`, v)));
    const extra = { ehFrameHdr: true };
    const ids = (k: number): [FileIdentity, FileIdentity] => [oldId(1, 1), oldId(10 + k, 1)];
    const s0 = new LinkSession(opts(extra));
    s0.addInput('main.o', readBytes(mainObj), { identity: ids(0)[0] });
    s0.addInput('funcs.o', readBytes(objs[0]), { identity: ids(0)[1] });
    expect(s0.link().outcome).to.equal('full');
    let prior = { image: s0.image().slice(), state: s0.serializeState({ imageIdentity: oldId(50, 0) }) };
    let moved = 0;
    for (let k = 1; k < versions.length; k++) {
      const x = (() => {
        const s = new LinkSession(opts(extra));
        const image = priorImage(prior.image, oldId(49 + k, 0));
        s.setPriorState(prior.state, image);
        s.addInput('main.o', readBytes(mainObj), { identity: ids(k)[0] });
        s.addInput('funcs.o', readBytes(objs[k]), { identity: ids(k)[1] });
        return { s, r: s.link() };
      })();
      expect(x.r.outcome, `relink ${k}: ${x.r.reason}`).to.equal('patched');
      expect(x.r.work.imageBytesRead, `relink ${k}: the prior image (${prior.image.length} bytes) is read only in part`).to.be.lessThan(prior.image.length / 2);
      const image = x.s.image();
      const shdrs = sections(image);
      const hdr = shdrs.find((h) => h.name === '.eh_frame_hdr')!;
      const eh = shdrs.find((h) => h.name === '.eh_frame')!;
      expect(hdr && eh, 'the image has .eh_frame and .eh_frame_hdr').to.not.equal(undefined);
      const code = shdrs.filter((h) => h.flags & 0x4).map((h) => ({ addr: h.addr, size: h.size }));
      const rebuilt = ehFrameHdrBytes({ addr: eh.addr, bytes: image.subarray(eh.offset, eh.offset + eh.size) }, hdr.addr, hdr.size, code);
      const table = (bytes: Uint8Array) => {
        const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
        const n = dv.getUint32(8, true);
        const pairs: Array<[number, number]> = [];
        for (let i = 0; i < n; i++) pairs.push([dv.getInt32(12 + i * 8, true), dv.getInt32(16 + i * 8, true)]);
        return pairs;
      };
      const got = table(image.subarray(hdr.offset, hdr.offset + hdr.size));
      const want = table(rebuilt);
      expect(got.every((p, i) => i === 0 || got[i - 1][0] <= p[0]), `relink ${k}: the table is sorted`).to.equal(true);
      const key = (l: Array<[number, number]>) => l.map((p) => p.join(':')).sort();
      expect(key(got), `relink ${k}: the entries a rebuild gives`).to.deep.equal(key(want));
      const rest = image.subarray(hdr.offset + 12 + got.length * 8, hdr.offset + hdr.size);
      expect(rest.every((v) => v === 0), `relink ${k}: zeros after the table`).to.equal(true);
      if (x.r.writes.some((w) => w.offset >= hdr.offset && w.offset < hdr.offset + hdr.size)) moved++;
      const file = path.join(root, 'funcs', `prog${k}`);
      writeImage(file, image);
      expect(await runStatus(file, arch), `relink ${k}: the program's status`).to.equal(expectedStatus(versions[k]));
      prior = { image: image.slice(), state: x.s.serializeState({ imageIdentity: oldId(50 + k, 0) }) };
    }
    expect(moved, 'the table changed where functions moved').to.be.at.least(3);
  });
});
