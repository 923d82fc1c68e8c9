/**
 * The acceptance suite of incremental ELF linking: ../shared/ACCEPTANCE.md,
 * executable. Every scenario runs on x86-64 and AArch64 (AArch64 programs run
 * under qemu-aarch64).
 *
 * The fixture (fixture/, see its README) is built once per architecture into a
 * temporary directory, `-fno-pic`. The patch scenarios (A, B, D, the chains,
 * the live session, the command line) run twice: on `-g` builds (as a
 * developer builds; addr2line is checked there) and on builds without -g
 * (no debug info in play, and A's byte comparison can be stated strictly).
 * C and F run on the -g builds, E without -g (see there).
 *
 * Links go through the library API. A "fresh process" link is a new
 * LinkSession seeded with the state file and the image file that the previous
 * link left on disk (PersistedOutput in support.ts); inputs are named
 * `app_X.o` and `libcore.a`, as a build system running in the output's
 * directory would name them, so an edit looks like a file rebuilt in place.
 * The live-session scenario uses replaceInput on one session instead, and the
 * command-line scenario runs `tslink --incremental --explain`. Every link also checks the
 * emit contract: a full link writes the whole image, a patch writes only
 * inside r.writes, and what is written is s.image().
 *
 * Set TSLINK_KEEP_TMP=1 to keep the temporary directory (its path is printed).
 */
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { EXPECTED_STATUS, FIXTURE_PROGRAMS, FIXTURE_UNITS, type FixtureBuild, type FixtureEdit, type FixtureProgram } from '../../src/cli/fixture.js';
import { atomContentId, objectContentId } from '../../src/obj/contentId.js';
import { readElfObject } from '../../src/obj/readElf.js';
import { ARCHES, requireTools, tmpDir } from '../support/toolchain.js';
import {
  type BuildSpec,
  type InputFile,
  type Linked,
  type NmSymbol,
  LiveOutput,
  PersistedOutput,
  addr2line,
  buildAll,
  buildIdRange,
  coldLink,
  decodeIsland,
  diffRuns,
  fileOffset,
  fileRange,
  isTrapFill,
  lldLink,
  nm,
  nmLines,
  once,
  programInputs,
  readBytes,
  runStatus,
  sameBytes,
  sectionFileRanges,
  sections,
  slotOf,
  symbol,
  totalLength,
  tslinkCli,
  uncoveredDiffs,
  writeImage,
} from './support.js';

const KEEP = process.env.TSLINK_KEEP_TMP === '1';
const PROGRAMS = FIXTURE_PROGRAMS;

/**
 * The patch scenarios (A, B, D, the chains, the live session) run in two
 * flavours: with -g, as a developer builds, and without -g, where no debug
 * info is in play. The claims are the same in both (A's byte comparison
 * excepted, see there); the second flavour separates "the patch machinery
 * is wrong" from "debug info is not patched yet".
 */
const FLAVORS = [
  { key: 'g', label: 'with -g', debug: true },
  { key: 'nog', label: 'without -g', debug: false },
] as const;

/** The builds each flavour needs (the key is the flavour's key, a dash, the name). */
const PER_FLAVOR = {
  base: {},
  inslack: { table: 'edit-inslack' },
  grow: { table: 'edit-grow' },
  strong: { weakdef: 'edit-strong' },
  /** c2 and A together: A's edit on top of the state a c2 fall-back wrote. */
  strongInslack: { weakdef: 'edit-strong', table: 'edit-inslack' },
} as const;
type FlavorBuild = keyof typeof PER_FLAVOR;

/** Every build the scenarios use, per architecture. */
const BUILDS: Record<string, BuildSpec> = {
  ...Object.fromEntries(
    FLAVORS.flatMap((f) => Object.entries(PER_FLAVOR).map(([name, variants]) => [`${f.key}-${name}`, { variants, debug: f.debug }])),
  ),
  // C: with -g.
  'g-extra': { variants: { state: 'edit-extra' }, debug: true },
  'g-optional': { variants: { table: 'edit-optional' }, debug: true },
  'g-growConfig': { variants: { state: 'edit-grow-config' }, debug: true },
  // E: without -g (see there).
  'nog-base2': { variants: {}, debug: false },
  'nog-onebyte': { variants: { table: 'edit-onebyte' }, debug: false },
};
type BuildKey = string;

/** The gate's cases (scenario C): the edit, and what its fall-back reason must name. */
const GATE: { id: string; edit: FixtureEdit; build: BuildKey; cause: RegExp; what: string }[] = [
  { id: 'c1', edit: 'state.edit-extra', build: 'g-extra', cause: /g_extra/, what: "'g_extra'" },
  { id: 'c2', edit: 'weakdef.edit-strong', build: 'g-strong', cause: /feature_level/, what: "'feature_level'" },
  { id: 'c3', edit: 'table.edit-optional', build: 'g-optional', cause: /opt_helper|optional\.o/, what: "'opt_helper' or 'optional.o'" },
  { id: 'c4', edit: 'state.edit-grow-config', build: 'g-growConfig', cause: /g_config/, what: "'g_config'" },
];

