import { existsSync } from 'node:fs';
import { LinkError } from '../obj/LinkError.js';
import { defaultOptions, percent, type CliOptions, type PeCliSettings } from './args.js';
import { parseExport } from '../link/pe/exports.js';

/**
 * The two command lines of PE links, as lld has them:
 *
 * - MinGW's GNU ld style (`-m i386pep`), what clang's and gcc's MinGW
 *   drivers pass (lld/MinGW/Driver.cpp, which translates it for lld-link);
 * - lld-link's (`tslink-link`, or `tslink -flavor link`): `/option:value`
 *   or `-option:value`, case-insensitive (lld/COFF/Driver.cpp).
 *
 * Both produce the same CliOptions as the ELF command line, with `format`
 * 'coff' and the image's settings in `pe`. What tslink cannot honour yet is
 * an error naming the option, never silently ignored, unless ignoring it
 * cannot change the image.
 */

/** Windows subsystems by the names /subsystem and --subsystem take (lld's parseSubsystem). */
const SUBSYSTEMS: Record<string, number> = {
  native: 1,
  windows: 2,
  console: 3,
  posix: 7,
  efi_application: 10,
  efi_boot_service_driver: 11,
  efi_runtime_driver: 12,
  efi_rom: 13,
  boot_application: 16,
  // lld-link infers it from main/WinMain; tslink does not look, and takes console (MinGW's choice).
  default: 3,
};

const WINDOWS_GUI = 2;

/** lld's entry point when none is given: WinMainCRTStartup for a GUI program, else mainCRTStartup. */
export function defaultPeEntry(subsystem: number | undefined): string {
  return subsystem === WINDOWS_GUI ? 'WinMainCRTStartup' : 'mainCRTStartup';
}

/** -m values that select MinGW's PE command line, and what tslink does with each. */
export const PE_EMULATIONS: Record<string, string | null> = {
  i386pep: null,
  arm64pe: null,
  i386pe: '32-bit x86 PE images (-m i386pe) are not supported: tslink links x86-64 (-m i386pep) and ARM64 (-m arm64pe) PE images',
  thumb2pe: 'ARM PE images (-m thumb2pe) are not supported: tslink links x86-64 (-m i386pep) and ARM64 (-m arm64pe) PE images',
};

/**
 * A number as LLVM's getAsInteger with radix 0 reads it (what lld does for
 * /base, /stack, /heap, and so for MinGW's --image-base, --stack, --heap):
 * 0x hexadecimal, 0b binary, 0o or a leading 0 octal, else decimal.
 */
export function parseNumber(flag: string, s: string): number {
  const t = s.trim();
  let n = NaN;
  if (/^0[xX][0-9a-fA-F]+$/.test(t)) n = parseInt(t.slice(2), 16);
  else if (/^0[bB][01]+$/.test(t)) n = parseInt(t.slice(2), 2);
  else if (/^0[oO][0-7]+$/.test(t)) n = parseInt(t.slice(2), 8);
  else if (/^0[0-7]*$/.test(t)) n = parseInt(t, 8);
  else if (/^[1-9][0-9]*$/.test(t)) n = parseInt(t, 10);
  if (!Number.isSafeInteger(n)) throw new LinkError(`${flag}: invalid number: '${s}'`);
  return n;
}

/** `reserve[,commit]` (/stack, /heap, --stack, --heap). */
function parseSizes(flag: string, s: string): [number, number | undefined] {
  const [reserve, commit, ...rest] = s.split(',');
  if (rest.length) throw new LinkError(`${flag}: expected RESERVE[,COMMIT], got '${s}'`);
  return [parseNumber(flag, reserve), commit === undefined ? undefined : parseNumber(flag, commit)];
}

function parseImageBase(flag: string, s: string): number {
  const base = parseNumber(flag, s.split(',')[0]); // lld-link's /base:ADDRESS[,SIZE]; the size is not used
  if (base % 0x10000 !== 0) throw new LinkError(`${flag}: the image base must be a multiple of 64 KiB, got '${s}'`);
  return base;
}

/** A decimal version component, 0 to 65535. */
function versionPart(flag: string, s: string): number {
  if (!/^\d+$/.test(s) || Number(s) > 0xffff) throw new LinkError(`${flag}: invalid version number: '${s}'`);
  return Number(s);
}

/** `MAJOR[.MINOR]` (lld's parseVersion: the minor defaults to 0). */
function parseVersion(flag: string, s: string): [number, number] {
  const [major, minor, ...rest] = s.split('.');
  if (rest.length) throw new LinkError(`${flag}: invalid version: '${s}'`);
  return [versionPart(flag, major), minor === undefined ? 0 : versionPart(flag, minor)];
}

