/**
 * Encoding a state that was decoded copies the rows of its inputs and
 * objects that are still the records it was decoded into (state.ts
 * writeRows): a fresh process's patch changes a few of two thousand. These
 * tests hold the copy to the field-by-field encoding, and the patch to its
 * side of the bargain: it replaces the records it changes, never edits one
 * in place.
 */
import { expect } from 'chai';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import type { FixtureBuild } from '../../src/cli/fixture.js';
import { LinkSession, type FileIdentity } from '../../src/session/LinkSession.js';
import { decodeState, encodeStateSplit, hashBytes, renamedObject, type LinkState } from '../../src/session/state.js';
import { requireTools, tmpDir } from '../support/toolchain.js';
import { MemoryRecords, buildAll, readBytes, sameBytes, sessionOptions } from './support.js';

const arch = 'x86_64' as const;

const oldId = (ino: number, size: number): FileIdentity => ({ dev: 7n, ino: BigInt(ino), size: BigInt(size), mtimeNs: 1n, ctimeNs: 1n });

/** The same state as a new object: no rows to copy, so every row is written field by field. */
const fieldByField = (s: LinkState): LinkState => ({ ...s });

describe('incremental state: rows of a decoded state copied back', function () {
  this.timeout(300_000);
  let root = '';
  let b: Record<'base' | 'inslack', FixtureBuild>;

  before(async function () {
    await requireTools(['clang', 'llvm-ar']);
    root = tmpDir('tslink-state-rows');
    b = await buildAll(arch, root, {
      base: { variants: {}, debug: false },
      inslack: { variants: { table: 'edit-inslack' }, debug: false },
    });
  });

  after(function () {
    if (root && process.env.TSLINK_KEEP_TMP !== '1') fs.rmSync(root, { recursive: true, force: true });
  });

  /** A full incremental link of the fixture, its state split with `store`. */
  function first(store: MemoryRecords) {
    const s = new LinkSession(sessionOptions(arch));
    s.addInput('app_a.o', readBytes(b.base.apps.app_a), { identity: oldId(1, 10) });
    s.addInput('libcore.a', readBytes(b.base.libcore), { identity: oldId(2, 20) });
    expect(s.link().outcome).to.equal('full');
    const split = s.serializeStateSplit(store);
    store.write(split);
    return { image: s.image().slice(), state: split.state };
  }

  it('writes the bytes the field-by-field encoding writes, with records replaced or not', function () {
    const store = new MemoryRecords();
    const { state } = first(store);
    const decoded = decodeState(state, store);
    const copied = encodeStateSplit(decoded, store);
    const written = encodeStateSplit(fieldByField(decoded), store);
    expect(copied.fresh).to.equal(false);
    expect(sameBytes(copied.state, written.state), 'nothing replaced').to.equal(true);
    expect(sameBytes(copied.state, state), 'and the state as it was read').to.equal(true);

    // Replaced records are written from their fields, the rest copied around them.
    const lib = decoded.inputs.findIndex((i) => i.name === 'libcore.a');
    decoded.inputs[lib] = { ...decoded.inputs[lib], hash: new Uint8Array(32).fill(7), identity: null };
    const last = decoded.objects.length - 1;
    decoded.objects[last] = renamedObject(decoded.objects[last], 'renamed.o');
    const after = encodeStateSplit(decoded, store);
    const afterWritten = encodeStateSplit(fieldByField(decoded), store);
    expect(sameBytes(after.state, afterWritten.state), 'an input and an object replaced').to.equal(true);
    const again = decodeState(after.state, store);
    expect([...again.inputs[lib].hash]).to.deep.equal(new Array(32).fill(7));
    expect(again.inputs[lib].identity).to.equal(null);
    expect(again.objects[last].name).to.equal('renamed.o');
    expect(again.objects.slice(0, last).map((o) => o.name)).to.deep.equal(decoded.objects.slice(0, last).map((o) => o.name));
  });

  it('checksums with SHA-256, as doc/incremental.md says: the state, an input\'s bytes', function () {
    const store = new MemoryRecords();
    const { state } = first(store);
    const sha = (b: Uint8Array) => new Uint8Array(createHash('sha256').update(b).digest());
    // Header: magic 8, version 4, checksum 32, payload length 4. The objects' bulk is in the records file, so the sum covers all the payload.
    expect(sameBytes(state.subarray(12, 44), sha(state.subarray(48))), 'the state\'s checksum').to.equal(true);
    const decoded = decodeState(state, store);
    const app = decoded.inputs.find((i) => i.name === 'app_a.o')!;
    expect(sameBytes(app.hash, sha(readBytes(b.base.apps.app_a))), 'an input\'s hash').to.equal(true);
    expect(sameBytes(hashBytes(state), sha(state))).to.equal(true);
  });

  it('copies no object row into a records file written anew (their offsets would be wrong)', function () {
    const store = new MemoryRecords();
    const { state } = first(store);
    const decoded = decodeState(state, store);
    const other = new MemoryRecords();
    other.bytes = new Uint8Array(store.bytes.length + 100);
    other.bytes.set(store.bytes, 100);
    const moved = encodeStateSplit(decoded, other);
    expect(moved.fresh, 'nothing of the other file is referred to').to.equal(true);
    expect(sameBytes(moved.state, encodeStateSplit(fieldByField(decoded), other).state)).to.equal(true);
    other.write(moved);
    expect(decodeState(moved.state, other).objects.map((o) => o.atoms.length)).to.deep.equal(decoded.objects.map((o) => o.atoms.length));
  });

  it('copies no object row once its record has moved: the same records file, written anew by an earlier encoding', function () {
    const store = new MemoryRecords();
    const { state } = first(store);
    const decoded = decodeState(state, store);
    // The first object's record a little longer (a re-merged section's pieces can make it so): when the file
    // is written anew, every record after it moves.
    const o = decoded.objects[0];
    decoded.objects[0] = {
      input: o.input, member: o.member, name: o.name, hash: o.hash, shape: [...o.shape, 'an extra name'], refOrder: o.refOrder,
      localFirst: o.localFirst, localCount: o.localCount, localHash: o.localHash, localPlaces: o.localPlaces, gc: o.gc, atoms: o.atoms,
    };
    // Mostly stale bytes after the records (as after many patches): the next encoding writes the file anew.
    const grown = new Uint8Array(store.bytes.length * 3);
    grown.set(store.bytes);
    store.bytes = grown;
    const rewrite = encodeStateSplit(decoded, store);
    expect(rewrite.fresh, 'the file is written anew').to.equal(true);
    store.write(rewrite);
    const next = encodeStateSplit(decoded, store);
    expect(next.fresh, 'then appended to').to.equal(false);
    expect(sameBytes(next.state, encodeStateSplit(fieldByField(decoded), store).state), 'rows as the fields say').to.equal(true);
    store.write(next);
    expect(decodeState(next.state, store).objects.map((x) => x.atoms.length)).to.deep.equal(decoded.objects.map((x) => x.atoms.length));
  });

  it('a patch of a decoded state records the new input in a new record: hash, identity', function () {
    const store = new MemoryRecords();
    const prior = first(store);
    const s = new LinkSession(sessionOptions(arch));
    s.setPriorState(prior.state, prior.image.slice(), store);
    s.addInput('app_a.o', readBytes(b.base.apps.app_a), { identity: oldId(1, 10) });
    const edited = readBytes(b.inslack.libcore);
    s.addInput('libcore.a', edited, { identity: oldId(3, 30) });
    const r = s.link();
    expect(r.outcome, r.reason ?? '').to.equal('patched');
    const split = s.serializeStateSplit(store);
    store.write(split);
    const next = decodeState(split.state, store);
    const lib = next.inputs.find((i) => i.name === 'libcore.a')!;
    expect(sameBytes(lib.hash, hashBytes(edited)), 'the edited archive\'s hash').to.equal(true);
    expect(lib.identity?.ino).to.equal(3n);
    expect(next.inputs.find((i) => i.name === 'app_a.o')!.identity?.ino, 'the other input as it was').to.equal(1n);
    // And the state gives a patch that has nothing to do for the same inputs.
    const check = new LinkSession(sessionOptions(arch));
    check.setPriorState(split.state, s.image().slice(), store);
    check.addInput('app_a.o', readBytes(b.base.apps.app_a), { identity: oldId(1, 10) });
    check.addInput('libcore.a', edited, { identity: oldId(3, 30) });
    const c = check.link();
    expect([c.outcome, c.writes.length, c.work.bytesHashed]).to.deep.equal(['patched', 0, 0]);
  });
});
