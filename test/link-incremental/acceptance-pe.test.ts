/**
 * The acceptance scenarios A-F of ../shared/ACCEPTANCE.md on a PE build of
 * the same fixture: COFF objects from `clang --target=x86_64-windows-msvc`,
 * linked into x86-64 PE images with the entry `_start` (fixture/start.h's
 * Windows branch returns app_main's result, which becomes the exit status),
 * run under Wine. The claims are the ELF suite's; where they are read off
 * the image differs: a PE image has no symbol table, so the addresses of
 * symbols come from the state the session persists (what the program uses:
 * an island's address once a function moved), and the slots from the
 * state's atom records.
 *
 * Each scenario also links the same inputs with lld-link and runs it: the
 * statuses must agree.
 */
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { buildFixture, EXPECTED_STATUS, FIXTURE_PROGRAMS, FIXTURE_UNITS, type FixtureBuild, type FixtureEdit, type FixtureProgram } from '../../src/cli/fixture.js';
import { atomContentId } from '../../src/obj/contentId.js';
import { readCoffObject } from '../../src/obj/readCoff.js';
import { decodeState, type LinkState } from '../../src/session/state.js';
import type { SessionOptions } from '../../src/session/LinkSession.js';
import { exec, requireToolsOrSkip, tmpDir } from '../support/toolchain.js';
import { LiveOutput, PersistedOutput, coldLink, decodeIsland, readBytes, type InputFile, type Linked } from './support.js';

const PE: Partial<SessionOptions> = { format: 'coff', entry: '_start', buildId: undefined };

async function haveWine(): Promise<boolean> {
  const r = await exec('wine', ['--version']).catch(() => null);
  return !!r && r.status === 0;
}

/** Runs a PE image under Wine; its exit status. */
async function runPe(file: string): Promise<number> {
  const r = await exec('wine', [file], { env: { ...process.env, WINEDEBUG: '-all' }, timeoutMs: 120_000 });
  return r.status ?? -1;
}

function inputsOf(build: FixtureBuild, program: FixtureProgram): InputFile[] {
  return [
    { kind: 'object', name: `${program}.o`, file: build.apps[program] },
    { kind: 'archive', name: 'libcore.a', file: build.libcore },
  ];
}

function stateOf(out: PersistedOutput): LinkState {
  return decodeState(readBytes(out.stateFile));
}

/** Every global's address as the program uses it, by name. */
function addresses(state: LinkState): Map<string, number> {
  return new Map(state.globals.all().filter((g) => g.object >= 0).map((g) => [g.name, g.value]));
}

/** The state's record of the atom defining `fn` in the object `member` (built at `file`). */
function atomOf(state: LinkState, fn: string, file: string, member = 'table.o') {
  const f = readCoffObject(member, readBytes(file));
  const sym = f.symbols.find((s) => s.name === fn && s.atom >= 0);
  const obj = state.objects.find((o) => o.member === member || o.name === member);
  const atom = sym && obj?.atoms[sym.atom];
  if (!atom) throw new Error(`no atom for ${fn} in ${member}`);
  return atom;
}

function fileOffset(state: LinkState, addr: number): number {
  const sec = state.sections.find((s) => addr >= s.addr && addr < s.addr + s.size);
  if (!sec) throw new Error(`address ${addr.toString(16)} is in no section`);
  return sec.offset + (addr - sec.addr);
}

/** Byte ranges where two images of the same size differ. */
function diffs(a: Uint8Array, b: Uint8Array): Array<[number, number]> {
  expect(a.length).to.equal(b.length);
  const out: Array<[number, number]> = [];
  for (let i = 0; i < a.length; i++) {
    if (a[i] === b[i]) continue;
    let j = i;
    while (j < a.length && a[j] !== b[j]) j++;
    out.push([i, j]);
    i = j;
  }
  return out;
}