function subsystemNumber(flag: string, name: string): number {
  const n = SUBSYSTEMS[name.toLowerCase()];
  if (n === undefined) {
    throw new LinkError(`${flag}: unknown subsystem '${name}' (expected console, windows, native, efi_application, `
      + 'efi_boot_service_driver, efi_runtime_driver, efi_rom, posix or boot_application)');
  }
  return n;
}

// ---------------------------------------------------------------------------------------------
// MinGW: GNU ld's options for PE, as lld's MinGW driver takes them.

/** Flags with no argument that lld's MinGW driver ignores, or that cannot change the image tslink writes. */
const MINGW_IGNORED_FLAGS = new Set([
  'as-needed', 'no-as-needed', 'disable-auto-image-base', 'enable-auto-image-base', 'start-group', 'end-group', 'full-shutdown',
  'no-undefined', 'pic-executable', 'sort-common', 'demangle', 'no-demangle', 'color-diagnostics', 'no-color-diagnostics',
  // x86-64 images are always large-address aware; lld ignores the no-SEH flag except for 32-bit x86.
  'large-address-aware', 'no-seh', 'disable-no-seh',
  // tslink writes a timestamp of 0 either way.
  'insert-timestamp', 'no-insert-timestamp',
  'enable-reloc-section', 'no-allow-multiple-definition', 'no-guard-cf', 'no-guard-longjmp',
]);

/** Options with one argument (`--opt X`, `--opt=X`, one or two dashes) that lld's MinGW driver ignores. */
const MINGW_IGNORED_WITH_ARG = new Set(['plugin', 'sysroot', 'mllvm', 'error-limit', 'threads']);

/** Options tslink knows but cannot honour yet: an error saying so. */
const MINGW_NOT_YET = new Map<string, string>([
  ['output-def', 'tslink writes no module-definition file yet'],
  ['file-alignment', 'tslink writes a file alignment of 512'],
  ['section-alignment', 'tslink writes a section alignment of 4096'],
  ['disable-reloc-section', 'images without base relocations are not built yet'],
  ['Map', 'tslink writes no link map yet'],
  ['pdb', 'tslink writes no PDB'],
  ['delayload', 'delay-loaded imports are not built yet'],
  ['guard-cf', 'Control Flow Guard is not built yet'],
  ['appcontainer', ''],
  ['allow-multiple-definition', ''],
  ['wrap', ''],
  ['require-defined', ''],
  ['enable-stdcall-fixup', 'it applies to 32-bit x86'],
  ['disable-stdcall-fixup', 'it applies to 32-bit x86'],
]);

