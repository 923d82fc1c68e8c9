import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

/**
 * Builds the synthetic fixture of ACCEPTANCE.md (`fixture/`, see its README):
 * five core units archived into `libcore.a` and two programs, `app_a` and
 * `app_b`, compiled with clang for one architecture. The demo command and the
 * acceptance tests use it; linking is left to the caller.
 *
 * An edit variant (`table.edit-inslack.c`) is substituted for its unit *by
 * name*: it is copied to `<outDir>/fixture-src/fixture/table.c` and compiled
 * from there, exactly as if `table.c` had been edited in place. So the object
 * is `table.o`, its symbol table and debug info name `fixture/table.c`, and a
 * one-byte edit changes only what it must. Debug line numbers are the
 * variant's own; the variants keep unchanged functions on the same lines as
 * the base. The staged copies stay in `fixture-src/` for anyone who wants to
 * read the lines that debug info points at.
 *
 * Objects are deterministic: clang runs in `fixture-src/` on the relative path
 * `fixture/<unit>.c`, and `-fdebug-prefix-map` maps that directory to nothing
 * (and the source directory to `fixture`), so no absolute path reaches the
 * object: the bytes do not depend on the checkout or the output path, and
 * `llvm-addr2line` prints `fixture/table.c:6`. (Mapping to a relative
 * `fixture` comp_dir instead makes llvm-addr2line print
 * `fixture/fixture/table.c` under DWARF 5.) `llvm-ar D` zeroes timestamps,
 * owners and modes in the archive.
 */

const execFileAsync = promisify(execFile);

export type FixtureArch = 'x86_64' | 'aarch64';
export type FixtureUnit = 'arith' | 'table' | 'state' | 'weakdef' | 'optional';
export type FixtureProgram = 'app_a' | 'app_b';

/** The core units, in archive member order. */
export const FIXTURE_UNITS: readonly FixtureUnit[] = ['arith', 'table', 'state', 'weakdef', 'optional'];
export const FIXTURE_PROGRAMS: readonly FixtureProgram[] = ['app_a', 'app_b'];

/** Which variant replaces which unit, e.g. `{ table: 'edit-inslack' }` for `fixture/table.edit-inslack.c`. */
export type FixtureVariants = Partial<Record<FixtureUnit, string>>;

export interface FixtureBuild {
  /** The output directory (absolute). */
  dir: string;
  arch: FixtureArch;
  /** Core unit name -> absolute path of its `.o`. */
  objects: Record<FixtureUnit, string>;
  /** Absolute path of `libcore.a` (all five core units). */
  libcore: string;
  /** Absolute paths of the programs' `.o` files. */
  apps: Record<FixtureProgram, string>;
}

export interface FixtureOptions {
  arch: FixtureArch;
  outDir: string;
  variants?: FixtureVariants;
  /** `-fpie` instead of `-fno-pic`. Default false. */
  pic?: boolean;
  /** `-g`. Default false. */
  debug?: boolean;
  /**
   * 'coff': COFF objects for a PE image (`--target=x86_64-windows-msvc`,
   * DWARF with -g, as MinGW builds have it). Default 'elf'.
   */
  format?: 'elf' | 'coff';
}

/** The named edits of ACCEPTANCE.md, as `variants` arguments. */
export const FIXTURE_EDITS = {
  base: {},
  'table.edit-inslack': { table: 'edit-inslack' },
  'table.edit-grow': { table: 'edit-grow' },
  'state.edit-extra': { state: 'edit-extra' },
  'weakdef.edit-strong': { weakdef: 'edit-strong' },
  'table.edit-optional': { table: 'edit-optional' },
  'state.edit-grow-config': { state: 'edit-grow-config' },
  'table.edit-onebyte': { table: 'edit-onebyte' },
} as const satisfies Record<string, FixtureVariants>;

export type FixtureEdit = keyof typeof FIXTURE_EDITS;

/**
 * Exit status of each program per edit, measured with `ld.lld -static -e
 * _start` on x86-64 and AArch64 (identical on both, -fno-pic and -fpie alike).
 * `state.edit-extra` keeps the base statuses on purpose: its new global is
 * referenced by nobody, so the edit cannot show at run time.
 */
export const EXPECTED_STATUS: Readonly<Record<FixtureEdit, Readonly<Record<FixtureProgram, number>>>> = {
  base: { app_a: 207, app_b: 210 },
  'table.edit-inslack': { app_a: 221, app_b: 42 },
  'table.edit-grow': { app_a: 250, app_b: 214 },
  'state.edit-extra': { app_a: 207, app_b: 210 },
  'weakdef.edit-strong': { app_a: 211, app_b: 230 },
  'table.edit-optional': { app_a: 237, app_b: 14 },
  'state.edit-grow-config': { app_a: 217, app_b: 220 },
  'table.edit-onebyte': { app_a: 238, app_b: 224 },
};

/** Headers every unit may include; staged beside the sources. */
const HEADERS = ['start.h', 'core.h'];

/**
 * Absolute path of `fixture/` in the package. The compiled module lives at
 * `dist/src/cli/fixture.js` and the source at `src/cli/fixture.ts`, so walk up
 * until a directory holds `fixture/start.h`.
 */
