/**
 * End-to-end linker tests on the corpus in test/programs.
 *
 * Each program is compiled for x86-64 and AArch64, without and with -fpie,
 * then linked by ld.lld (the reference) and by tslink with the same options
 * (`-static -e _start`). Both executables are run (AArch64 under
 * qemu-aarch64) and must exit with the status the program declares in its
 * `// expect:` line. tslink's outputs must also pass the structural checks of
 * test/support/elfcheck.ts. A few cases have their own command lines: an
 * archive placed before the objects, a program built with -g whose line table
 * llvm-addr2line must read the same way in both outputs, and a census of the
 * relocation types the corpus objects contain.
 *
 * Set TSLINK_KEEP_TMP=1 to keep the build directory (its path is printed).
 */
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { VARIANTS, corpusDir, discoverPrograms, variantsOf, type Program, type Variant } from '../support/corpus.js';
import { checkStructure } from '../support/elfcheck.js';
import {
  ARCHES,
  type Arch,
  Pool,
  archive,
  compile,
  defaultConcurrency,
  describeExit,
  linkLld,
  linkTslink,
  LINK_FLAGS,
  repoRoot,
  requireTools,
  run,
  tmpDir,
  tool,
} from '../support/toolchain.js';

const ROOT = repoRoot();
const PROGRAMS = discoverPrograms(corpusDir(ROOT));

/** Relocation types that must occur in the corpus objects (checked per arch). */
const REQUIRED_RELOCS: Record<Arch, string[]> = {
  x86_64: [
    'R_X86_64_64',
    'R_X86_64_PC64',
    'R_X86_64_32',
    'R_X86_64_32S',
    'R_X86_64_PC32',
    'R_X86_64_PLT32',
    'R_X86_64_GOTPCREL',
    'R_X86_64_GOTPCRELX',
    'R_X86_64_REX_GOTPCRELX',
    'R_X86_64_SIZE32',
    'R_X86_64_SIZE64',
    'R_X86_64_TPOFF32',
    'R_X86_64_GOTTPOFF',
  ],
  aarch64: [
    'R_AARCH64_ABS64',
    'R_AARCH64_ABS32',
    'R_AARCH64_PREL32',
    'R_AARCH64_PREL64',
    'R_AARCH64_CALL26',
    'R_AARCH64_JUMP26',
    'R_AARCH64_CONDBR19',
    'R_AARCH64_TSTBR14',
    'R_AARCH64_ADR_PREL_PG_HI21',
    'R_AARCH64_ADR_PREL_LO21',
    'R_AARCH64_ADD_ABS_LO12_NC',
    'R_AARCH64_LDST8_ABS_LO12_NC',
    'R_AARCH64_LDST16_ABS_LO12_NC',
    'R_AARCH64_LDST32_ABS_LO12_NC',
    'R_AARCH64_LDST64_ABS_LO12_NC',
    'R_AARCH64_LDST128_ABS_LO12_NC',
    'R_AARCH64_ADR_GOT_PAGE',
    'R_AARCH64_LD64_GOT_LO12_NC',
    'R_AARCH64_MOVW_UABS_G0',
    'R_AARCH64_MOVW_UABS_G0_NC',
    'R_AARCH64_MOVW_UABS_G1',
    'R_AARCH64_MOVW_UABS_G1_NC',
    'R_AARCH64_MOVW_UABS_G2',
    'R_AARCH64_MOVW_UABS_G2_NC',
    'R_AARCH64_MOVW_UABS_G3',
    'R_AARCH64_TLSLE_ADD_TPREL_HI12',
    'R_AARCH64_TLSLE_ADD_TPREL_LO12_NC',
    'R_AARCH64_TLSIE_ADR_GOTTPREL_PAGE21',
    'R_AARCH64_TLSIE_LD64_GOTTPREL_LO12_NC',
  ],
};

/** The -g build for the debug-info case: program, and functions to look up. */
const DEBUG_PROGRAM = 'cross_unit';
const DEBUG_FUNCTIONS = ['add3', 'scale_sum', 'bump_counter', 'twice', 'test_main'];

/** The literal the `strings` program uses in three units. */
const MERGED_MARKER = 'tslink-merged-string-literal';