export function parseMingwArgs(argv: readonly string[]): CliOptions {
  const o = defaultOptions();
  o.style = 'mingw';
  o.format = 'coff';
  o.arch = 'x86_64';
  o.output = 'a.exe';
  const pe: PeCliSettings = {};
  o.pe = pe;
  let whole = false;
  let staticOnly = false;
  const states: [boolean, boolean][] = [];
  // The versions, as lld's MinGW driver combines them (see the end).
  let versionFlags = false;
  let osMajor: number | undefined;
  let osMinor: number | undefined;
  let sysMajor: number | undefined;
  let sysMinor: number | undefined;
  let lastSubsystemVersion: string | undefined;
  const args = [...argv];

  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const value = (flag: string): string => {
      if (i + 1 >= args.length) throw new LinkError(`${flag}: missing argument`);
      return args[++i];
    };
    const dashes = a.startsWith('--') ? 2 : a.startsWith('-') ? 1 : 0;
    const body = a.slice(dashes);
    const eq = body.indexOf('=');
    const name = eq < 0 ? body : body.slice(0, eq);
    /** `--NAME` (and `-NAME` unless twoDashesOnly): true. */
    const flag = (n: string, twoDashesOnly = false): boolean => dashes > 0 && body === n && (dashes === 2 || !twoDashesOnly);
    /** `--NAME X` or `--NAME=X` (and one dash unless twoDashesOnly): X. */
    const withArg = (n: string, twoDashesOnly = false): string | undefined => {
      if (dashes === 0 || name !== n || (dashes === 1 && twoDashesOnly)) return undefined;
      return eq < 0 ? value(a) : body.slice(eq + 1);
    };
    /** `-X VALUE` or `-XVALUE` (one dash). */
    const short = (x: string): string | undefined => {
      if (dashes !== 1) return undefined;
      if (a === `-${x}`) return value(a);
      if (a.startsWith(`-${x}`) && a.length > x.length + 1) return a.slice(x.length + 1);
      return undefined;
    };
    let v: string | undefined;

    if (dashes === 0 || a === '-') {
      if (/\.def$/i.test(a)) {
        o.defFiles.push(a);
        continue;
      }
      o.inputs.push({ kind: 'file', path: a, wholeArchive: whole, staticOnly, asNeeded: false });
      continue;
    }
    if (a.startsWith('@')) throw new LinkError(`response files are not supported yet: ${a}`);
    // Generic ones first: they are spelled as for ELF.
    if (flag('help')) { o.help = true; continue; }
    if (flag('version')) { o.version = true; continue; }
    if (a === '-v' || a === '-V') { o.verbose = true; continue; }
    if (flag('fatal-warnings')) { o.fatalWarnings = true; continue; }
    if (flag('no-fatal-warnings')) { o.fatalWarnings = false; continue; }
    if (flag('incremental', true)) { o.incremental = true; continue; }
    if (flag('no-incremental', true)) { o.incremental = false; continue; }
    if (flag('explain', true)) { o.explain = true; continue; }
    if (flag('watch', true)) { o.watch = true; o.incremental = true; continue; }
    if ((v = withArg('incremental-state', true)) !== undefined) { o.incrementalState = v; continue; }
    if ((v = withArg('code-slack', true)) !== undefined) { o.codeSlackPct = percent('--code-slack', v); continue; }
    if ((v = withArg('data-slack', true)) !== undefined) { o.dataSlackPct = percent('--data-slack', v); continue; }

    // GNU ld's long spellings of -o, -L and -l (two dashes: -library is -l ibrary, as in GNU ld).
    if ((v = withArg('output', true)) !== undefined) { o.output = v; o.outputGiven = true; continue; }
    if ((v = withArg('library-path', true)) !== undefined) { o.libraryPaths.push(v); continue; }
    if ((v = withArg('library', true)) !== undefined) { pushLibrary(o, v, whole, staticOnly); continue; }
    if ((v = withArg('entry')) !== undefined) { o.entry = v; continue; }
    if ((v = withArg('undefined')) !== undefined) { o.undefinedSymbols.push(v); continue; }
    if ((v = withArg('subsystem')) !== undefined) {
      const [sysName, ver] = splitOnce(v, ':');
      pe.subsystem = subsystemNumber('--subsystem', sysName);
      lastSubsystemVersion = ver || undefined;
      if (ver) {
        if (ver.includes('.')) {
          [sysMajor, sysMinor] = parseVersion('--subsystem', ver);
        } else {
          sysMajor = versionPart('--subsystem', ver);
        }
      }
      continue;
    }
    if ((v = withArg('major-image-version', true)) !== undefined) { pe.imageVersion = [versionPart(a, v), pe.imageVersion?.[1] ?? 0]; continue; }
    if ((v = withArg('minor-image-version', true)) !== undefined) { pe.imageVersion = [pe.imageVersion?.[0] ?? 0, versionPart(a, v)]; continue; }
    if ((v = withArg('major-os-version', true)) !== undefined) { osMajor = versionPart(a, v); versionFlags = true; continue; }
    if ((v = withArg('minor-os-version', true)) !== undefined) { osMinor = versionPart(a, v); versionFlags = true; continue; }
    if ((v = withArg('major-subsystem-version', true)) !== undefined) { sysMajor = versionPart(a, v); versionFlags = true; continue; }
    if ((v = withArg('minor-subsystem-version', true)) !== undefined) { sysMinor = versionPart(a, v); versionFlags = true; continue; }
    if ((v = withArg('image-base')) !== undefined) { pe.imageBase = parseImageBase('--image-base', v); continue; }
    if ((v = withArg('stack')) !== undefined) {
      const [reserve, commit] = parseSizes('--stack', v);
      pe.stackReserve = reserve;
      if (commit !== undefined) pe.stackCommit = commit;
      continue;
    }
    if ((v = withArg('heap')) !== undefined) {
      const [reserve, commit] = parseSizes('--heap', v);
      pe.heapReserve = reserve;
      if (commit !== undefined) pe.heapCommit = commit;
      continue;
    }
    // lld's MinGW mode writes a build id whenever it keeps debug info (no -s or -S); --build-id asks for nothing more.
    if (flag('build-id') || withArg('build-id') !== undefined) continue;
    if (flag('enable-auto-import')) { pe.autoImport = true; continue; }
    if (flag('disable-auto-import')) { pe.autoImport = false; continue; }
    if (flag('enable-runtime-pseudo-reloc')) { pe.runtimePseudoReloc = true; continue; }
    if (flag('disable-runtime-pseudo-reloc')) { pe.runtimePseudoReloc = false; continue; }
    if (flag('dynamicbase')) { pe.dynamicBase = true; continue; }
    if (flag('disable-dynamicbase') || flag('no-dynamicbase')) { pe.dynamicBase = false; continue; }
    if (flag('high-entropy-va')) { pe.highEntropyVa = true; continue; }
    if (flag('disable-high-entropy-va')) { pe.highEntropyVa = false; continue; }
    if (flag('nxcompat')) { pe.nxCompat = true; continue; }
    if (flag('disable-nxcompat')) { pe.nxCompat = false; continue; }
    if (flag('tsaware')) { pe.terminalServerAware = true; continue; }
    if (flag('disable-tsaware')) { pe.terminalServerAware = false; continue; }
    if (a === '-s' || flag('strip-all') || a === '-S' || flag('strip-debug')) { pe.stripDebug = true; continue; }
    if (flag('Bstatic') || a === '-static' || a === '-dn' || a === '-non_shared') { staticOnly = true; continue; }
    if (flag('Bdynamic') || a === '-dy' || a === '-call_shared') { staticOnly = false; continue; }
    if (flag('whole-archive')) { whole = true; continue; }
    if (flag('no-whole-archive')) { whole = false; continue; }
    if (flag('push-state')) { states.push([whole, staticOnly]); continue; }
    if (flag('pop-state')) {
      const s = states.pop();
      if (!s) throw new LinkError('--pop-state: no --push-state to restore');
      [whole, staticOnly] = s;
      continue;
    }
    if (flag('shared') || flag('dll')) { o.shared = true; continue; }
    if ((v = withArg('out-implib')) !== undefined) { o.implib = v; continue; }
    if (flag('export-all-symbols')) { pe.exportAll = true; continue; }
    if (flag('exclude-all-symbols')) { pe.exportAll = false; continue; }
    // Stdcall decorations (`@N`) are 32-bit x86's: nothing to strip on x86-64.
    if (flag('kill-at')) continue;
    if (flag('gc-sections')) { o.gcSections = true; continue; }
    if (flag('no-gc-sections')) { o.gcSections = false; continue; }
    if ((v = withArg('icf')) !== undefined) {
      if (v === 'none' || v === 'safe') continue;
      if (v === 'all') { o.warnings.push('--icf=all: identical code folding is not done: the image keeps every copy'); continue; }
      throw new LinkError(`unknown parameter: --icf=${v}`);
    }
    if (MINGW_IGNORED_FLAGS.has(body) && eq < 0) continue;
    if (MINGW_IGNORED_WITH_ARG.has(name)) { if (eq < 0) value(a); continue; }
    if (name.startsWith('plugin-opt')) { if (name === 'plugin-opt' && eq < 0) value(a); continue; }
    if (/^-O\d*$/.test(a)) continue;
    if (flag('rpath') || withArg('rpath') !== undefined) { o.warnings.push(`${a} is ignored for PE images`); continue; }
    if (MINGW_NOT_YET.has(name)) {
      const why = MINGW_NOT_YET.get(name);
      throw new LinkError(`${a} is not supported yet${why ? `: ${why}` : ''}`);
    }
    // Short options last, so that -entry, -subsystem, -mllvm and the like are not read as -e, -s, -m.
    if ((v = short('o')) !== undefined) { o.output = v; o.outputGiven = true; continue; }
    if ((v = short('e')) !== undefined) { o.entry = v; continue; }
    if ((v = short('L')) !== undefined) { o.libraryPaths.push(v); continue; }
    if ((v = short('l')) !== undefined) { pushLibrary(o, v, whole, staticOnly); continue; }
    if ((v = short('u')) !== undefined) { o.undefinedSymbols.push(v); continue; }
    if ((v = short('m')) !== undefined) {
      if (!(v in PE_EMULATIONS)) throw new LinkError(`unknown emulation: ${v} (with -m i386pep, tslink links x86-64 PE images)`);
      const why = PE_EMULATIONS[v];
      if (why) throw new LinkError(why);
      o.arch = v === 'arm64pe' ? 'aarch64' : 'x86_64';
      continue;
    }
    throw new LinkError(`unknown argument '${a}'`);
  }

  // lld's MinGW driver: with any of the four version options, the OS version is --major/minor-os-version (6.0 by
  // default) and the subsystem version the last of --major/minor-subsystem-version and --subsystem's; else the
  // subsystem version is --subsystem's, and lld-link makes the OS version follow it.
  if (versionFlags) {
    pe.osVersion = [osMajor ?? 6, osMinor ?? 0];
    pe.subsystemVersion = [sysMajor ?? 6, sysMinor ?? 0];
  } else if (lastSubsystemVersion !== undefined) {
    pe.subsystemVersion = parseVersion('--subsystem', lastSubsystemVersion);
    pe.osVersion = pe.subsystemVersion;
  }
  // lld's MinGW driver: DllMainCRTStartup for a DLL, which exports all its globals unless it names exports.
  o.entry ??= o.shared ? 'DllMainCRTStartup' : defaultPeEntry(pe.subsystem);
  pe.buildId = !pe.stripDebug;
  if (o.shared) pe.exportAll ??= true;
  return o;
}