describe('acceptance on PE (x86-64, Wine)', function () {
  this.timeout(600_000);
  const builds = new Map<string, FixtureBuild>();
  let root = '';

  before(async function () {
    await requireToolsOrSkip(this, ['clang', 'llvm-ar', 'lld-link']);
    if (!(await haveWine())) this.skip();
    root = tmpDir('tslink-pe-acceptance-');
    const edits: FixtureEdit[] = ['base', 'table.edit-inslack', 'table.edit-grow', 'state.edit-extra', 'weakdef.edit-strong', 'table.edit-optional', 'state.edit-grow-config', 'table.edit-onebyte'];
    for (const debug of [false, true]) {
      await Promise.all(edits.map(async (edit) => {
        const { FIXTURE_EDITS } = await import('../../src/cli/fixture.js');
        const key = `${edit}${debug ? '-g' : ''}`;
        builds.set(key, await buildFixture({ arch: 'x86_64', outDir: path.join(root, key), format: 'coff', debug, variants: FIXTURE_EDITS[edit] }));
      }));
    }
  });

  after(() => {
    if (root && process.env.TSLINK_KEEP_TMP !== '1') fs.rmSync(root, { recursive: true, force: true });
  });

  const build = (edit: FixtureEdit, debug = false) => builds.get(`${edit}${debug ? '-g' : ''}`)!;

  /** lld-link's image of the same inputs, run: the status tslink's must have. */
  async function lldStatus(edit: FixtureEdit, program: FixtureProgram): Promise<number> {
    const b = build(edit);
    const out = path.join(b.dir, `${program}.lld.exe`);
    await exec('lld-link', [`/out:${out}`, '/entry:_start', '/subsystem:console', b.apps[program], b.libcore]);
    return runPe(out);
  }

  for (const debug of [false, true]) {
    const flavor = debug ? 'with -gdwarf' : 'without -g';

    it(`A, edit within slack (${flavor}): patched, no resolution, addresses kept, only tbl_get's slot written, runs`, async () => {
      const dir = tmpDir('tslink-pe-A-');
      for (const program of FIXTURE_PROGRAMS) {
        const out = new PersistedOutput('x86_64', path.join(dir, `${program}.exe`), PE);
        const first = out.link(inputsOf(build('base', debug), program));
        expect(first.report.outcome).to.equal('full');
        expect(await runPe(out.file)).to.equal(EXPECTED_STATUS.base[program]);
        const before = stateOf(out);
        const slot = atomOf(before, 'tbl_get', build('base', debug).objects.table);
        const edited = out.link(inputsOf(build('table.edit-inslack', debug), program));
        expect(edited.report.outcome, String(edited.report.reason)).to.equal('patched');
        expect(edited.fullResolutions).to.equal(0);
        const after = stateOf(out);
        expect([...addresses(after)]).to.deep.equal([...addresses(before)]);
        const status = await runPe(out.file);
        expect(status).to.equal(EXPECTED_STATUS['table.edit-inslack'][program]);
        expect(status).to.equal(await lldStatus('table.edit-inslack', program));
        if (!debug) {
          // Only bytes inside tbl_get's slot differ.
          const from = fileOffset(before, slot.addr);
          for (const [a, b] of diffs(first.image, edited.image)) {
            expect(a >= from && b <= from + slot.slot, `bytes [${a}, ${b}) changed outside tbl_get's slot [${from}, ${from + slot.slot})`).to.equal(true);
          }
        }
      }
    });

    it(`B, grow past slack (${flavor}): patched, tbl_sum moved behind an island, callers unchanged, runs`, async () => {
      const dir = tmpDir('tslink-pe-B-');
      for (const program of FIXTURE_PROGRAMS) {
        const out = new PersistedOutput('x86_64', path.join(dir, `${program}.exe`), PE);
        const first = out.link(inputsOf(build('base', debug), program));
        const before = stateOf(out);
        const old = atomOf(before, 'tbl_sum', build('base', debug).objects.table);
        const grown = out.link(inputsOf(build('table.edit-grow', debug), program));
        expect(grown.report.outcome, String(grown.report.reason)).to.equal('patched');
        const after = stateOf(out);
        const moved = atomOf(after, 'tbl_sum', build('table.edit-grow', debug).objects.table);
        expect(moved.addr, 'tbl_sum has a new address').to.not.equal(old.addr);
        expect(moved.canonical, 'callers still use the old address').to.equal(old.addr);
        const island = decodeIsland('x86_64', grown.image, fileOffset(after, old.addr), old.addr);
        expect(island?.target, 'a jump island at the old address leads to the new one').to.equal(moved.addr);
        // Callers' bytes: app_main is untouched.
        const app = atomOf(before, 'app_main', build('base', debug).apps[program], `${program}.o`);
        const at = fileOffset(before, app.addr);
        expect(Buffer.compare(first.image.subarray(at, at + app.size), grown.image.subarray(at, at + app.size))).to.equal(0);
        const status = await runPe(out.file);
        expect(status).to.equal(EXPECTED_STATUS['table.edit-grow'][program]);
        expect(status).to.equal(await lldStatus('table.edit-grow', program));
        // A chain: back to the base, then the in-slack edit, each patched and running right.
        for (const edit of ['base', 'table.edit-inslack'] as const) {
          const next = out.link(inputsOf(build(edit, debug), program));
          expect(next.report.outcome, `${edit}: ${next.report.reason}`).to.equal('patched');
          expect(await runPe(out.file)).to.equal(EXPECTED_STATUS[edit][program]);
        }
      }
    });
  }

  const GATE: Array<{ edit: FixtureEdit; cause: RegExp }> = [
    { edit: 'state.edit-extra', cause: /g_extra|symbol|state\.o/ },
    { edit: 'weakdef.edit-strong', cause: /feature_level|weakdef\.o/ },
    { edit: 'table.edit-optional', cause: /opt_helper|table\.o/ },
    { edit: 'state.edit-grow-config', cause: /g_config|grew|state\.o/ },
  ];
  for (const { edit, cause } of GATE) {
    it(`C, the gate: ${edit} falls back with its reason, the image equals a cold full link, runs`, async () => {
      const dir = tmpDir('tslink-pe-C-');
      for (const program of FIXTURE_PROGRAMS) {
        const out = new PersistedOutput('x86_64', path.join(dir, `${program}.exe`), PE);
        out.link(inputsOf(build('base', true), program));
        const r = out.link(inputsOf(build(edit, true), program));
        expect(r.report.outcome).to.equal('fell-back-full');
        expect(r.report.reason).to.match(cause);
        const cold = coldLink('x86_64', inputsOf(build(edit, true), program), path.join(dir, `${program}.cold.exe`), PE);
        expect(Buffer.compare(r.image, cold.image), 'byte-identical to a cold full link').to.equal(0);
        const status = await runPe(out.file);
        expect(status).to.equal(EXPECTED_STATUS[edit][program]);
        expect(status).to.equal(await lldStatus(edit, program));
      }
    });
  }

  it('D, two outputs: an edit of table.c used by both is patched in both, both run', async () => {
    const dir = tmpDir('tslink-pe-D-');
    const outs = FIXTURE_PROGRAMS.map((p) => new PersistedOutput('x86_64', path.join(dir, `${p}.exe`), PE));
    outs.forEach((o, i) => o.link(inputsOf(build('base'), FIXTURE_PROGRAMS[i])));
    const results: Linked[] = outs.map((o, i) => o.link(inputsOf(build('table.edit-inslack'), FIXTURE_PROGRAMS[i])));
    expect(results.map((r) => r.report.outcome)).to.deep.equal(['patched', 'patched']);
    for (let i = 0; i < outs.length; i++) expect(await runPe(outs[i].file)).to.equal(EXPECTED_STATUS['table.edit-inslack'][FIXTURE_PROGRAMS[i]]);
  });

  it('E, determinism: the same objects and ids when built twice, the same image when linked twice, a one-byte edit changes one atom id', async () => {
    const again = await buildFixture({ arch: 'x86_64', outDir: path.join(root, 'base-again'), format: 'coff' });
    for (const u of FIXTURE_UNITS) expect(Buffer.compare(readBytes(again.objects[u]), readBytes(build('base').objects[u])), `${u}.o`).to.equal(0);
    const dir = tmpDir('tslink-pe-E-');
    const one = coldLink('x86_64', inputsOf(build('base'), 'app_a'), path.join(dir, 'one.exe'), PE);
    const two = coldLink('x86_64', inputsOf(again, 'app_a'), path.join(dir, 'two.exe'), PE);
    expect(Buffer.compare(one.image, two.image)).to.equal(0);
    const ids = (b: FixtureBuild) => {
      const f = readCoffObject('table.o', readBytes(b.objects.table));
      return f.atoms.map((a) => `${a.name}=${Buffer.from(atomContentId(f, a)).toString('hex')}`);
    };
    const base = ids(build('base'));
    const edited = ids(build('table.edit-onebyte'));
    expect(edited.length).to.equal(base.length);
    const changed = base.filter((x, i) => x !== edited[i]).map((x) => x.split('=')[0]);
    // The edited function's code, and its unwind entry only if the code's size changed.
    expect(changed.filter((n) => n.startsWith('.text'))).to.have.length(1);
  });

  it('F, nothing changed: patched with zero bytes written, the same image, far less work than a full link', async () => {
    const dir = tmpDir('tslink-pe-F-');
    const out = new PersistedOutput('x86_64', path.join(dir, 'app_a.exe'), PE);
    const full = out.link(inputsOf(build('base'), 'app_a'));
    const again = out.link(inputsOf(build('base'), 'app_a'));
    expect(again.report.outcome).to.equal('patched');
    expect(again.report.writes.reduce((n, w) => n + w.length, 0)).to.equal(0);
    expect(Buffer.compare(full.image, again.image)).to.equal(0);
    expect(again.report.work.relocsApplied).to.be.lessThan(full.report.work.relocsApplied);
    expect(again.report.work.atomsPlaced).to.be.lessThan(full.report.work.atomsPlaced);
  });

  it('a live session patches PE images too (replaceInput)', async () => {
    const dir = tmpDir('tslink-pe-live-');
    const live = new LiveOutput('x86_64', path.join(dir, 'app_b.exe'), inputsOf(build('base'), 'app_b'), PE);
    live.link();
    live.replace(1, build('table.edit-grow').libcore);
    const r = live.link();
    expect(r.report.outcome, String(r.report.reason)).to.equal('patched');
    expect(await runPe(live.file)).to.equal(EXPECTED_STATUS['table.edit-grow'].app_b);
  });
});
