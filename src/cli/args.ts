import type { ExportSpec } from '../link/pe/exports.js';
import { LinkError } from '../obj/LinkError.js';
import type { ArchName } from '../obj/model.js';
import { PE_EMULATIONS, isMingwOption, parseLinkArgs, parseMingwArgs } from './peArgs.js';

/**
 * The GNU ld command line, as compiler drivers pass it. Options that do not
 * apply to what tslink builds yet are accepted only where ignoring them
 * cannot change the program; everything else unknown is an error naming it.
 */

export type InputArg =
  | { kind: 'file'; path: string; wholeArchive: boolean; staticOnly: boolean; asNeeded: boolean }
  | { kind: 'library'; name: string; wholeArchive: boolean; staticOnly: boolean; asNeeded: boolean };

/**
 * A PE image's settings from the MinGW or lld-link command line (the
 * session's `pe` options); what is not given takes lld's defaults.
 */
export interface PeCliSettings {
  /** 3 console, 2 windows (GUI), 1 native, 10 EFI application, ... */
  subsystem?: number;
  imageBase?: number;
  dynamicBase?: boolean;
  highEntropyVa?: boolean;
  nxCompat?: boolean;
  terminalServerAware?: boolean;
  stripDebug?: boolean;
  stackReserve?: number;
  stackCommit?: number;
  heapReserve?: number;
  heapCommit?: number;
  osVersion?: [number, number];
  subsystemVersion?: [number, number];
  autoImport?: boolean;
  runtimePseudoReloc?: boolean;
  imageVersion?: [number, number];
  buildId?: boolean;
  /** `/EXPORT:`; a module-definition file's are read by the driver (`defFiles`). */
  exports?: ExportSpec[];
  /** MinGW: export every global of the DLL's own objects when none is named (the default for a DLL). */
  exportAll?: boolean;
  /** The export directory's and import library's name for the image (a .def file's LIBRARY). */
  dllName?: string;
  alternateNames?: Array<[string, string]>;
}

export interface CliOptions {
  /**
   * Which command line it was: GNU ld's for ELF, MinGW's GNU ld for PE
   * (`-m i386pep`), or lld-link's (`tslink-link`, `-flavor link`). It decides
   * how libraries and inputs are searched.
   */
  style: 'gnu' | 'mingw' | 'link';
  /** The output format; undefined: told by the first input that says (an ELF or a COFF object). */
  format: 'elf' | 'coff' | undefined;
  /** PE settings (MinGW and lld-link command lines). */
  pe: PeCliSettings;
  output: string;
  /** Was the output named (-o, /out:)? */
  outputGiven: boolean;
  /** -e; undefined: _start for an executable, none for a shared library. */
  entry: string | undefined;
  inputs: InputArg[];
  libraryPaths: string[];
  arch: ArchName | undefined;
  buildId: string | undefined;
  undefinedSymbols: string[];
  help: boolean;
  /** --version: print and exit. */
  version: boolean;
  /** -v: print the version, then link whatever inputs there are (as GNU ld and lld do). */
  verbose: boolean;
  fatalWarnings: boolean;
  warnings: string[];
  incremental: boolean;
  /** Where the incremental state lives; default: the output path plus `.tslink-state`. */
  incrementalState: string | undefined;
  /**
   * --shadow-output: keep the image before the last patch beside the output,
   * so that a patch rewrites only its ranges there and renames it into place
   * (doc/incremental.md, "Writing a patch"). Default: on for an ELF executable
   * the host runs natively, off otherwise.
   */
  shadowOutput: boolean | undefined;
  codeSlackPct: number | undefined;
  dataSlackPct: number | undefined;
  explain: boolean;
  ehFrameHdr: boolean;
  /** -pie */
  pie: boolean;
  /** -static or -Bstatic given before any input: a static executable, shared libraries refused. */
  staticLink: boolean;
  dynamicLinker: string | undefined;
  bindNow: boolean;
  relro: boolean;
  runpath: string[];
  hashStyle: 'sysv' | 'gnu' | 'both';
  exportDynamic: boolean;
  /** --gc-sections: leave out what the entry point does not reach. */
  gcSections: boolean;
  /** --print-gc-sections: list what --gc-sections left out (lld's format, on stdout). */
  printGcSections: boolean;
  /** -z start-stop-gc (default) / -z nostart-stop-gc. */
  startStopGc: boolean;
  /** -shared */
  shared: boolean;
  /** PE: where to write the import library (--out-implib, /implib:); null: not at all (/noimplib). */
  implib?: string | null;
  /** PE: module-definition files (`.def`), read when linking. */
  defFiles: string[];
  soname: string | undefined;
  symbolic: 'none' | 'functions' | 'all';
  /** --version-script FILE */
  versionScript: string | undefined;
  /** --watch: stay, and relink incrementally whenever an input changes. */
  watch: boolean;
}