function pushLibrary(o: CliOptions, name: string, whole: boolean, staticOnly: boolean): void {
  o.inputs.push({ kind: 'library', name, wholeArchive: whole, staticOnly, asNeeded: false });
}

function splitOnce(s: string, sep: string): [string, string] {
  const k = s.indexOf(sep);
  return k < 0 ? [s, ''] : [s.slice(0, k), s.slice(k + 1)];
}

/** Is `a` one of the MinGW PE options (for a hint when it is given without -m i386pep)? */
export function isMingwOption(a: string): boolean {
  const body = a.replace(/^--?/, '').split('=')[0];
  return [
    'subsystem', 'image-base', 'dynamicbase', 'disable-dynamicbase', 'no-dynamicbase', 'high-entropy-va', 'disable-high-entropy-va',
    'nxcompat', 'disable-nxcompat', 'tsaware', 'disable-tsaware', 'major-os-version', 'minor-os-version', 'major-subsystem-version',
    'minor-subsystem-version', 'stack', 'heap', 'enable-auto-import', 'disable-auto-import', 'enable-runtime-pseudo-reloc',
    'disable-runtime-pseudo-reloc', 'insert-timestamp', 'no-insert-timestamp', 'no-seh', 'large-address-aware',
  ].includes(body);
}

// ---------------------------------------------------------------------------------------------
// lld-link.

