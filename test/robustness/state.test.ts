/**
 * Corrupt or mismatched incremental state (doc/robustness.md, "The state"):
 * each case is detected, and answered with a full link whose reason says so
 * (`tslink --explain` prints `tslink: fell-back-full: <reason>`), whose image
 * is byte-identical to a cold full link, and whose program runs correctly.
 *
 * Every case starts from app_a's base link (its output and state) with
 * table.c edited in its slot, which a good state patches.
 */
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { EXPECTED_STATUS } from '../../src/cli/fixture.js';
import { STATE_VERSION, decodeState, encodeState } from '../../src/session/state.js';
import { requireTools } from '../support/toolchain.js';
import { builds, linkArgs, mustLink, readBytes, stage, status, tslink, workRoot } from './support.js';

interface Scenario {
  /** Changes the work directory (holding out, out.tslink-state, app_a.o, libcore.a, app_b.o) before the link. */
  change: (dir: string, ctx: Ctx) => void;
  /** Extra command-line options of the link. */
  args?: string[];
  /** The first line --explain must print. */
  explain: RegExp;
  /** The image must equal the cold full link with these options (default: it must). */
  cold?: boolean;
}

interface Ctx {
  otherImage: Uint8Array;
  otherState: Uint8Array;
  otherRecords: Uint8Array;
}

const flip = (file: string, at: (n: number) => number, bit = 0) => {
  const b = readBytes(file).slice();
  b[at(b.length)] ^= 1 << bit;
  fs.writeFileSync(file, b);
};
/**
 * Where an object's record lies in the records file beside the state (state.ts: in the state, its name, the
 * bytes hash, marker 1, the record's checksum, its length, its offset in the records file): its middle.
 */
const recordMiddle = (dir: string, name: string): number => {
  const b = readBytes(path.join(dir, STATE));
  const tag = Buffer.concat([Buffer.from([name.length, 0, 0, 0]), Buffer.from(name)]);
  // The last occurrence: an input of the same name comes before the objects.
  const at = Buffer.from(b.buffer, b.byteOffset, b.byteLength).lastIndexOf(tag);
  if (at < 0) throw new Error(`no record of ${name} in the state`);
  const markerAt = at + tag.length + 32;
  if (b[markerAt] !== 1) throw new Error(`the record of ${name} is not in the records file`);
  const dv = new DataView(b.buffer, b.byteOffset);
  return dv.getFloat64(markerAt + 1 + 32 + 4, true) + (dv.getUint32(markerAt + 1 + 32, true) >> 1);
};
const edit = (file: string, f: (b: Uint8Array) => Uint8Array) => fs.writeFileSync(file, f(readBytes(file).slice()));
/** Decodes the state (its records from the records file beside it), changes it, and writes it back with a valid checksum, whole. */
const resign = (file: string, f: (s: ReturnType<typeof decodeState>) => void) => {
  const records = readBytes(`${file}.records`);
  const s = decodeState(readBytes(file), { size: records.length, read: (at, n) => records.subarray(at, at + n) });
  f(s);
  fs.writeFileSync(file, encodeState(s));
};

const STATE = 'out.tslink-state';
const RECORDS = `${STATE}.records`;
const isInput = (a: string) => /\.[oa]$/.test(a);
const UNUSABLE = 'tslink: fell-back-full: the incremental state cannot be used: ';
const CHANGED_OUTPUT = 'tslink: fell-back-full: the previous output no longer matches the incremental state';
const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The state of app_b's link, and its records file. */
const otherState = (d: string, c: Ctx) => {
  fs.writeFileSync(path.join(d, STATE), c.otherState);
  fs.writeFileSync(path.join(d, RECORDS), c.otherRecords);
};