function describeOutcome(l: Linked): string {
  return `outcome '${l.report.outcome}'${l.report.reason ? ` (reason: ${l.report.reason})` : ''}`;
}

function expectOutcome(l: Linked, outcome: 'full' | 'patched' | 'fell-back-full', what: string): void {
  expect(l.report.outcome, `${what}: ${describeOutcome(l)}`).to.equal(outcome);
}

/** Keeps a copy of a link's image under `<file>.<tag>` (the output file is overwritten by the next link). */
function keep(l: Linked, tag: string): string {
  const file = `${l.file}.${tag}`;
  writeImage(file, l.image);
  return file;
}

const hex = (n: number) => `0x${n.toString(16)}`;

for (const arch of ARCHES) {
  describe(`incremental linking acceptance (${arch})`, function () {
    this.timeout(300_000);
    let root = '';
    let B: Record<BuildKey, FixtureBuild>;

    const out = (...parts: string[]) => path.join(root, 'out', ...parts);
    const inputs = (key: BuildKey, app: FixtureProgram): InputFile[] => {
      if (!B[key]) throw new Error(`no build '${key}'`);
      return programInputs(B[key], app);
    };
    const expected = (edit: FixtureEdit, app: FixtureProgram) => EXPECTED_STATUS[edit][app];
    /** Runs an image; the status it exits with. */
    const status = (file: string) => runStatus(file, arch);

    /** A cold full link of the same inputs, run: its status (the "behaves the same" reference). */
    async function coldStatus(key: BuildKey, app: FixtureProgram, tag: string): Promise<number | null> {
      const cold = coldLink(arch, inputs(key, app), out('cold', `${key}-${tag}-${app}`));
      return status(cold.file);
    }

    /** ld.lld's link of c2 + A (no EXPECTED_STATUS entry), run: the status the fixture's C means. */
    const lldStatus = new Map<string, () => Promise<Record<FixtureProgram, number | null>>>();
    for (const f of FLAVORS) {
      lldStatus.set(
        f.key,
        once(async () => {
          const res = {} as Record<FixtureProgram, number | null>;
          for (const app of PROGRAMS) res[app] = await status(await lldLink(out('lld', `${f.key}-strongInslack-${app}`), inputs(`${f.key}-strongInslack`, app)));
          return res;
        }),
      );
    }

    before(async function () {
      await requireTools(['clang', 'llvm-ar', 'ld.lld', 'llvm-nm', 'llvm-addr2line', ...(arch === 'aarch64' ? ['qemu-aarch64'] : [])]);
      root = tmpDir(`tslink-incremental-${arch}`);
      if (KEEP) console.log(`    (keeping ${root})`);
      B = await buildAll(arch, path.join(root, 'build'), BUILDS);
    });

    after(function () {
      if (root && !KEEP) fs.rmSync(root, { recursive: true, force: true });
    });

    for (const flavor of FLAVORS) {
      const k = (name: FlavorBuild): BuildKey => `${flavor.key}-${name}`;
      const fo = (...parts: string[]) => out(flavor.key, ...parts);

      // ---------------------------------------------------------------------
      describe(`A — edit within slack (table.edit-inslack), ${flavor.label}`, function () {
        interface Side {
          linked: Linked;
          file: string;
          nm: NmSymbol[];
        }
        const baseLinks = once(async () => {
          const res = {} as Record<FixtureProgram, { output: PersistedOutput; before: Side }>;
          for (const app of PROGRAMS) {
            const output = new PersistedOutput(arch, fo('A', app));
            const linked = output.link(inputs(k('base'), app));
            const file = keep(linked, 'before');
            res[app] = { output, before: { linked, file, nm: await nm(file) } };
          }
          return res;
        });
        const patchLinks = once(async () => {
          const base = await baseLinks();
          const res = {} as Record<FixtureProgram, { before: Side; after: Side }>;
          for (const app of PROGRAMS) {
            const linked = base[app].output.link(inputs(k('inslack'), app));
            const file = keep(linked, 'after');
            res[app] = { before: base[app].before, after: { linked, file, nm: await nm(file) } };
          }
          return res;
        });

        it('the first link (no prior state) is a full link, and both programs run with the base statuses', async function () {
          const base = await baseLinks();
          for (const app of PROGRAMS) {
            const b = base[app].before;
            expectOutcome(b.linked, 'full', `${app}: first link`);
            expect(b.linked.report.reason, `${app}: a first link has no fall-back reason`).to.equal(null);
            expect(b.linked.fullResolutions, `${app}: a full link runs one full resolution`).to.equal(1);
            expect(await status(b.file), `${app}: exit status`).to.equal(expected('base', app));
          }
        });

        it('relinking the edit is patched, and no full resolution runs', async function () {
          const r = await patchLinks();
          for (const app of PROGRAMS) {
            expectOutcome(r[app].after.linked, 'patched', `${app}: relink after table.edit-inslack`);
            expect(r[app].after.linked.report.reason, `${app}: a patch has no fall-back reason`).to.equal(null);
            expect(r[app].after.linked.fullResolutions, `${app}: fullResolutions after the patch`).to.equal(0);
          }
        });

        it('every symbol keeps its address (llvm-nm before and after: the same names at the same addresses)', async function () {
          const r = await patchLinks();
          for (const app of PROGRAMS) {
            expect(nmLines(r[app].after.nm), `${app}: llvm-nm after the patch vs before`).to.deep.equal(nmLines(r[app].before.nm));
          }
        });

        it("the programs run with the edit's statuses, the same as a cold full link of the same inputs", async function () {
          const r = await patchLinks();
          for (const app of PROGRAMS) {
            expect(await status(r[app].after.file), `${app}: patched image's exit status`).to.equal(expected('table.edit-inslack', app));
            expect(await coldStatus(k('inslack'), app, 'A'), `${app}: cold full link's exit status`).to.equal(expected('table.edit-inslack', app));
          }
        });

        /** tbl_get's slot (its address to the next symbol, or the section's end) and the build id, as file ranges in both images. */
        function allowedForTblGet(before: Side, after: Side): { start: number; end: number }[] {
          const boundaries = [...before.nm, ...after.nm].map((s) => s.addr);
          const ranges: { start: number; end: number }[] = [];
          for (const side of [before, after]) {
            const shdrs = sections(side.linked.image);
            ranges.push(fileRange(shdrs, slotOf(shdrs, symbol(side.nm, 'tbl_get').addr, boundaries)));
            ranges.push(buildIdRange(side.linked.image));
          }
          return ranges;
        }

        if (flavor.debug) {
          it("only bytes inside tbl_get's slot, the build id and the .debug_* sections differ from before", async function () {
            // With -g the strict claim cannot hold for any correct linker: the
            // edit changes table.o's own .debug_info, .debug_str and
            // .debug_line (the DWARF 5 MD5 of table.c, the order of the
            // callees' names), and the image must carry the new debug info.
            // The strict claim, "only tbl_get's slot and the build id", is
            // checked in the flavour without -g.
            const r = await patchLinks();
            for (const app of PROGRAMS) {
              const { before, after } = r[app];
              const allowed = allowedForTblGet(before, after);
              allowed.push(...sectionFileRanges(before.linked.image, (s) => s.name.startsWith('.debug_')));
              allowed.push(...sectionFileRanges(after.linked.image, (s) => s.name.startsWith('.debug_')));
              const stray = uncoveredDiffs(before.linked.image, after.linked.image, allowed);
              expect(stray, `${app}: bytes that differ outside tbl_get's slot, the build id and debug info`).to.deep.equal([]);
              expect(diffRuns(before.linked.image, after.linked.image).length, `${app}: the edit changes the image`).to.be.greaterThan(0);
            }
          });

          it('llvm-addr2line maps tbl_get and an unchanged function (arith_add) to the same file and line as a cold ld.lld link', async function () {
            const r = await patchLinks();
            for (const app of PROGRAMS) {
              const lld = await lldLink(out('lld', `A-${app}`), inputs(k('inslack'), app));
              const lldNm = await nm(lld);
              for (const [fn, file] of [
                ['tbl_get', /(^|\/)table\.c:\d+$/],
                ['arith_add', /(^|\/)arith\.c:\d+$/],
              ] as const) {
                const ours = await addr2line(r[app].after.file, symbol(r[app].after.nm, fn).addr);
                const ref = await addr2line(lld, symbol(lldNm, fn).addr);
                expect(ref, `${app}: ld.lld's line for ${fn}`).to.match(file);
                expect(ours, `${app}: llvm-addr2line of ${fn} in the patched image`).to.equal(ref);
              }
            }
          });
        } else {
          it("every differing byte lies inside tbl_get's slot or the build id's descriptor", async function () {
            const r = await patchLinks();
            for (const app of PROGRAMS) {
              const { before, after } = r[app];
              const stray = uncoveredDiffs(before.linked.image, after.linked.image, allowedForTblGet(before, after));
              expect(stray, `${app}: bytes that differ outside tbl_get's slot and the build id`).to.deep.equal([]);
              expect(diffRuns(before.linked.image, after.linked.image).length, `${app}: the edit changes the image`).to.be.greaterThan(0);
            }
          });
        }
      });

      // ---------------------------------------------------------------------
      describe(`B — grow past slack (table.edit-grow), ${flavor.label}`, function () {
        const links = once(async () => {
          const res = {} as Record<FixtureProgram, { before: Linked; beforeNm: NmSymbol[]; after: Linked; afterNm: NmSymbol[]; afterFile: string }>;
          for (const app of PROGRAMS) {
            const output = new PersistedOutput(arch, fo('B', app));
            const before = output.link(inputs(k('base'), app));
            const beforeNm = await nm(keep(before, 'before'));
            const after = output.link(inputs(k('grow'), app));
            const afterFile = keep(after, 'after');
            res[app] = { before, beforeNm, after, afterNm: await nm(afterFile), afterFile };
          }
          return res;
        });

        it('relinking the edit is patched, and no full resolution runs', async function () {
          const r = await links();
          for (const app of PROGRAMS) {
            expectOutcome(r[app].after, 'patched', `${app}: relink after table.edit-grow`);
            expect(r[app].after.fullResolutions, `${app}: fullResolutions after the patch`).to.equal(0);
          }
        });

        it('tbl_sum has a new address; every other symbol keeps its own', async function () {
          const r = await links();
          for (const app of PROGRAMS) {
            const oldAddr = symbol(r[app].beforeNm, 'tbl_sum').addr;
            const newAddr = symbol(r[app].afterNm, 'tbl_sum').addr;
            expect(hex(newAddr), `${app}: tbl_sum's address after growing past its slack`).to.not.equal(hex(oldAddr));
            const others = (syms: NmSymbol[]) => nmLines(syms.filter((s) => s.name !== 'tbl_sum'));
            expect(others(r[app].afterNm), `${app}: llvm-nm of every other symbol, after vs before`).to.deep.equal(others(r[app].beforeNm));
          }
        });

        it("at tbl_sum's old address is a jump island to its new address", async function () {
          const r = await links();
          for (const app of PROGRAMS) {
            const oldAddr = symbol(r[app].beforeNm, 'tbl_sum').addr;
            const newAddr = symbol(r[app].afterNm, 'tbl_sum').addr;
            const img = r[app].after.image;
            const island = decodeIsland(arch, img, fileOffset(sections(img), oldAddr), oldAddr);
            const want = arch === 'x86_64' ? 'jmp rel32 (0xe9)' : 'b imm26, or adrp x16; add x16; br x16';
            expect(island, `${app}: a ${want} at tbl_sum's old address ${hex(oldAddr)}`).to.not.equal(null);
            expect(hex(island!.target), `${app}: the target of the island (${island!.text}) at ${hex(oldAddr)}`).to.equal(hex(newAddr));
          }
        });

        it("the bytes of every caller are identical to before (every function but tbl_sum); the rest of tbl_sum's old slot is untouched or trap-filled", async function () {
          const r = await links();
          for (const app of PROGRAMS) {
            const { before, after, beforeNm, afterNm } = r[app];
            const bSh = sections(before.image);
            const aSh = sections(after.image);
            const boundaries = [...beforeNm, ...afterNm].map((s) => s.addr);
            const text = bSh.find((s) => s.name === '.text')!;
            const inText = (s: NmSymbol) => s.addr >= text.addr && s.addr < text.addr + text.size;
            const fns = beforeNm.filter((s) => inText(s) && s.name !== 'tbl_sum');
            expect(fns.map((s) => s.name), `${app}: the callers include app_main`).to.include('app_main');
            for (const fn of fns) {
              const slot = slotOf(bSh, fn.addr, boundaries);
              const b = fileRange(bSh, slot);
              const a = fileRange(aSh, slot);
              const same = sameBytes(before.image.subarray(b.start, b.end), after.image.subarray(a.start, a.end));
              expect(same, `${app}: the bytes of ${fn.name} [${hex(slot.start)}, ${hex(slot.end)}) are unchanged`).to.equal(true);
            }
            const oldAddr = symbol(beforeNm, 'tbl_sum').addr;
            const slot = slotOf(bSh, oldAddr, boundaries);
            const island = decodeIsland(arch, after.image, fileOffset(aSh, oldAddr), oldAddr);
            const rest = { start: oldAddr + (island?.size ?? 0), end: slot.end };
            if (rest.end > rest.start) {
              const b = fileRange(bSh, rest);
              const a = fileRange(aSh, rest);
              const untouched = sameBytes(before.image.subarray(b.start, b.end), after.image.subarray(a.start, a.end));
              const trapped = isTrapFill(arch, after.image, a.start, a.end);
              expect(untouched || trapped, `${app}: tbl_sum's old slot beyond the island [${hex(rest.start)}, ${hex(rest.end)}) is untouched or trap-filled`).to.equal(
                true,
              );
            }
          }
        });

        it('both programs run with the new statuses, the same as a cold full link of the same inputs', async function () {
          const r = await links();
          for (const app of PROGRAMS) {
            expect(await status(r[app].afterFile), `${app}: patched image's exit status`).to.equal(expected('table.edit-grow', app));
            expect(await coldStatus(k('grow'), app, 'B'), `${app}: cold full link's exit status`).to.equal(expected('table.edit-grow', app));
          }
        });
      });

      // ---------------------------------------------------------------------
      describe(`D — two outputs (table.c, used by both programs), ${flavor.label}`, function () {
        it('app_a and app_b, each with its own session and state: both patched or both fall back, and both run with the new statuses', async function () {
          const after = {} as Record<FixtureProgram, Linked>;
          for (const app of PROGRAMS) {
            const output = new PersistedOutput(arch, fo('D', app));
            output.link(inputs(k('base'), app));
            after[app] = output.link(inputs(k('inslack'), app));
          }
          expect(['patched', 'fell-back-full'], `app_a: ${describeOutcome(after.app_a)}`).to.include(after.app_a.report.outcome);
          expect(after.app_b.report.outcome, `the two outputs agree (app_a: ${describeOutcome(after.app_a)}; app_b: ${describeOutcome(after.app_b)})`).to.equal(
            after.app_a.report.outcome,
          );
          for (const app of PROGRAMS) {
            expect(await status(after[app].file), `${app}: exit status`).to.equal(expected('table.edit-inslack', app));
            expect(await coldStatus(k('inslack'), app, 'D'), `${app}: cold full link's exit status`).to.equal(expected('table.edit-inslack', app));
          }
        });
      });

      // ---------------------------------------------------------------------
      describe(`chains: the state a link writes is a valid base for the next patch, ${flavor.label}`, function () {
        it('A, then B, then back to base: each a patch on the previous state, each program right', async function () {
          const steps: { key: FlavorBuild; edit: FixtureEdit }[] = [
            { key: 'inslack', edit: 'table.edit-inslack' },
            { key: 'grow', edit: 'table.edit-grow' },
            { key: 'base', edit: 'base' },
          ];
          for (const app of PROGRAMS) {
            const output = new PersistedOutput(arch, fo('chain', app));
            expectOutcome(output.link(inputs(k('base'), app)), 'full', `${app}: first link`);
            for (const [i, step] of steps.entries()) {
              const l = output.link(inputs(k(step.key), app));
              const what = `${app}: step ${i + 1} (${step.edit})`;
              expectOutcome(l, 'patched', what);
              expect(l.fullResolutions, `${what}: fullResolutions`).to.equal(0);
              expect(await status(l.file), `${what}: exit status`).to.equal(expected(step.edit, app));
              expect(await coldStatus(k(step.key), app, `chain-${i}`), `${what}: cold full link's exit status`).to.equal(expected(step.edit, app));
            }
          }
        });

        it('across a fall-back (c2, then A on top): the state the fall-back wrote is a valid base for a patch', async function () {
          const want = await lldStatus.get(flavor.key)!();
          for (const app of PROGRAMS) {
            const output = new PersistedOutput(arch, fo('chain-fallback', app));
            output.link(inputs(k('base'), app));
            const fb = output.link(inputs(k('strong'), app));
            expectOutcome(fb, 'fell-back-full', `${app}: weakdef.edit-strong`);
            expect(fb.report.reason ?? '', `${app}: the fall-back reason`).to.match(/feature_level/);
            expect(await status(fb.file), `${app}: exit status after the fall-back`).to.equal(expected('weakdef.edit-strong', app));
            const fbNm = await nm(keep(fb, 'fallback'));
            const p = output.link(inputs(k('strongInslack'), app));
            expectOutcome(p, 'patched', `${app}: table.edit-inslack on top of the fall-back`);
            expect(p.fullResolutions, `${app}: fullResolutions of the patch`).to.equal(0);
            expect(nmLines(await nm(keep(p, 'patched'))), `${app}: llvm-nm after the patch vs after the fall-back`).to.deep.equal(nmLines(fbNm));
            expect(await status(p.file), `${app}: exit status (ld.lld's link of the same objects exits ${want[app]})`).to.equal(want[app]);
            expect(await coldStatus(k('strongInslack'), app, 'chain-fallback'), `${app}: cold full link's exit status`).to.equal(want[app]);
          }
        });
      });

      // ---------------------------------------------------------------------
      describe(`a live session (replaceInput on the same session), ${flavor.label}`, function () {
        it('patch (A), no-op, fall-back (c2), then a patch on top of the fall-back', async function () {
          const want = await lldStatus.get(flavor.key)!();
          for (const app of PROGRAMS) {
            const live = new LiveOutput(arch, fo('live', app), inputs(k('base'), app));
            const LIB = 1; // inputs: app_X.o, libcore.a
            const l0 = live.link();
            expectOutcome(l0, 'full', `${app}: first link`);
            expect(l0.fullResolutions, `${app}: fullResolutions after the first link`).to.equal(1);
            expect(await status(l0.file), `${app}: base exit status`).to.equal(expected('base', app));
            const nm0 = await nm(keep(l0, '0'));

            live.replace(LIB, B[k('inslack')].libcore);
            const l1 = live.link();
            expectOutcome(l1, 'patched', `${app}: replaceInput(libcore.a with table.edit-inslack)`);
            expect(l1.fullResolutions, `${app}: fullResolutions after the patch`).to.equal(1);
            expect(nmLines(await nm(keep(l1, '1'))), `${app}: llvm-nm after the patch vs before`).to.deep.equal(nmLines(nm0));
            expect(await status(l1.file), `${app}: exit status after the patch`).to.equal(expected('table.edit-inslack', app));

            const l2 = live.link();
            expectOutcome(l2, 'patched', `${app}: link() again with nothing changed`);
            expect(totalLength(l2.report.writes), `${app}: bytes written by the no-op`).to.equal(0);
            expect(sameBytes(l2.image, l1.image), `${app}: the no-op leaves the image as it was`).to.equal(true);
            expect(l2.fullResolutions, `${app}: fullResolutions after the no-op`).to.equal(1);

            live.replace(LIB, B[k('strong')].libcore);
            const l3 = live.link();
            expectOutcome(l3, 'fell-back-full', `${app}: replaceInput(libcore.a with weakdef.edit-strong)`);
            expect(l3.report.reason ?? '', `${app}: the fall-back reason`).to.match(/feature_level/);
            expect(l3.fullResolutions, `${app}: fullResolutions after the fall-back`).to.equal(2);
            const cold = coldLink(arch, inputs(k('strong'), app), out('cold', `live-${flavor.key}-${app}`));
            expect(sameBytes(l3.image, cold.image), `${app}: the fall-back's image is byte-identical to a cold full link`).to.equal(true);
            expect(await status(l3.file), `${app}: exit status after the fall-back`).to.equal(expected('weakdef.edit-strong', app));

            live.replace(LIB, B[k('strongInslack')].libcore);
            const l4 = live.link();
            expectOutcome(l4, 'patched', `${app}: table.edit-inslack on top of the fall-back`);
            expect(l4.fullResolutions, `${app}: fullResolutions after the patch`).to.equal(2);
            expect(await status(l4.file), `${app}: exit status`).to.equal(want[app]);
          }
        });
      });

      // ---------------------------------------------------------------------
      describe(`the command line: tslink --incremental --explain, ${flavor.label}`, function () {
        /** Copies a build's app_X.o and libcore.a into `dir`, as if rebuilt in place. */
        function stage(dir: string, key: BuildKey, app: FixtureProgram): void {
          fs.mkdirSync(dir, { recursive: true });
          fs.copyFileSync(B[key].apps[app], path.join(dir, `${app}.o`));
          fs.copyFileSync(B[key].libcore, path.join(dir, 'libcore.a'));
        }
        async function cli(dir: string, app: FixtureProgram, extra: string[] = []): Promise<string> {
          const args = ['--incremental', ...extra, '--explain', '-static', '-e', '_start', '-o', app, `${app}.o`, 'libcore.a'];
          const r = await tslinkCli(args, dir);
          expect(r.status, `tslink ${args.join(' ')} (in ${dir}) failed: ${r.stderr.trim()}`).to.equal(0);
          return r.stdout;
        }

        it('full, then patched (table.edit-inslack), then fell-back-full (weakdef.edit-strong); state beside the output', async function () {
          const dir = fo('cli', 'default');
          const app: FixtureProgram = 'app_a';
          const exe = path.join(dir, app);
          stage(dir, k('base'), app);
          const s0 = await cli(dir, app);
          expect(s0, '--explain on the first link').to.match(/^tslink: full\b/m);
          expect(fs.existsSync(`${exe}.tslink-state`), 'the state is written to OUT.tslink-state').to.equal(true);
          expect(await status(exe), 'base exit status').to.equal(expected('base', app));
          const before = readBytes(exe);
          const nm0 = await nm(exe);

          stage(dir, k('inslack'), app);
          const s1 = await cli(dir, app);
          const m = /^tslink: patched: (\d+) bytes written in (\d+) ranges?\b/m.exec(s1);
          expect(m, `--explain after table.edit-inslack:\n${s1}`).to.not.equal(null);
          const written = Number(m![1]);
          const after = readBytes(exe);
          const differing = diffRuns(before, after).reduce((n, r) => n + (r.end - r.start), 0);
          expect(differing, 'bytes that differ from before').to.be.greaterThan(0);
          expect(differing, `bytes that differ from before vs the ${written} bytes --explain says were written`).to.be.at.most(written);
          expect(nmLines(await nm(exe)), 'llvm-nm after the patch vs before').to.deep.equal(nmLines(nm0));
          expect(await status(exe), 'exit status after the patch').to.equal(expected('table.edit-inslack', app));

          stage(dir, k('strong'), app);
          const s2 = await cli(dir, app);
          const f = /^tslink: fell-back-full: (.+)$/m.exec(s2);
          expect(f, `--explain after weakdef.edit-strong:\n${s2}`).to.not.equal(null);
          expect(f![1], 'the fall-back reason').to.match(/feature_level/);
          expect(await status(exe), 'exit status after the fall-back').to.equal(expected('weakdef.edit-strong', app));
        });

        it('--incremental-state=FILE keeps the state in FILE and patches from it', async function () {
          const dir = fo('cli', 'state-file');
          const app: FixtureProgram = 'app_b';
          const exe = path.join(dir, app);
          const stateFile = path.join(dir, 'elsewhere', 'b.state');
          fs.mkdirSync(path.dirname(stateFile), { recursive: true });
          stage(dir, k('base'), app);
          expect(await cli(dir, app, [`--incremental-state=${stateFile}`]), '--explain on the first link').to.match(/^tslink: full\b/m);
          expect(fs.existsSync(stateFile), 'the state is written to FILE').to.equal(true);
          expect(fs.existsSync(`${exe}.tslink-state`), 'and not beside the output').to.equal(false);
          stage(dir, k('inslack'), app);
          expect(await cli(dir, app, [`--incremental-state=${stateFile}`]), '--explain after table.edit-inslack').to.match(
            /^tslink: patched: \d+ bytes written in \d+ ranges?\b/m,
          );
          expect(await status(exe), 'exit status after the patch').to.equal(expected('table.edit-inslack', app));
        });
      });
    }

    // -----------------------------------------------------------------------
    describe('C — the gate: non-local edits fall back to a full link (with -g)', function () {
      for (const c of GATE) {
        const links = once(async () => {
          const res = {} as Record<FixtureProgram, { after: Linked; cold: Linked }>;
          for (const app of PROGRAMS) {
            const output = new PersistedOutput(arch, out(`C-${c.id}`, app));
            output.link(inputs('g-base', app));
            const after = output.link(inputs(c.build, app));
            keep(after, 'after');
            const cold = coldLink(arch, inputs(c.build, app), out('cold', `C-${c.id}-${app}`));
            res[app] = { after, cold };
          }
          return res;
        });

        it(`${c.id} (${c.edit}): outcome 'fell-back-full' with a reason naming ${c.what}, and a full resolution ran`, async function () {
          const r = await links();
          for (const app of PROGRAMS) {
            expectOutcome(r[app].after, 'fell-back-full', `${app}: relink after ${c.edit}`);
            expect(r[app].after.report.reason ?? '', `${app}: the fall-back reason`).to.match(c.cause);
            expect(r[app].after.fullResolutions, `${app}: fullResolutions after the fall-back`).to.equal(1);
          }
        });

        it(`${c.id} (${c.edit}): the output is byte-identical to a cold full link, and the programs run with the expected statuses`, async function () {
          const r = await links();
          for (const app of PROGRAMS) {
            const { after, cold } = r[app];
            const runs = diffRuns(cold.image, after.image);
            expect(
              runs.length,
              `${app}: runs of bytes that differ from a cold full link (sizes ${after.image.length} vs ${cold.image.length}; first at ${runs[0] ? hex(runs[0].start) : '-'})`,
            ).to.equal(0);
            expect(await status(after.file), `${app}: exit status after the fall-back`).to.equal(expected(c.edit, app));
            expect(await status(cold.file), `${app}: cold full link's exit status`).to.equal(expected(c.edit, app));
          }
        });
      }
    });

    // -----------------------------------------------------------------------
    describe('E — determinism (without -g)', function () {
      // Built without -g: with -g, table.edit-onebyte also changes a location
      // expression byte in .debug_info and the DWARF 5 MD5 of table.c in
      // .debug_line, so three atoms' ids change, as they must.
      type Ids = Map<string, string>;
      /** Content id of every atom, keyed by name (and occurrence, should a name repeat). */
      function atomIds(file: string): Ids {
        const obj = readElfObject(file, readBytes(file));
        const ids: Ids = new Map();
        const seen = new Map<string, number>();
        for (const atom of obj.atoms) {
          const n = seen.get(atom.name) ?? 0;
          seen.set(atom.name, n + 1);
          ids.set(n ? `${atom.name}#${n}` : atom.name, Buffer.from(atomContentId(obj, atom)).toString('hex'));
        }
        return ids;
      }

      it('building table.c twice gives identical object bytes and identical content ids', async function () {
        const [one, two] = [B['nog-base'], B['nog-base2']];
        expect(one.objects.table, 'two builds into two directories').to.not.equal(two.objects.table);
        for (const unit of FIXTURE_UNITS) {
          expect(sameBytes(readBytes(one.objects[unit]), readBytes(two.objects[unit])), `${unit}.o: identical bytes`).to.equal(true);
        }
        expect(sameBytes(readBytes(one.libcore), readBytes(two.libcore)), 'libcore.a: identical bytes').to.equal(true);
        expect([...atomIds(two.objects.table)], 'table.o: atom content ids').to.deep.equal([...atomIds(one.objects.table)]);
        const objId = (f: string) => Buffer.from(objectContentId(readElfObject(f, readBytes(f)))).toString('hex');
        expect(objId(two.objects.table), 'table.o: object content id').to.equal(objId(one.objects.table));
      });

      it('linking twice (two cold sessions, same inputs) gives identical images (also with -g)', async function () {
        for (const key of ['g-base', 'nog-base']) {
          for (const app of PROGRAMS) {
            const one = coldLink(arch, inputs(key, app), out('E', `${key}-${app}-1`));
            const two = coldLink(arch, inputs(key, app), out('E', `${key}-${app}-2`));
            expect(sameBytes(one.image, two.image), `${key} ${app}: two cold links give the same bytes`).to.equal(true);
          }
        }
      });

      it("a one-byte change to tbl_sum (table.edit-onebyte) changes the .text.tbl_sum atom's id and no other atom's", async function () {
        const before = atomIds(B['nog-base'].objects.table);
        const after = atomIds(B['nog-onebyte'].objects.table);
        expect([...after.keys()], 'the same atoms, by name').to.deep.equal([...before.keys()]);
        const changed = [...before.keys()].filter((key) => before.get(key) !== after.get(key));
        expect(changed, 'atoms whose content id changed').to.deep.equal(['.text.tbl_sum']);
      });
    });

    // -----------------------------------------------------------------------
    describe('F — nothing changed (with -g)', function () {
      const links = once(async () => {
        const res = {} as Record<FixtureProgram, { full: Linked; noop: Linked }>;
        for (const app of PROGRAMS) {
          const output = new PersistedOutput(arch, out('F', app));
          const full = output.link(inputs('g-base', app));
          keep(full, 'full');
          const noop = output.link(inputs('g-base', app));
          res[app] = { full, noop };
        }
        return res;
      });

      it('a relink with byte-identical inputs is patched, writes zero bytes, and leaves the image byte-identical', async function () {
        const r = await links();
        for (const app of PROGRAMS) {
          const { full, noop } = r[app];
          expectOutcome(noop, 'patched', `${app}: relink with unchanged inputs`);
          expect(noop.fullResolutions, `${app}: fullResolutions of the no-op relink`).to.equal(0);
          expect(totalLength(noop.report.writes), `${app}: bytes in r.writes`).to.equal(0);
          expect(totalLength(noop.emitted), `${app}: bytes emit() wrote`).to.equal(0);
          expect(sameBytes(noop.image, full.image), `${app}: the image is byte-identical`).to.equal(true);
          expect(await status(noop.file), `${app}: exit status`).to.equal(expected('base', app));
        }
      });

      it('the no-op relink is measurably cheaper than the full link: no atoms placed, no relocations applied', async function () {
        const r = await links();
        for (const app of PROGRAMS) {
          const { full, noop } = r[app];
          expect(full.report.work, `${app}: the full link's r.work`).to.be.an('object');
          expect(noop.report.work, `${app}: the no-op relink's r.work`).to.be.an('object');
          expect(noop.report.work.atomsPlaced, `${app}: atoms placed by the no-op relink`).to.equal(0);
          expect(noop.report.work.relocsApplied, `${app}: relocations applied by the no-op relink`).to.equal(0);
          expect(noop.report.work.atomsPlaced, `${app}: atoms placed, no-op vs full`).to.be.lessThan(full.report.work.atomsPlaced);
          expect(noop.report.work.relocsApplied, `${app}: relocations applied, no-op vs full`).to.be.lessThan(full.report.work.relocsApplied);
        }
      });
    });

  });
}