export function fixtureSourceDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  for (let dir = here; ; dir = dirname(dir)) {
    const candidate = join(dir, 'fixture');
    if (existsSync(join(candidate, 'start.h'))) return candidate;
    if (dirname(dir) === dir) break;
  }
  throw new Error(`fixture/ not found in any parent directory of ${here}`);
}

export async function buildFixture(opts: FixtureOptions): Promise<FixtureBuild> {
  const { arch, variants = {}, pic = false, debug = false, format = 'elf' } = opts;
  if (arch !== 'x86_64' && arch !== 'aarch64') throw new Error(`buildFixture: unsupported arch '${String(arch)}'`);
  if (format === 'coff' && arch !== 'x86_64') throw new Error('buildFixture: PE builds are x86-64 only');
  const srcDir = fixtureSourceDir();
  const sources = resolveSources(srcDir, variants);
  await checkTools();

  const dir = resolve(opts.outDir);
  const stageRoot = join(dir, 'fixture-src');
  const stage = join(stageRoot, 'fixture');
  if (resolve(stage) === resolve(srcDir)) throw new Error(`buildFixture: outDir ${dir} would overwrite the fixture sources`);
  await mkdir(stage, { recursive: true });
  await Promise.all([
    ...HEADERS.map((h) => copyFile(join(srcDir, h), join(stage, h))),
    ...[...FIXTURE_UNITS, ...FIXTURE_PROGRAMS].map((name) => copyFile(sources[name], join(stage, `${name}.c`))),
  ]);

  const flags = [
    format === 'coff' ? `--target=${arch}-windows-msvc` : `--target=${arch}-linux-gnu`,
    '-O1',
    '-ffreestanding',
    '-fno-builtin',
    '-nostdlib',
    '-ffunction-sections',
    '-fdata-sections',
    // COFF objects carry a timestamp unless told not to (it is for link.exe's incremental mode).
    ...(format === 'coff' ? ['-mno-incremental-linker-compatible'] : [pic ? '-fpie' : '-fno-pic']),
    ...(debug ? (format === 'coff' ? ['-gdwarf'] : ['-g']) : []),
    `-fdebug-prefix-map=${stageRoot}=`,
    `-fdebug-prefix-map=${srcDir}=fixture`,
  ];
  const objectPath = (name: string) => join(dir, `${name}.o`);
  await Promise.all(
    [...FIXTURE_UNITS, ...FIXTURE_PROGRAMS].map(async (name) => {
      const args = [...flags, '-c', `fixture/${name}.c`, '-o', objectPath(name)];
      await runTool('clang', args, stageRoot, `compiling ${sources[name]} for ${arch}`);
    }),
  );

  // `r` would keep members of a stale archive; start from nothing.
  const libcore = join(dir, 'libcore.a');
  await rm(libcore, { force: true });
  await runTool('llvm-ar', ['rcsD', libcore, ...FIXTURE_UNITS.map(objectPath)], dir, 'archiving libcore.a');

  const objects = Object.fromEntries(FIXTURE_UNITS.map((u) => [u, objectPath(u)])) as Record<FixtureUnit, string>;
  return { dir, arch, objects, libcore, apps: { app_a: objectPath('app_a'), app_b: objectPath('app_b') } };
}

/** Source file of every unit and program, with the requested variants substituted. */
function resolveSources(srcDir: string, variants: FixtureVariants): Record<FixtureUnit | FixtureProgram, string> {
  const out = {} as Record<FixtureUnit | FixtureProgram, string>;
  for (const name of [...FIXTURE_UNITS, ...FIXTURE_PROGRAMS]) out[name] = join(srcDir, `${name}.c`);
  for (const [unit, variant] of Object.entries(variants)) {
    if (variant === undefined) continue;
    if (!(FIXTURE_UNITS as readonly string[]).includes(unit)) {
      throw new Error(`buildFixture: '${unit}' is not a core unit (${FIXTURE_UNITS.join(', ')})`);
    }
    if (!/^[A-Za-z0-9_-]+$/.test(variant)) throw new Error(`buildFixture: bad variant name '${variant}' for ${unit}`);
    const file = join(srcDir, `${unit}.${variant}.c`);
    if (!existsSync(file)) throw new Error(`buildFixture: no variant ${unit}.${variant}.c in ${srcDir}`);
    out[unit as FixtureUnit] = file;
  }
  return out;
}

let toolsChecked: Promise<void> | undefined;

/** Fails early, naming the missing tool and the Debian packages that provide it. */
function checkTools(): Promise<void> {
  toolsChecked ??= Promise.all([
    runTool('clang', ['--version'], undefined, 'probing'),
    runTool('llvm-ar', ['--version'], undefined, 'probing'),
  ]).then(
    () => undefined,
    (err: unknown) => {
      toolsChecked = undefined;
      throw err;
    },
  );
  return toolsChecked;
}

async function runTool(tool: string, args: string[], cwd: string | undefined, what: string): Promise<void> {
  try {
    await execFileAsync(tool, args, { cwd, maxBuffer: 16 << 20 });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') {
      throw new Error(
        `buildFixture: '${tool}' was not found on PATH; building the fixture needs clang and llvm-ar ` +
          `(Debian packages: clang, llvm)`,
      );
    }
    throw new Error(`buildFixture: ${tool} failed ${what}: ${e.stderr?.trim() || e.message}`);
  }
}