const SCENARIOS: Record<string, Scenario> = {
  'state truncated to half': { change: (d) => edit(path.join(d, STATE), (b) => b.subarray(0, b.length >> 1)), explain: new RegExp(`^${esc(UNUSABLE)}`) },
  'state truncated to its header': { change: (d) => edit(path.join(d, STATE), (b) => b.subarray(0, 20)), explain: new RegExp(`^${esc(UNUSABLE)}truncated`) },
  'state emptied': { change: (d) => fs.writeFileSync(path.join(d, STATE), ''), explain: new RegExp(`^${esc(UNUSABLE)}the incremental state file is not a tslink state`) },
  'state with bytes appended': { change: (d) => edit(path.join(d, STATE), (b) => Buffer.concat([b, Buffer.from('extra')])), explain: new RegExp(`^${esc(UNUSABLE)}the incremental state has 5 bytes after its end`) },
  // The state's checksum covers all but the objects' records, which carry their own, checked when read
  // (the command line keeps them in a file beside the state: OUTPUT.tslink-state.records).
  'a bit flipped in the state (its link options)': { change: (d) => flip(path.join(d, STATE), () => 48 + 4 + 3, 3), explain: new RegExp(`^${esc(UNUSABLE)}the incremental state is corrupt \\(checksum mismatch\\)`) },
  'the state\'s records file deleted': {
    change: (d) => fs.rmSync(path.join(d, RECORDS)),
    explain: new RegExp(`^${esc(UNUSABLE)}its records file is missing \\(it holds the record of app_a\\.o\\)`),
  },
  'a bit flipped in the record of an object that changed': {
    change: (d) => flip(path.join(d, RECORDS), () => recordMiddle(d, 'libcore.a(table.o)'), 3),
    explain: new RegExp(`^${esc(UNUSABLE)}the record of libcore\\.a\\(table\\.o\\) is corrupt \\(checksum mismatch\\)`),
  },
  // The globals' bytes end the records file (its table of names last); a lookup reads the block it is in.
  'a bit flipped in the globals\' table in the records file': {
    change: (d) => flip(path.join(d, RECORDS), (n) => n - 1, 3),
    explain: new RegExp(`^${esc(UNUSABLE)}the globals in the records file are corrupt \\(checksum mismatch in block \\d+\\)`),
  },
  // Not read, so not checked: the patch is what it would be, and the record is written back as it was.
  'a bit flipped in the record of an object that did not change': {
    change: (d) => flip(path.join(d, RECORDS), () => recordMiddle(d, 'app_a.o'), 3),
    explain: /^tslink: patched:/,
    cold: false,
  },
  'a bit flipped in the state checksum': { change: (d) => flip(path.join(d, STATE), () => 20), explain: /checksum mismatch/ },
  'the state of another output (app_b)': { change: (d, c) => otherState(d, c), explain: new RegExp(`^${esc(CHANGED_OUTPUT)}`) },
  'another program\'s output and state, more inputs': {
    change: (d, c) => {
      fs.writeFileSync(path.join(d, 'out'), c.otherImage);
      otherState(d, c);
    },
    args: ['libcore.a'],
    explain: /^tslink: fell-back-full: the set of input files changed \(2 before, 3 now\)/,
  },
  'another program\'s output and state, the same command line': {
    change: (d, c) => {
      fs.writeFileSync(path.join(d, 'out'), c.otherImage);
      otherState(d, c);
    },
    explain: /^tslink: fell-back-full: the local symbols of app_a.o changed/,
  },
  // A version this tslink does not read: the next one.
  'a state from another format version': {
    change: (d) => edit(path.join(d, STATE), (b) => (b.set([STATE_VERSION + 1, 0, 0, 0], 8), b)),
    explain: new RegExp(`^${esc(UNUSABLE)}the incremental state has version ${STATE_VERSION + 1}, this tslink reads version ${STATE_VERSION}\\b`),
  },
  'a state from another tslink version': {
    change: (d) => resign(path.join(d, STATE), (s) => { s.optionsKey = JSON.stringify({ ...JSON.parse(s.optionsKey), tslink: '0.0.1' }); }),
    explain: /^tslink: fell-back-full: the link options changed \(tslink\)/,
  },
  // A patch reads (and checks) the records of the objects that changed: libcore.a's table.o here.
  'a state re-signed with an out-of-range value': {
    change: (d) => resign(path.join(d, STATE), (s) => { s.objects.find((o) => o.member === 'table.o')!.atoms[0].sec = s.sections.length + 3; }),
    explain: new RegExp(`^${esc(UNUSABLE)}the incremental state is inconsistent: atom .* of libcore\\.a\\(table\\.o\\) is in section \\d+, of \\d+`),
  },
  // The record of an object that did not change is not read: the patch is what it would be.
  'a state re-signed with an out-of-range value in a record the patch does not read': {
    change: (d) => resign(path.join(d, STATE), (s) => { s.objects.find((o) => o.name === 'app_a.o')!.atoms[0].sec = s.sections.length + 3; }),
    explain: /^tslink: patched:/,
    cold: false,
  },
  'other link options (--code-slack=50)': { change: () => undefined, args: ['--code-slack=50'], explain: /^tslink: fell-back-full: the link options changed \(codeSlackPct\)/ },
  'other link options (--build-id=sha1)': { change: () => undefined, args: ['--build-id=sha1'], explain: /^tslink: fell-back-full: the link options changed \(buildId\)/ },
  'other link options (-u opt_helper)': { change: () => undefined, args: ['-u', 'opt_helper'], explain: /^tslink: fell-back-full: the link options changed \(undefinedSymbols\)/ },
  'the output edited (one bit)': { change: (d) => flip(path.join(d, 'out'), (n) => n >> 1), explain: new RegExp(`^${esc(CHANGED_OUTPUT)}`) },
  'the output edited (its build id)': {
    change: (d) => edit(path.join(d, 'out'), (b) => {
      const at = Buffer.from(b).indexOf(Buffer.from('GNU\0')) + 4;
      b[at] ^= 0xff;
      return b;
    }),
    explain: new RegExp(`^${esc(CHANGED_OUTPUT)}`),
  },
  'the output truncated': { change: (d) => edit(path.join(d, 'out'), (b) => b.subarray(0, b.length - 1)), explain: new RegExp(`^${esc(CHANGED_OUTPUT)}`) },
  'the output grown': { change: (d) => edit(path.join(d, 'out'), (b) => Buffer.concat([b, new Uint8Array(1)])), explain: new RegExp(`^${esc(CHANGED_OUTPUT)}`) },
  'the output replaced by another program': { change: (d, c) => fs.writeFileSync(path.join(d, 'out'), c.otherImage), explain: new RegExp(`^${esc(CHANGED_OUTPUT)}`) },
  'the output deleted': { change: (d) => fs.rmSync(path.join(d, 'out')), explain: /^tslink: fell-back-full: the previous output is missing/ },
  'the state deleted': { change: (d) => fs.rmSync(path.join(d, STATE)), explain: /^tslink: full:/ },
  'nothing wrong (the control)': { change: () => undefined, explain: /^tslink: patched:/, cold: false },
};