/** `/OPT`, `/OPT:no` pairs: the option name -> what it sets. */
type PeFlag = 'dynamicBase' | 'highEntropyVa' | 'nxCompat' | 'terminalServerAware';
const LINK_BOOL_FLAGS: Record<string, PeFlag> = {
  dynamicbase: 'dynamicBase',
  highentropyva: 'highEntropyVa',
  nxcompat: 'nxCompat',
  tsaware: 'terminalServerAware',
};

/** Options accepted and ignored: they cannot change the image tslink writes. */
const LINK_IGNORED = new Set(['nologo', 'brepro', 'ignore', 'errorlimit', 'pdb', 'pdbaltpath', 'lldignoreenv', 'threads']);

/** Options tslink knows but cannot honour yet. */
const LINK_NOT_YET = new Map<string, string>([
  ['merge', ''],
  ['section', ''],
  ['align', 'tslink writes a section alignment of 4096'],
  ['filealign', 'tslink writes a file alignment of 512'],
  ['order', ''],
  ['map', 'tslink writes no link map yet'],
  ['lldmap', 'tslink writes no link map yet'],
  ['delayload', 'delay-loaded imports are not built yet'],
  ['guard', 'Control Flow Guard is not built yet'],
  ['force', ''],
  ['stub', ''],
  ['release', 'tslink writes no checksum'],
  ['driver', 'drivers are not built yet'],
  ['manifest', 'tslink writes no manifest'],
  ['manifestfile', 'tslink writes no manifest'],
  ['manifestinput', 'tslink writes no manifest'],
  ['manifestdependency', 'tslink writes no manifest'],
  ['manifestuac', 'tslink writes no manifest'],
  ['appcontainer', ''],
  ['swaprun', ''],
  ['functionpadmin', ''],
  ['wholearchive', ''],
]);