const EMULATIONS: Record<string, ArchName> = {
  elf_x86_64: 'x86_64',
  aarch64linux: 'aarch64',
  aarch64elf: 'aarch64',
  aarch64linuxb: 'aarch64',
};

/** -z keywords that cannot change a static executable tslink writes, or that it does by default. */
const HARMLESS_Z = new Set([
  'noexecstack', 'separate-code', 'noseparate-code', 'nodelete', 'text',
  'defs', 'origin', 'noexecheap', 'combreloc', 'nocombreloc', 'muldefs',
]);

/** Flags with no argument that are harmless here (ignored). */
const HARMLESS_FLAGS = new Set([
  '--color-diagnostics',
  '--no-color-diagnostics', '--no-undefined', '-nostdlib', '--sort-common', '--warn-common', '--no-warn-mismatch',
  '-O0', '-O1', '-O2', '-O3',
  '--enable-new-dtags', '--no-rosegment',
  '--start-group', '--end-group', '-(', '-)', '-EL', '--relax', '--no-relax', '--stats', '--cref',
]);

/** Options with one argument that are harmless here. */
const HARMLESS_WITH_ARG = new Set(['-plugin-opt', '--sysroot']);

/**
 * The command line, whichever it is: `-flavor link` (lld-link's) or
 * `-flavor gnu` first, as lld takes them; GNU ld's with a PE emulation
 * (`-m i386pep`, MinGW's); else GNU ld's for ELF.
 */
export function parseArgs(argv: readonly string[]): CliOptions {
  if (argv[0] === '-flavor' || argv[0] === '--flavor') {
    const flavor = argv[1];
    if (flavor === 'link') return parseLinkArgs(argv.slice(2));
    if (flavor === 'gnu') return parseArgs(argv.slice(2));
    if (flavor === undefined) throw new LinkError(`${argv[0]}: missing argument (link or gnu)`);
    throw new LinkError(`unknown flavor '${flavor}': tslink has the gnu (GNU ld, MinGW) and link (lld-link) command lines`);
  }
  const emulation = lastEmulation(argv);
  if (emulation !== undefined && emulation in PE_EMULATIONS) return parseMingwArgs(argv);
  return parseElfArgs(argv);
}

/** The value of the last -m (`-m X` or `-mX`), if any. */
function lastEmulation(argv: readonly string[]): string | undefined {
  let m: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '-m' && i + 1 < argv.length) m = argv[++i];
    else if (argv[i].startsWith('-m') && argv[i].length > 2 && argv[i].slice(2) in PE_EMULATIONS) m = argv[i].slice(2);
    else if (argv[i].startsWith('-m') && argv[i].length > 2 && argv[i].slice(2) in EMULATIONS) m = argv[i].slice(2);
  }
  return m;
}