for (const arch of ['x86_64', 'aarch64'] as const) {
  describe(`robustness: corrupt or mismatched incremental state (${arch})`, function () {
    this.timeout(300_000);
    const root = workRoot(`tslink-state-${arch}`);
    after(() => root.cleanup());
    let fx: { files: Record<string, string | Uint8Array>; image: Uint8Array; state: Uint8Array; records: Uint8Array; ctx: Ctx; cold: Map<string, Uint8Array> };

    before(async function () {
      await requireTools(['clang', 'llvm-ar', ...(arch === 'aarch64' ? ['qemu-aarch64'] : [])]);
      const b = await builds(arch, path.join(root.dir, 'fx'), { base: {}, edit: { table: 'edit-inslack' } });
      const ref = stage(path.join(root.dir, 'ref'), { 'app_a.o': b.base.apps.app_a, 'app_b.o': b.base.apps.app_b, 'libcore.a': b.base.libcore });
      await mustLink(linkArgs(arch, 'out', ['app_b.o', 'libcore.a']), ref);
      const ctx = { otherImage: readBytes(path.join(ref, 'out')), otherState: readBytes(path.join(ref, STATE)), otherRecords: readBytes(path.join(ref, RECORDS)) };
      fs.rmSync(path.join(ref, STATE));
      await mustLink(linkArgs(arch, 'out', ['app_a.o', 'libcore.a']), ref);
      fx = {
        files: { 'app_a.o': b.base.apps.app_a, 'app_b.o': b.base.apps.app_b, 'libcore.a': b.edit.libcore },
        image: readBytes(path.join(ref, 'out')), state: readBytes(path.join(ref, STATE)), records: readBytes(path.join(ref, RECORDS)), ctx, cold: new Map(),
      };
    });

    /** A cold full link of the edit with these options. */
    async function cold(args: string[]): Promise<Uint8Array> {
      const key = args.join(' ');
      if (!fx.cold.has(key)) {
        const dir = stage(path.join(root.dir, `cold-${fx.cold.size}`), fx.files);
        expect(await mustLink(linkArgs(arch, 'out', ['app_a.o', 'libcore.a', ...args.filter(isInput)], args.filter((a) => !isInput(a))), dir)).to.match(/^tslink: full:/);
        fx.cold.set(key, readBytes(path.join(dir, 'out')));
      }
      return fx.cold.get(key)!;
    }

    for (const [name, sc] of Object.entries(SCENARIOS)) {
      it(`${name}: ${sc.explain.source.startsWith('^tslink: fell-back-full') ? 'a full link that says why' : sc.explain.source.replace(/^\^/, '')}`, async function () {
        const dir = stage(path.join(root.dir, name.replace(/[^\w]+/g, '-')), { ...fx.files, out: fx.image, [STATE]: fx.state, [RECORDS]: fx.records });
        sc.change(dir, fx.ctx);
        const extra = sc.args ?? [];
        const args = linkArgs(arch, 'out', ['app_a.o', 'libcore.a', ...extra.filter(isInput)], extra.filter((a) => !isInput(a)));
        const r = await tslink(args, dir);
        expect(r.status, r.stderr).to.equal(0);
        expect(r.stderr, 'nothing on stderr').to.equal('');
        const line = r.stdout.split('\n')[0];
        expect(line).to.match(sc.explain);
        const image = readBytes(path.join(dir, 'out'));
        if (sc.cold !== false) expect(Buffer.compare(image, await cold(extra)), 'the full link gives the cold full link\'s image').to.equal(0);
        expect(await status(path.join(dir, 'out'), arch), 'the program').to.equal(EXPECTED_STATUS['table.edit-inslack'].app_a);
        // And the state it wrote is good: a second link changes nothing.
        expect(await mustLink(args, dir), 'the next link').to.match(/^tslink: patched: 0 bytes written/);
      });
    }
  });
}