export function parseLinkArgs(argv: readonly string[]): CliOptions {
  const o = defaultOptions();
  o.style = 'link';
  o.format = 'coff';
  o.output = '';
  // lld-link leaves DWARF out unless /debug asks for debug info.
  // lld-link imports from DLLs only what is declared so (`__imp_`), unlike MinGW's auto-import.
  const pe: PeCliSettings = { stripDebug: true, autoImport: false };
  let optRef: boolean | undefined;
  let debugged = false;
  o.pe = pe;
  const defaultLibs: string[] = [];
  const noDefaultLibs = new Set<string>();
  let noDefaultLibAll = false;
  let osVersion: [number, number] | undefined;
  let firstInput: string | undefined;
  const args = [...argv];

  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const gnuValue = (n: string): string | undefined => {
      if (a === n) {
        if (i + 1 >= args.length) throw new LinkError(`${n}: missing argument`);
        return args[++i];
      }
      return a.startsWith(n + '=') ? a.slice(n.length + 1) : undefined;
    };
    let v: string | undefined;
    if (a.startsWith('@')) throw new LinkError(`response files are not supported yet: ${a}`);
    // tslink's own options, spelled as on its GNU command line; and lld-link's --version.
    if (a === '--version') { o.version = true; continue; }
    if (a === '--help') { o.help = true; continue; }
    if (a === '--watch') { o.watch = true; o.incremental = true; continue; }
    if (a === '--explain') { o.explain = true; continue; }
    if ((v = gnuValue('--incremental-state')) !== undefined) { o.incrementalState = v; continue; }
    if ((v = gnuValue('--code-slack')) !== undefined) { o.codeSlackPct = percent('--code-slack', v); continue; }
    if ((v = gnuValue('--data-slack')) !== undefined) { o.dataSlackPct = percent('--data-slack', v); continue; }

    if ((a.startsWith('/') || a.startsWith('-')) && a.length > 1 && !a.startsWith('--')) {
      const body = a.slice(1);
      const colon = body.indexOf(':');
      const name = (colon < 0 ? body : body.slice(0, colon)).toLowerCase();
      const val = colon < 0 ? undefined : body.slice(colon + 1);
      if (linkOption(a, name, val)) continue;
      // As lld-link (LLVM's option parser): an argument starting with `/` that is no option is a path.
      if (a.startsWith('/') && (a.indexOf('/', 1) > 0 || existsSync(a))) {
        addInput(a);
        continue;
      }
      throw new LinkError(`unknown argument '${a}'`);
    }
    if (a.startsWith('-') && a !== '-') throw new LinkError(`unknown argument '${a}'`);
    addInput(a);
  }

  function addInput(path: string): void {
    firstInput ??= path;
    o.inputs.push({ kind: 'file', path, wholeArchive: false, staticOnly: false, asNeeded: false });
  }

  /** One lld-link option: true if it is one (handled), false if `name` is no option. */
  function linkOption(a: string, name: string, val: string | undefined): boolean {
    const need = (): string => {
      if (val === undefined || val === '') throw new LinkError(`${a.split(':')[0]}: missing value (${a.split(':')[0]}:VALUE)`);
      return val;
    };
    const yesNo = (): boolean => {
      if (val === undefined) return true;
      if (val.toLowerCase() === 'no') return false;
      throw new LinkError(`${a}: unknown value '${val}' (expected ${a.split(':')[0]} or ${a.split(':')[0]}:no)`);
    };
    switch (name) {
      case '?':
      case 'help':
        o.help = true;
        return true;
      case 'version':
        if (val !== undefined) pe.imageVersion = parseVersion('/version', val);
        else o.version = true;
        return true;
      case 'out':
        o.output = need();
        o.outputGiven = true;
        return true;
      case 'entry':
        o.entry = need();
        return true;
      case 'subsystem': {
        const [sysName, ver] = splitOnce(need(), ',');
        pe.subsystem = subsystemNumber('/subsystem', sysName);
        if (ver) pe.subsystemVersion = parseVersion('/subsystem', ver);
        return true;
      }
      case 'osversion':
        osVersion = parseVersion('/osversion', need());
        return true;
      case 'libpath':
        o.libraryPaths.push(need());
        return true;
      case 'defaultlib':
        defaultLibs.push(need());
        return true;
      case 'nodefaultlib':
        if (val === undefined) noDefaultLibAll = true;
        else noDefaultLibs.add(libFileName(need()).toLowerCase());
        return true;
      case 'incremental':
        o.incremental = yesNo();
        return true;
      case 'machine': {
        const m = need().toLowerCase();
        if (m === 'x64' || m === 'amd64') {
          o.arch = 'x86_64';
          return true;
        }
        if (m === 'arm64') {
          o.arch = 'aarch64';
          return true;
        }
        if (m === 'arm64ec' || m === 'arm64x') throw new LinkError(`${a}: ARM64EC and ARM64X images are not supported: tslink links x64 and ARM64 PE images`);
        if (m === 'x86' || m === 'i386' || m === 'arm' || m === 'armnt') throw new LinkError(`${a}: only x64 and ARM64 PE images are supported`);
        throw new LinkError(`unknown /machine argument: ${val}`);
      }
      case 'base':
        pe.imageBase = parseImageBase('/base', need());
        return true;
      case 'dynamicbase':
      case 'highentropyva':
      case 'nxcompat':
      case 'tsaware':
        pe[LINK_BOOL_FLAGS[name]] = yesNo();
        return true;
      case 'largeaddressaware':
        if (!yesNo()) throw new LinkError(`${a} is not supported: x64 images are always large-address aware in tslink`);
        return true;
      case 'fixed':
        if (yesNo()) throw new LinkError(`${a} is not supported yet: images without base relocations are not built yet`);
        return true;
      case 'stack': {
        const [reserve, commit] = parseSizes('/stack', need());
        pe.stackReserve = reserve;
        if (commit !== undefined) pe.stackCommit = commit;
        return true;
      }
      case 'heap': {
        const [reserve, commit] = parseSizes('/heap', need());
        pe.heapReserve = reserve;
        if (commit !== undefined) pe.heapCommit = commit;
        return true;
      }
      case 'debug':
        // lld-link keeps DWARF with /debug (full, dwarf, ghash, noghash), drops it with none or nodwarf; no PDB here.
        debugged = (val ?? 'full').toLowerCase() !== 'none';
        for (const kind of (val ?? 'full').toLowerCase().split(',')) {
          if (['full', 'fastlink', 'ghash', 'noghash', 'dwarf'].includes(kind)) pe.stripDebug = false;
          else if (kind === 'none' || kind === 'nodwarf') pe.stripDebug = true;
          else if (kind !== 'symtab' && kind !== 'nosymtab') throw new LinkError(`/debug: unknown option: ${kind}`);
        }
        return true;
      case 'opt':
        for (const opt of need().toLowerCase().split(',')) {
          if (opt === 'noicf' || opt === 'lbr' || opt === 'nolbr') continue;
          if (opt === 'ref' || opt === 'noref') { optRef = opt === 'ref'; continue; }
          if (opt === 'icf' || opt.startsWith('icf=') || opt === 'safeicf') {
            o.warnings.push(`/opt:${opt}: identical code folding is not done: the image keeps every copy`);
            continue;
          }
          throw new LinkError(`/opt: unknown option: ${opt}`);
        }
        return true;
      case 'dll':
        o.shared = true;
        return true;
      case 'export':
        (pe.exports ??= []).push(parseExport(need(), a));
        return true;
      case 'def':
        o.defFiles.push(need());
        return true;
      case 'implib':
        o.implib = need();
        return true;
      case 'noimplib':
        o.implib = null;
        return true;
      case 'build-id':
        pe.buildId = yesNo();
        return true;
      case 'noentry':
        o.entry = '';
        return true;
      case 'alternatename': {
        const [from, to] = splitOnce(need(), '=');
        if (!from || !to) throw new LinkError(`${a}: expected /alternatename:FROM=TO`);
        (pe.alternateNames ??= []).push([from, to]);
        return true;
      }
      case 'include':
        o.undefinedSymbols.push(need());
        return true;
      case 'wx':
        o.fatalWarnings = yesNo();
        return true;
      case 'timestamp':
        if (parseNumber('/timestamp', need()) !== 0) throw new LinkError(`${a} is not supported: tslink writes a timestamp of 0 (/timestamp:0, /Brepro)`);
        return true;
      default:
        if (LINK_IGNORED.has(name)) return true;
        if (LINK_NOT_YET.has(name)) {
          if (name === 'manifest' && val?.toLowerCase() === 'no') return true;
          const why = LINK_NOT_YET.get(name);
          throw new LinkError(`${a} is not supported yet${why ? `: ${why}` : ''}`);
        }
        return false;
    }
  }

  // lld-link: /osversion, else the subsystem's version.
  if (osVersion) pe.osVersion = osVersion;
  else if (pe.subsystemVersion) pe.osVersion = pe.subsystemVersion;
  // /defaultlib libraries come after every input, as lld-link adds them; each once, none after /nodefaultlib.
  // Without an input file there is nothing to link (lld-link: "no input files").
  if (!noDefaultLibAll && firstInput !== undefined) {
    const seen = new Set<string>();
    for (const lib of defaultLibs) {
      const key = libFileName(lib).toLowerCase();
      if (seen.has(key) || noDefaultLibs.has(key)) continue;
      seen.add(key);
      o.inputs.push({ kind: 'library', name: lib, wholeArchive: false, staticOnly: false, asNeeded: false });
    }
  }
  // lld-link's default output: the first input's name, in the current directory, with .exe.
  if (!o.outputGiven && firstInput) {
    const base = firstInput.split(/[\\/]/).pop()!;
    const dot = base.lastIndexOf('.');
    o.output = `${dot > 0 ? base.slice(0, dot) : base}${o.shared ? '.dll' : '.exe'}`;
  }
  o.entry ??= o.shared ? '_DllMainCRTStartup' : defaultPeEntry(pe.subsystem);
  // lld-link removes unreferenced COMDATs (/opt:ref) unless told not to, or debugging.
  o.gcSections = optRef ?? !debugged;
  // A CodeView build id with debug info kept (/debug), or when asked for (/build-id).
  pe.buildId ??= pe.stripDebug === false;
  return o;
}