/** Every option at its default (the ELF command line's). */
export function defaultOptions(): CliOptions {
  return {
    style: 'gnu', format: undefined, pe: {}, outputGiven: false,
    output: 'a.out', entry: undefined, inputs: [], libraryPaths: [], arch: undefined, buildId: undefined,
    undefinedSymbols: [], help: false, version: false, verbose: false, fatalWarnings: false, warnings: [],
    incremental: false, incrementalState: undefined, shadowOutput: undefined, codeSlackPct: undefined, dataSlackPct: undefined, explain: false,
    ehFrameHdr: false, pie: false, staticLink: false, dynamicLinker: undefined, bindNow: false, relro: true, runpath: [],
    hashStyle: 'both', exportDynamic: false, gcSections: false, printGcSections: false, startStopGc: true,
    shared: false, defFiles: [], soname: undefined, symbolic: 'none', versionScript: undefined, watch: false,
  };
}

function parseElfArgs(argv: readonly string[]): CliOptions {
  const o = defaultOptions();
  let whole = false;
  let staticOnly = false;
  let asNeeded = false;
  const args = [...argv];

  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    // An input file (every option's value is taken with the option): the most of a large link's arguments,
    // kept from the option matching below.
    if (a.length > 0 && a[0] !== '-' && a[0] !== '@') {
      o.inputs.push({ kind: 'file', path: a, wholeArchive: whole, staticOnly, asNeeded });
      continue;
    }
    const value = (flag: string): string => {
      if (i + 1 >= args.length) throw new LinkError(`${flag}: missing argument`);
      return args[++i];
    };
    // `--opt=value`, `--opt value`, `-o value`, `-ovalue`
    const long = (names: string[]): string | undefined => {
      for (const n of names) {
        if (a === n) return value(n);
        if (a.startsWith(n + '=')) return a.slice(n.length + 1);
      }
      return undefined;
    };
    const short = (flag: string): string | undefined => {
      if (a === flag) return value(flag);
      if (a.startsWith(flag) && a.length > flag.length && !a.startsWith('--')) return a.slice(flag.length);
      return undefined;
    };
    let v: string | undefined;

    if (a === '--help' || a === '-help') { o.help = true; continue; }
    if (a === '--version') { o.version = true; continue; }
    if (a === '-v' || a === '-V') { o.verbose = true; continue; }
    if (a === '--fatal-warnings') { o.fatalWarnings = true; continue; }
    if (a === '--no-fatal-warnings') { o.fatalWarnings = false; continue; }
    if (a.startsWith('@')) throw new LinkError(`response files are not supported yet: ${a}`);
    if ((v = long(['--output'])) !== undefined || (v = short('-o')) !== undefined) { o.output = v; o.outputGiven = true; continue; }
    if ((v = long(['--entry'])) !== undefined || (v = short('-e')) !== undefined) { o.entry = v; continue; }
    if ((v = long(['--library-path'])) !== undefined || (v = short('-L')) !== undefined) { o.libraryPaths.push(v); continue; }
    if ((v = long(['--library'])) !== undefined || (v = short('-l')) !== undefined) {
      o.inputs.push({ kind: 'library', name: v, wholeArchive: whole, staticOnly, asNeeded });
      continue;
    }
    if ((v = long(['--undefined'])) !== undefined || (v = short('-u')) !== undefined) { o.undefinedSymbols.push(v); continue; }
    if ((v = short('-m')) !== undefined) {
      const arch = EMULATIONS[v];
      if (!arch) throw new LinkError(`unknown emulation: ${v}`);
      o.arch = arch;
      o.format = 'elf';
      continue;
    }
    if (a.startsWith('--build-id=')) { o.buildId = a.slice('--build-id='.length); continue; }
    if (a === '--build-id') { o.buildId = 'fast'; continue; }
    if (a === '--no-build-id') { o.buildId = undefined; continue; }
    if (a === '--whole-archive') { whole = true; continue; }
    if (a === '--no-whole-archive') { whole = false; continue; }
    if (['-static', '--static', '-Bstatic', '-dn', '-non_shared'].includes(a)) {
      staticOnly = true;
      if (o.inputs.length === 0) o.staticLink = true;
      continue;
    }
    if (['-Bdynamic', '-dy', '-call_shared'].includes(a)) { staticOnly = false; continue; }
    if (a === '--as-needed') { asNeeded = true; continue; }
    if (a === '--no-as-needed') { asNeeded = false; continue; }
    if ((v = short('-z')) !== undefined) {
      if (v === 'start-stop-gc' || v === 'nostart-stop-gc') { o.startStopGc = v === 'start-stop-gc'; continue; }
      const key = v.split('=')[0];
      if (v === 'now') { o.bindNow = true; continue; }
      if (v === 'lazy') { o.bindNow = false; continue; }
      if (v === 'relro') { o.relro = true; continue; }
      if (v === 'norelro') { o.relro = false; continue; }
      if (HARMLESS_Z.has(v) || key === 'max-page-size' || key === 'common-page-size' || key === 'stack-size') continue;
      throw new LinkError(`unsupported option: -z ${v}`);
    }
    if (a === '-pie' || a === '--pie') { o.pie = true; continue; }
    if (a === '-no-pie' || a === '--no-pie' || a === '-nopie') { o.pie = false; continue; }
    if ((v = long(['-dynamic-linker', '--dynamic-linker'])) !== undefined) { o.dynamicLinker = v; continue; }
    if (a === '--no-dynamic-linker') { o.dynamicLinker = undefined; continue; }
    if ((v = long(['-rpath', '--rpath', '-R'])) !== undefined) { o.runpath.push(...v.split(':').filter(Boolean)); continue; }
    if ((v = long(['--hash-style', '-hash-style'])) !== undefined) {
      if (v !== 'sysv' && v !== 'gnu' && v !== 'both') throw new LinkError(`--hash-style: unknown style '${v}' (expected sysv, gnu or both)`);
      o.hashStyle = v;
      continue;
    }
    if (a === '--export-dynamic' || a === '-E' || a === '-export-dynamic') { o.exportDynamic = true; continue; }
    if (a === '--no-export-dynamic') { o.exportDynamic = false; continue; }
    if (a === '--enable-new-dtags' || a === '--disable-new-dtags') continue;
    if (HARMLESS_FLAGS.has(a)) continue;
    if (HARMLESS_WITH_ARG.has(a)) { value(a); continue; }
    if ([...HARMLESS_WITH_ARG].some((n) => n.startsWith('--') && a.startsWith(n + '='))) continue;
    if (a === '-static-pie' || a === '--static-pie') {
      // What clang passes for it: -static -pie --no-dynamic-linker.
      staticOnly = true;
      if (o.inputs.length === 0) o.staticLink = true;
      o.pie = true;
      o.dynamicLinker = undefined;
      continue;
    }
    if (a === '-shared' || a === '--shared' || a === '-Bshareable') { o.shared = true; continue; }
    if ((v = long(['-soname', '--soname', '-h'])) !== undefined) { o.soname = v; continue; }
    if (a === '-Bsymbolic' || a === '--Bsymbolic') { o.symbolic = 'all'; continue; }
    if (a === '-Bsymbolic-functions' || a === '--Bsymbolic-functions') { o.symbolic = 'functions'; continue; }
    if (a === '-Bno-symbolic') { o.symbolic = 'none'; continue; }
    if ((v = long(['--version-script', '-version-script'])) !== undefined) { o.versionScript = v; continue; }
    if (a === '--gc-sections') { o.gcSections = true; continue; }
    if (a === '--no-gc-sections') { o.gcSections = false; continue; }
    if (a === '--print-gc-sections') { o.printGcSections = true; continue; }
    if (a === '--no-print-gc-sections') { o.printGcSections = false; continue; }
    if (a === '--eh-frame-hdr') { o.ehFrameHdr = true; continue; }
    if (a === '--no-eh-frame-hdr') { o.ehFrameHdr = false; continue; }
    if (a === '--incremental') { o.incremental = true; continue; }
    if (a === '--no-incremental') { o.incremental = false; continue; }
    if (a === '--explain') { o.explain = true; continue; }
    if (a === '--watch') { o.watch = true; o.incremental = true; continue; }
    if ((v = long(['--incremental-state'])) !== undefined) { o.incrementalState = v; continue; }
    if (a === '--shadow-output') { o.shadowOutput = true; continue; }
    if (a === '--no-shadow-output') { o.shadowOutput = false; continue; }
    if ((v = long(['--code-slack'])) !== undefined) { o.codeSlackPct = percent('--code-slack', v); continue; }
    if ((v = long(['--data-slack'])) !== undefined) { o.dataSlackPct = percent('--data-slack', v); continue; }
    if (a.startsWith('-') && a !== '-') {
      if (isMingwOption(a)) throw new LinkError(`unknown argument '${a}' (a PE option: give -m i386pep first to link a PE image)`);
      throw new LinkError(`unknown argument '${a}'`);
    }
    o.inputs.push({ kind: 'file', path: a, wholeArchive: whole, staticOnly, asNeeded });
  }
  return o;
}