type Linker = 'ld.lld' | 'tslink' | 'tslink --incremental';

interface Build {
  dir: string;
  objs: string[];
  /** The program's archive, if it has lib_* units. */
  lib?: string;
}

/** Program-specific checks on a linked executable (both linkers). */
const EXTRA_CHECKS: Record<string, (prog: string) => Promise<void>> = {
  async archive(prog) {
    const names = await definedSymbols(prog);
    expect(names, 'transitively needed members are linked').to.include.members(['direct_fn', 'trans_fn', 'trans_data']);
    expect(names, 'the never-referenced member must not be extracted').to.not.include('unused_member_fn');
    expect(names, 'a weak undefined reference must not extract a member').to.not.include('weak_only_fn');
  },
  async strings(prog) {
    const count = await countInAllocSections(prog, MERGED_MARKER);
    expect(count, `"${MERGED_MARKER}" must be merged into a single copy in the output`).to.equal(1);
  },
};

async function definedSymbols(prog: string): Promise<string[]> {
  const out = await tool('llvm-nm', ['--defined-only', prog]);
  return out
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[2])
    .filter((n): n is string => !!n);
}

/** Occurrences of `needle` among the strings of all allocated PROGBITS sections (llvm-readelf -p). */
async function countInAllocSections(prog: string, needle: string): Promise<number> {
  const secs = await tool('llvm-readelf', ['-S', '--wide', prog]);
  const names: string[] = [];
  for (const line of secs.split('\n')) {
    const m = /^\s*\[\s*\d+\]\s(.*?)\s+PROGBITS\s+[0-9a-f]{16}\s+[0-9a-f]+\s+[0-9a-f]+\s+[0-9a-f]+\s+(\S*)\s/.exec(line);
    if (m && m[2].includes('A') && !m[2].includes('X')) names.push(m[1].trim());
  }
  expect(names, 'allocated data sections').to.include('.rodata');
  const dump = await tool('llvm-readelf', names.flatMap((n) => ['-p', n]).concat([prog]));
  return dump.split(needle).length - 1;
}

function assertExit(r: Awaited<ReturnType<typeof run>>, p: Program, what: string) {
  const detail = `${what}: ${describeExit(r)}${r.stderr ? `\nstderr: ${r.stderr.trim()}` : ''}`;
  expect(r.status, detail).to.equal(p.expect);
  if (p.stdout !== undefined) expect(r.stdout, `${what}: stdout`).to.equal(`${p.stdout}\n`);
}

function keyOf(p: Program, v: Variant): string {
  return `${p.name}/${v.name}`;
}