/** lld-link's library file name: `.lib` added to a name without a `.`. */
export function libFileName(name: string): string {
  return name.includes('.') ? name : `${name}.lib`;
}

export const LINK_HELP = `Usage: tslink-link [options] file...
       tslink -flavor link [options] file...

tslink's lld-link command line: it links COFF objects (.obj, .o) and static
and import libraries (.lib, .a; GNU import libraries such as MinGW's
libkernel32.a) into an x64 PE executable or DLL. Options start with / or -, are
case-insensitive, and take their value after a colon. An input without an
extension is NAME.obj; inputs are looked up in the current directory, then
in the /libpath directories.

Options:
  /out:FILE                  Write the image to FILE (default: the first input's
                             name with .exe, or .dll)
  /entry:SYM                 Entry point (default mainCRTStartup, WinMainCRTStartup
                             for /subsystem:windows, _DllMainCRTStartup for /dll)
  /noentry                   No entry point (a DLL of resources or plain exports)
  /dll                       Link a DLL
  /export:NAME[=SYM][,@N[,NONAME]][,DATA][,PRIVATE]
                             Export NAME (SYM's address); objects' dllexport
                             directives export too
  /def:FILE                  A module-definition file: LIBRARY and EXPORTS
  /implib:FILE               Where the import library goes (default: the output's
                             name with .lib, for a DLL or an image with /export)
  /noimplib                  Write no import library
  /build-id[:no]             A .buildid section: a CodeView debug directory entry
                             whose GUID hashes the image (default: with /debug)
  /alternatename:FROM=TO     FROM, if nothing defines it, is TO
  /subsystem:NAME[,X.Y]      console (default), windows, native, efi_application,
                             efi_boot_service_driver, efi_runtime_driver, efi_rom,
                             posix or boot_application; X.Y the subsystem version
                             (default 6.0)
  /osversion:X.Y             The OS version (default: the subsystem version)
  /libpath:DIR               Add DIR to the library search path
  /defaultlib:NAME           Link library NAME (NAME.lib if NAME has no extension),
                             searched like an input, after every input
  /nodefaultlib[:NAME]       Leave out the /defaultlib libraries (or NAME). tslink
                             does not read /DEFAULTLIB directives in objects yet,
                             so this affects only the command line's /defaultlib
  /include:SYM               Treat SYM as referenced (pulls it from libraries)
  /machine:x64, /machine:arm64   The target (default: the first object's)
  /base:ADDRESS              Preferred load address (default 0x140000000, for a
                             DLL 0x180000000)
  /dynamicbase[:no]          ASLR (default on)
  /highentropyva[:no]        64-bit ASLR (default on)
  /nxcompat[:no]             Data execution prevention (default on)
  /tsaware[:no]              Terminal Server aware (default on)
  /stack:RESERVE[,COMMIT]    Stack size (default 0x100000,0x1000)
  /version:X[.Y]             The image version in the header (default 0.0)
  /heap:RESERVE[,COMMIT]     Heap size (default 0x100000,0x1000)
  /debug[:KIND]              Keep DWARF debug sections (lld-link drops them without
                             /debug); no PDB is written: CodeView is dropped
  /opt:ref, /opt:noref       Remove the COMDAT sections nothing reaches (the default
                             without /debug, as in lld-link), or keep them
  /opt:icf, /opt:noicf       Accepted; identical code folding is not done (a
                             warning says so for /opt:icf)
  /incremental[:no]          Relink incrementally (tslink's --incremental: patch
                             the previous image when provably the same as a full
                             link)
  /WX[:no]                   Treat warnings as errors
  /timestamp:0, /Brepro      Accepted: tslink always writes a timestamp of 0
  /nologo                    Accepted
  /version, --version        Print the version
  /help, /?                  Print this help

tslink's own options, spelled as on its GNU command line:
  --incremental-state=FILE   Where the state lives (default: OUTPUT.tslink-state)
  --code-slack=PCT           Room left after each function (default 33)
  --data-slack=PCT           Room left after each data object (default 50)
  --watch                    Stay, and relink whenever an input file changes
  --explain                  Print what the link did and its time per phase

Not supported yet (an error says so): /fixed, /merge, /section, /align,
/filealign, /manifest, /map, /guard:cf, /delayload, ARM64EC
and x86. Unknown options are errors.
`;