export function percent(flag: string, v: string): number {
  const n = Number(v.replace(/%$/, ''));
  if (!/^\d+(\.\d+)?%?$/.test(v) || !(n >= 0 && n <= 1000)) throw new LinkError(`${flag}: expected a percentage from 0 to 1000, got '${v}'`);
  return n;
}

export const HELP = `Usage: tslink [options] file...
       tslink -m i386pep [options] file...      (PE, MinGW's GNU ld command line)
       tslink -flavor link [options] file...    (PE, lld-link's command line; also tslink-link)

tslink links ELF relocatable objects, static archives and shared libraries
(x86-64, AArch64) into executables (static, dynamic, position-independent)
and shared libraries, and COFF objects and static and import libraries
(x86-64) into PE executables.
It accepts the GNU ld options compiler drivers pass. Without -m, the first
object decides the format: COFF inputs make a PE executable.

Options:
  -o FILE, --output=FILE     Write the output to FILE (default a.out)
  -e SYM, --entry=SYM        Entry point symbol (default _start)
  -L DIR, --library-path=DIR Add DIR to the library search path
  -l NAME, --library=NAME    Search for libNAME.so, then libNAME.a, in each
                             directory (only libNAME.a after -Bstatic); -l:FILE for FILE
  -u SYM, --undefined=SYM    Treat SYM as referenced (pulls it from archives)
  -m EMULATION               elf_x86_64 or aarch64linux
  -static, -Bstatic          Link against static archives only
  -Bdynamic                  Search for shared libraries again
  -pie, -no-pie              A position-independent executable (or not)
  -static-pie                A static PIE (the C library relocates it at start-up)
  -shared                    A shared library: every default-visibility global is exported
  -soname NAME               The shared library's DT_SONAME
  -Bsymbolic[-functions]     Bind the library's own definitions (functions) to themselves
  --version-script=FILE      Hide (local:) and version (NODE { global: ... }) exported symbols
  -dynamic-linker PATH       The program interpreter (PT_INTERP)
  --as-needed                Record the following shared libraries as DT_NEEDED
                             only if a reference binds to them (--no-as-needed: always)
  -rpath DIR                 Add DIR to DT_RUNPATH
  -z now, -z lazy            Bind PLT slots at load time (default lazy)
  -z relro, -z norelro       PT_GNU_RELRO (default relro)
  --hash-style=STYLE         sysv, gnu or both (default both)
  --export-dynamic, -E       Put every global the executable defines into .dynsym
  --whole-archive            Include every member of the following archives
  --no-whole-archive         Back to pulling members in on demand
  --start-group, --end-group Accepted; archives are always searched as a group
  --build-id[=STYLE]         Add a .note.gnu.build-id (fast, md5, sha1, uuid, 0xHEX, none)
  --eh-frame-hdr             Add .eh_frame_hdr and PT_GNU_EH_FRAME (C++ exceptions need it)
  --gc-sections              Leave out sections that nothing reachable from the
                             entry point uses (lld's rules); --no-gc-sections: keep all
  --print-gc-sections        List the sections --gc-sections leaves out (full links)
  -z nostart-stop-gc         With --gc-sections, a reference to __start_SEC or
                             __stop_SEC keeps the sections SEC (-z start-stop-gc,
                             the default, keeps only __libc_* ones, as lld does)
  -z KEYWORD                 Accepted where it cannot change the output
  --fatal-warnings           Treat warnings as errors
  --help                     Print this help
  --version, -v              Print the version (-v still links)

Incremental linking:
  --incremental              Patch the previous output in place when that is
                             provably the same as a full link; else link in full
  --incremental-state=FILE   Where the state lives (default: OUTPUT.tslink-state)
  --[no-]shadow-output       Keep the image before the last patch beside the
                             output (OUTPUT.tslink-shadow), so that a patch
                             writes its ranges there and renames it into place
                             instead of copying the whole output (default: on
                             for an executable this machine runs natively)
  --code-slack=PCT           Room left after each function (default 33)
  --data-slack=PCT           Room left after each data object (default 50)
  --watch                    Stay, and relink (incrementally) whenever an input
                             file changes, printing each outcome and its time
  --explain                  Print what the link did (full, patched, or
                             fell-back-full and why) and its time per phase

PE executables, MinGW's command line (-m i386pep; what clang and gcc
targeting x86_64-w64-mingw32 pass):
  -m i386pep                 x86-64 PE (arm64pe, i386pe: not supported, an error)
  -o FILE                    The image (default a.exe)
  -e SYM, --entry=SYM        Entry point (default mainCRTStartup,
                             WinMainCRTStartup with --subsystem windows)
  -L DIR                     Add DIR to the library search path
  -l NAME                    In each -L directory: libNAME.dll.a, NAME.dll.a,
                             libNAME.a, NAME.lib (after -Bstatic: libNAME.a,
                             NAME.lib), as lld; -l:FILE for FILE
  -Bstatic, -Bdynamic        See -l (-static is -Bstatic)
  --whole-archive, --no-whole-archive, --push-state, --pop-state
  -u SYM                     Treat SYM as referenced
  --subsystem NAME[:X[.Y]]   console (default), windows, native, efi_application, ...
  --major-image-version N, --minor-image-version N   The image version (default 0.0)
  --major-os-version N, --minor-os-version N,
  --major-subsystem-version N, --minor-subsystem-version N
                             The versions in the header (default 6.0)
  --image-base ADDR          Preferred load address (default 0x140000000, for a
                             DLL 0x180000000)
  -shared, --dll             Link a DLL (entry DllMainCRTStartup); it exports what
                             its objects mark dllexport, a .def file names, or
                             else every global of its own objects
  --out-implib FILE          Write the DLL's import library to FILE
  --export-all-symbols, --exclude-all-symbols   Export every global, or only
                             what is named
  FILE.def                   A module-definition file: LIBRARY and EXPORTS
  --[disable-]dynamicbase, --[disable-]high-entropy-va, --[disable-]nxcompat,
  --[disable-]tsaware        DLL characteristics (default: all on)
  --stack RESERVE[,COMMIT], --heap RESERVE[,COMMIT]
  -s, --strip-all, -S, --strip-debug   Leave out DWARF debug sections (and the
                             build id lld writes with them: a .buildid section)
  --[enable|disable]-auto-import   Bind a reference to NAME that nothing defines
                             to a DLL's __imp_NAME (default: on)
  --[enable|disable]-runtime-pseudo-reloc   Let auto-imported references be
                             fixed up at start-up by the C runtime (default: on)
  --insert-timestamp, --no-insert-timestamp   Accepted; the timestamp is always 0
  --no-seh, --large-address-aware   Accepted (no effect on x86-64, as in lld)
  --gc-sections, --no-gc-sections   Remove the COMDAT sections nothing reaches
  --icf=all                  Accepted with a warning: nothing is folded
  Not supported yet (an error says so): --Map, --pdb,
  --output-def, --file-alignment, --section-alignment, --disable-reloc-section.
  The incremental options below apply too.

PE executables, lld-link's command line: run tslink-link /? for its options.

Commands:
  tslink demo                Build the bundled fixture, link it, edit it,
                             relink incrementally and show the outcomes

Not built yet (an error says so): extern "C++" in version scripts, linker
scripts other than the ones that name inputs (as
Debian's libc.so does).
`;