for (const arch of ARCHES) {
  describe(`linked programs (${arch})`, function () {
    const pool = new Pool(defaultConcurrency());
    const builds = new Map<string, Promise<Build>>();
    const links = new Map<string, Promise<string>>();
    let work = '';

    /** Link once per (key, linker), memoised, through the pool. */
    function linked(key: string, linker: Linker, inputs: () => Promise<string[]>, out: string): Promise<string> {
      const id = `${key}:${linker}`;
      let pr = links.get(id);
      if (!pr) {
        pr = pool.run(async () => {
          const ins = await inputs();
          if (linker === 'ld.lld') await linkLld(out, ins);
          else if (linker === 'tslink --incremental') await linkTslink(out, ins, [...LINK_FLAGS, '--incremental']);
          else await linkTslink(out, ins);
          return out;
        });
        pr.catch(() => {}); // reported by the test that awaits it
        links.set(id, pr);
      }
      return pr;
    }

    function buildOf(p: Program, v: Variant): Promise<Build> {
      const b = builds.get(keyOf(p, v));
      if (!b) throw new Error(`no build for ${keyOf(p, v)}`);
      return b;
    }

    function inputsOf(b: Build): string[] {
      return b.lib ? [...b.objs, b.lib] : [...b.objs];
    }

    function linkedProgram(p: Program, v: Variant, linker: Linker): Promise<string> {
      return linked(
        keyOf(p, v),
        linker,
        async () => inputsOf(await buildOf(p, v)),
        path.join(work, p.name, v.name, linker === 'ld.lld' ? 'prog.lld' : linker === 'tslink' ? 'prog.tslink' : 'prog.tslink-inc'),
      );
    }

    before(async function () {
      this.timeout(300_000);
      await requireTools([
        'clang',
        'clang++',
        'ld.lld',
        'llvm-ar',
        'llvm-nm',
        'llvm-readelf',
        'llvm-addr2line',
        ...(arch === 'aarch64' ? ['qemu-aarch64'] : []),
      ]);
      work = tmpDir(`tslink-programs-${arch}`);
      if (process.env.TSLINK_KEEP_TMP) console.log(`    build directory: ${work}`);
      for (const p of PROGRAMS) {
        if (!p.arches.includes(arch)) continue;
        for (const v of variantsOf(p)) {
          const dir = path.join(work, p.name, v.name);
          const b = (async (): Promise<Build> => {
            const objs: string[] = [];
            const members: string[] = [];
            await Promise.all(
              p.units.map(async (u) => {
                const obj = path.join(dir, `${u.stem}.o`);
                await pool.run(() => compile(u.src, obj, arch, [...v.flags, ...u.cflags]));
              }),
            );
            for (const u of p.units) (u.inArchive ? members : objs).push(path.join(dir, `${u.stem}.o`));
            let lib: string | undefined;
            if (members.length) {
              lib = path.join(dir, `lib${p.name}.a`);
              await archive(lib, members);
            }
            return { dir, objs, lib };
          })();
          b.catch(() => {});
          builds.set(keyOf(p, v), b);
        }
      }
      await Promise.allSettled([...builds.values()]);
      // Start every link in the background; each test awaits its own.
      for (const p of PROGRAMS) {
        if (!p.arches.includes(arch)) continue;
        for (const v of variantsOf(p)) {
          void linkedProgram(p, v, 'ld.lld');
          void linkedProgram(p, v, 'tslink');
          void linkedProgram(p, v, 'tslink --incremental');
        }
      }
    });

    after(async function () {
      await Promise.allSettled([...links.values()]);
      if (work && !process.env.TSLINK_KEEP_TMP) fs.rmSync(work, { recursive: true, force: true });
    });

    for (const p of PROGRAMS) {
      if (!p.arches.includes(arch)) continue;
      for (const v of variantsOf(p)) {
        // The incremental layout (slack, headroom) must run every program the same as the packed one.
        for (const linker of ['ld.lld', 'tslink', 'tslink --incremental'] as const) {
          it(`${p.name} [${v.name}] ${linker}: exits ${p.expect}`, async function () {
            const prog = await linkedProgram(p, v, linker);
            assertExit(await run(prog, arch), p, `${linker} output ${prog}`);
            const extra = EXTRA_CHECKS[p.name];
            if (extra) await extra(prog);
          });
        }
        it(`${p.name} [${v.name}] tslink: output structure`, async function () {
          const prog = await linkedProgram(p, v, 'tslink');
          const problems = await checkStructure(prog);
          expect(problems, `structural problems in ${prog}`).to.deep.equal([]);
        });
      }
    }

    it('structural checks accept every ld.lld output (self-test of the checker)', async function () {
      this.timeout(300_000);
      const all: string[] = [];
      for (const p of PROGRAMS) {
        if (!p.arches.includes(arch)) continue;
        for (const v of variantsOf(p)) {
          const prog = await linkedProgram(p, v, 'ld.lld');
          all.push(...(await checkStructure(prog)).map((s) => `${p.name} [${v.name}]: ${s}`));
        }
      }
      expect(all).to.deep.equal([]);
    });

    describe('archive placed before the objects on the command line', function () {
      const p = PROGRAMS.find((q) => q.name === 'archive');
      const v = VARIANTS[0];
      for (const linker of ['ld.lld', 'tslink'] as const) {
        it(`archive [nopic] ${linker}: libarchive.a main.o still resolves`, async function () {
          if (!p) throw new Error('test/programs/archive is missing');
          const b = await buildOf(p, v);
          expect(b.lib, 'archive program has an archive').to.be.a('string');
          const prog = await linked(
            `archive-first/${v.name}`,
            linker,
            async () => [b.lib!, ...b.objs],
            path.join(work, 'archive-first', linker === 'ld.lld' ? 'prog.lld' : 'prog.tslink'),
          );
          assertExit(await run(prog, arch), p, `${linker} output ${prog}`);
          await EXTRA_CHECKS.archive(prog);
        });
      }
    });

    it(`debug info: llvm-addr2line reads the same file:line from tslink's -g build of ${DEBUG_PROGRAM}`, async function () {
      const p = PROGRAMS.find((q) => q.name === DEBUG_PROGRAM);
      if (!p) throw new Error(`test/programs/${DEBUG_PROGRAM} is missing`);
      const dir = path.join(work, 'debug', DEBUG_PROGRAM);
      const objs = await Promise.all(
        p.units
          .filter((u) => !u.inArchive)
          .map(async (u) => {
            const obj = path.join(dir, `${u.stem}.o`);
            await pool.run(() => compile(u.src, obj, arch, ['-fno-pic', '-g', ...u.cflags]));
            return obj;
          }),
      );
      // Where each function is defined, from the sources.
      const want = new Map<string, string>();
      for (const u of p.units) {
        const lines = fs.readFileSync(u.src, 'utf8').split('\n');
        lines.forEach((l, i) => {
          for (const fn of DEBUG_FUNCTIONS) {
            // A definition: `type name(params) {` at the start of a line.
            if (new RegExp(`^\\w[\\w\\s*]*\\b${fn}\\s*\\(.*\\)\\s*\\{`).test(l)) {
              want.set(fn, `${path.basename(u.src)}:${i + 1}`);
            }
          }
        });
      }
      expect([...want.keys()].sort(), 'function definitions found in the sources').to.deep.equal([...DEBUG_FUNCTIONS].sort());
      const answers: Record<string, Record<string, string>> = {};
      for (const linker of ['ld.lld', 'tslink'] as const) {
        const out = path.join(dir, linker === 'ld.lld' ? 'prog.lld' : 'prog.tslink');
        await linked(`debug/${DEBUG_PROGRAM}`, linker, async () => objs, out);
        assertExit(await run(out, arch), p, `${linker} -g output ${out}`);
        const nm = await tool('llvm-nm', ['--defined-only', out]);
        const addrs = new Map<string, string>();
        for (const line of nm.split('\n')) {
          const [addr, , name] = line.trim().split(/\s+/);
          if (name && DEBUG_FUNCTIONS.includes(name)) addrs.set(name, `0x${addr}`);
        }
        answers[linker] = {};
        for (const fn of DEBUG_FUNCTIONS) {
          const addr = addrs.get(fn);
          expect(addr, `${linker}: llvm-nm address of ${fn}`).to.be.a('string');
          const loc = (await tool('llvm-addr2line', ['-e', out, addr!])).trim();
          const m = /([^/\s]+):(\d+)(?::\d+)?$/.exec(loc);
          answers[linker][fn] = m ? `${m[1]}:${m[2]}` : loc;
        }
      }
      expect(answers['ld.lld'], 'ld.lld output: addr2line gives the definition lines').to.deep.equal(Object.fromEntries(want));
      expect(answers.tslink, 'tslink output: addr2line agrees with ld.lld').to.deep.equal(answers['ld.lld']);
    });

    it('the corpus objects contain every required relocation type', async function () {
      this.timeout(120_000);
      const found = new Set<string>();
      const objects: string[] = [];
      for (const p of PROGRAMS) {
        if (!p.arches.includes(arch)) continue;
        for (const v of variantsOf(p)) {
          const b = await buildOf(p, v);
          for (const u of p.units) objects.push(path.join(b.dir, `${u.stem}.o`));
        }
      }
      const out = await tool('llvm-readelf', ['-r', '--wide', ...objects]);
      for (const m of out.matchAll(/\b(R_(?:X86_64|AARCH64)_[A-Z0-9_]+)\b/g)) found.add(m[1]);
      const missing = REQUIRED_RELOCS[arch].filter((r) => !found.has(r));
      expect(missing, `relocation types missing from the ${arch} corpus (found: ${[...found].sort().join(' ')})`).to.deep.equal([]);
    });
  });
}
