import { LinkError } from '../obj/LinkError.js';
import { VERSION } from '../version.js';
import { isArchive, isThinArchive, readArchive } from '../obj/archive.js';
import { compactObject } from '../obj/compactObject.js';
import { reuseAtomIds } from '../obj/contentId.js';
import { isElf, readElfObject } from '../obj/readElf.js';
import { isCoff, readCoffObject } from '../obj/readCoff.js';
import { PE_DEFAULTS, coffArchFor, isAbsoluteGlobal, linkPe, type PeLinkOptions } from '../link/pe/linkPe.js';
import { isLinkerScript } from '../obj/linkerScript.js';
import { isSharedObject, readSharedObject } from '../obj/readSharedObject.js';
import { parseVersionScript } from '../obj/versionScript.js';
import type { Archive, ArchName, FormatName, ObjectFile, SharedObject } from '../obj/model.js';
import type { Arch } from '../link/arch/Arch.js';
import { chunkDigest, chunkDigests } from '../link/buildId.js';
import type { WorkCounters } from '../link/relocate.js';
import { BUILD_ID_CHUNK, parseBuildId, type BuildIdStyle } from '../link/buildId.js';
import { PACKED, type PlacementPolicy } from '../link/layout.js';
import { archFor, link } from '../link/pipeline.js';
import type { ImageWriter } from '../link/streamImage.js';
import type { LinkInput, MemberLoader } from '../link/resolve.js';
import { Fallback, archiveIndexHash, planPatch, prepareIndex, type PatchInput, type Write } from './patch.js';
import { recordGcSignatures } from './gcGate.js';
import { removedSections } from '../link/gcSections.js';
import { DEFAULT_SLACK, incrementalPolicy, pePolicy } from './placementPolicy.js';
import {
  STATE_VERSION, captureState, decodeState, encodeState, encodeStateSplit, hashBytes, hashParts, imageHash, sameBytes, sameIdentity,
  type FileIdentityRecord, type InputRecord, type LinkState, type ObjectOrigin, type PeStateRecord, type RecordStore, type StateSource,
} from './state.js';
import { SessionImage } from './image.js';
import { StateError } from './stateCodec.js';
import { writeImportLibrary } from '../formats/pe/importLibrary.js';
import { isWindowsResource, readResourceFile } from '../formats/pe/resources.js';

/**
 * The one entry point of the library (DESIGN.md section 1). A session holds
 * the inputs of one output image and links them; it is mutable, and link()
 * may be called again after inputs change.
 *
 * With `incremental`, a link first tries to patch the previous image (from
 * this session's last link, or from setPriorState in a fresh process); when
 * the gate (patch.ts) finds a reason a patch might not equal a full link, it
 * does the full link and says why.
 */

export interface SessionOptions {
  format: FormatName;
  arch: ArchName;
  output: 'exe' | 'shared';
  entry?: string;
  /** `--build-id` style: 'fast', 'md5', 'sha1', 'uuid', '0x...', 'none'. Default none. */
  buildId?: string;
  /** Names to treat as referenced (-u). */
  undefinedSymbols?: string[];
  /** Write .eh_frame_hdr and PT_GNU_EH_FRAME, the unwinder's FDE index (--eh-frame-hdr). Default false. */
  ehFrameHdr?: boolean;
  /**
   * Incremental linking: lay out with slack and headroom, keep state for the
   * next link, and patch the previous image when that is provably the same as
   * a full link. Default false (a packed full link, like lld's).
   */
  incremental?: boolean;
  /** Percent of slack after each code atom (incremental only). Default 33. */
  codeSlackPct?: number;
  /** Percent of slack after each data atom (incremental only). Default 50. */
  dataSlackPct?: number;
  /**
   * A position-independent executable (-pie): ET_DYN, relocated to wherever
   * it is loaded. Default false. An executable is dynamic (it has .dynamic,
   * and a loader runs it) when it is a PIE or links a shared library.
   */
  pie?: boolean;
  /** The dynamic loader's path for PT_INTERP (-dynamic-linker). */
  dynamicLinker?: string;
  /** -z now: the loader binds every PLT slot before the program starts. Default false (lazy). */
  bindNow?: boolean;
  /** -z relro: a PT_GNU_RELRO segment. Default true. */
  relro?: boolean;
  /** DT_RUNPATH directories (-rpath). */
  runpath?: string[];
  /** --hash-style. Default 'both'. */
  hashStyle?: 'sysv' | 'gnu' | 'both';
  /** --export-dynamic. Default false. */
  exportDynamic?: boolean;
  /** Leave out the sections nothing reachable from the entry point uses (--gc-sections, lld's rules). Default false. */
  gcSections?: boolean;
  /** With gcSections: false for -z nostart-stop-gc (a reference to __start_X keeps the sections X). Default true, as in lld. */
  startStopGc?: boolean;
  /** List what gcSections removed in the report's `removedSections` (--print-gc-sections). Default false. */
  printGcSections?: boolean;
  /** A shared library's DT_SONAME (-soname). */
  soname?: string;
  /** -Bsymbolic ('all') or -Bsymbolic-functions ('functions'). Default 'none'. */
  symbolic?: 'none' | 'functions' | 'all';
  /** --version-script: the script's name (for messages) and text. */
  versionScript?: { name: string; text: string };
  /** The output's file name, for the base version of a versioned library without a soname. */
  outputName?: string;
  /** PE images (format 'coff'): subsystem, image base, DLL characteristics, stack and heap sizes; lld-link's defaults otherwise. */
  pe?: Partial<Omit<PeLinkOptions, 'arch' | 'entry' | 'undefinedRoots'>>;
}

/** What a link did, counted as work rather than time. */
export interface WorkCount {
  /** Atoms given an address (a full link places every atom; a patch only the changed objects'). */
  atomsPlaced: number;
  /** Atoms copied into the image. */
  atomsWritten: number;
  /** Relocations applied. */
  relocsApplied: number;
  /** Input bytes hashed to decide what changed. */
  bytesHashed: number;
  /** Input bytes read through the readers of inputs given as functions (an input known unchanged is not read). */
  inputBytesRead: number;
  /** Bytes of the prior image read through PriorImage.read (since the previous link, so setPriorState's too). */
  imageBytesRead: number;
}

export type InputId = number;

/**
 * A file's identity as the file system reports it: what
 * `fs.statSync(path, { bigint: true })` or `fs.fstatSync(fd, { bigint: true })`
 * returns has these fields. Any write to the file, a rename over it, a chmod
 * or a utimes changes one of them.
 */
export interface FileIdentity {
  dev: bigint | number;
  ino: bigint | number;
  size: bigint | number;
  mtimeNs: bigint | number;
  ctimeNs: bigint | number;
}

/** An input's bytes, or a function that reads them when, and only if, the session needs them. */
export type InputBytes = Uint8Array | (() => Uint8Array);

/** How a session can know an input is unchanged without reading it (incremental links). */
export interface UnchangedInputOptions {
  /**
   * The identity of the file the bytes are (to be) read from, observed
   * before reading it. When it equals the identity the prior state recorded
   * for the input at the same position, the input is taken as unchanged: not
   * read (bytes given as a function are not called) nor hashed, unless the
   * link falls back to a full one. The state records an identity for the next
   * link only if the file's times were at least 2 seconds old when it was
   * given, and never a thin archive's (its members are other files).
   */
  identity?: FileIdentity;
  /**
   * The caller vouches that these are the bytes of the input at the same
   * position in the prior link (the state given to setPriorState, or this
   * session's last link): taken as unchanged, not read nor hashed unless the
   * link falls back to a full one. A wrong promise makes a wrong patch.
   */
  unchanged?: boolean;
}

export interface ReleaseOption {
  /**
   * An object's bytes the caller may reuse once the link has read them: a
   * link that keeps no state (not incremental) calls this once it has parsed
   * the object, with how many of its first bytes it still reads: its
   * sections' contents and relocation rows, which it may first move down
   * over the symbol table, changing the bytes (obj/compactObject.ts). The
   * rest, the symbol and string tables and section headers, is the caller's
   * again: the command line reads the next input into it.
   */
  release?: (keep: number) => void;
}

/** The previous output, read only where a patch needs it (setPriorState). */
export interface PriorImage {
  size: number;
  /** `length` bytes at `offset`. */
  read(offset: number, length: number): Uint8Array;
  /**
   * The identity of the file it is read from. When it equals the identity
   * given to serializeState with the state, the image is trusted to be the
   * one the state describes without being read whole and hashed.
   */
  identity?: FileIdentity;
}

export type { RecordStore };

/** What serializeState records beside the state proper: the output's identity and its shadow. */
export interface StateOptions {
  imageIdentity?: FileIdentity;
  shadow?: OutputShadow | null;
}

/**
 * A caller's file that holds an earlier image of the output (the command
 * line keeps one beside the output: doc/incremental.md, "Writing a patch"):
 * its identity after it was last written (its size too), and the ranges
 * where the current image may differ from it. The session records it in the state for
 * the caller and reads nothing of it.
 */
export interface OutputShadow {
  identity: FileIdentity;
  stale: ByteRange[];
}

/** Whether two file identities are the same (device, inode, size, modification and status-change times). */
export function sameFileIdentity(a: FileIdentity, b: FileIdentity): boolean {
  return sameIdentity(identityRecord(a), identityRecord(b));
}

export interface ByteRange {
  offset: number;
  length: number;
}

export interface LinkReport {
  outcome: 'full' | 'patched' | 'fell-back-full';
  /** Why a relink fell back, in words; null when it did not. */
  reason: string | null;
  /** The byte ranges of the image this link wrote. */
  writes: ByteRange[];
  warnings: string[];
  /**
   * With gcSections and printGcSections, on a full link: lld's `removing
   * unused section FILE:(SECTION)` lines. Empty otherwise (a patch keeps the
   * same sections as the link it patches).
   */
  removedSections: string[];
  /** Size of the whole image. */
  size: number;
  work: WorkCount;
  /** Milliseconds per phase, for --explain. */
  timings: Record<string, number>;
}

/** Where emit() and a streamed link() write (src/link/streamImage.ts). */
export type { ImageWriter };

interface SessionInput {
  /** null until its bytes are read (addInput with a reader). */
  kind: 'object' | 'archive' | 'shared' | null;
  name: string;
  /** null until read through `load`. */
  bytes: Uint8Array | null;
  load: (() => Uint8Array) | null;
  /** The kind is told by the bytes (addInput), again whenever they are read. */
  detect: boolean;
  whole: boolean;
  /** Shared libraries: --as-needed. */
  asNeeded?: boolean;
  readThinMember?: (path: string) => Uint8Array;
  parsed?: ObjectFile | Archive | SharedObject;
  hash?: Uint8Array;
  /** The hash is the prior state's (the input is unchanged by identity or by the caller's word), not its bytes'. */
  hashAssumed?: boolean;
  identity?: FileIdentityRecord;
  /** When the identity was given, in ns since the epoch. */
  identityAt?: bigint;
  unchanged?: boolean;
  /** ReleaseOption's; cleared once called. */
  release?: (keep: number) => void;
}

/** How old a file's times must be, when its identity is given, for the state to record it. */
export const SETTLED_NS = 2_000_000_000n;

/** How many objects' last parses a session keeps for their next patch (LinkSession.lastParses). */
const LAST_PARSES = 8;

export class LinkSession {
  private readonly inputs = new Map<InputId, SessionInput>();
  private nextId = 0;
  private readonly buildId: BuildIdStyle;
  private image_: SessionImage | null = null;
  /** The last link's writes: null after a full link (the whole image). */
  private lastWrites: Write[] | null = null;
  private state: LinkState | null = null;
  /** A PE image's exports, from its last full link (a patch keeps them). */
  private peExports: Pick<PeStateRecord, 'dllName' | 'exports'> | null = null;
  /** Why the prior state given by setPriorState cannot be used, if it cannot. */
  private priorProblem: string | null = null;
  private last: LinkReport | null = null;
  /**
   * The state's input records are this session's inputs, in order, and all
   * but the `dirty` ones (replaced since) are known to match them: a patch
   * looks at those alone.
   */
  private synced = false;
  private readonly dirty = new Set<InputId>();
  /** InputId -> position, rebuilt after inputs are added or removed. */
  private positionOf: Map<InputId, number> | null = null;
  private inputBytesRead = 0;
  private priorBytesRead = 0;
  /** Test hook: how many whole-program symbol resolutions this session ran. */
  fullResolutions = 0;
  /**
   * The objects the last patches read, by name, the most recent
   * LAST_PARSES, each over its own copy of its bytes: the next patch of an
   * object of that name takes from it the ids of the atoms that did not
   * change rather than hash them again (reuseAtomIds).
   */
  private readonly lastParses = new Map<string, ObjectFile>();

  constructor(readonly options: SessionOptions) {
    if (options.format === 'macho') throw new LinkError(`output format 'macho' is not supported yet: tslink writes ELF and PE`);
    if (options.format === 'coff') {
      coffArchFor(options.arch);
    }
    this.buildId = options.buildId === undefined ? { kind: 'none' } : parseBuildId(options.buildId);
    for (const [k, v] of [['code', options.codeSlackPct], ['data', options.dataSlackPct]] as const) {
      if (v !== undefined && !(v >= 0 && v <= 1000)) throw new LinkError(`--${k}-slack: ${v} is not a percentage between 0 and 1000`);
    }
  }

  addObject(name: string, bytes: InputBytes, opts: UnchangedInputOptions & ReleaseOption = {}): InputId {
    return this.add({ kind: 'object', name, ...source(bytes), detect: false, whole: false, release: opts.release, ...unchangedBy(opts) });
  }

  addArchive(name: string, bytes: InputBytes, opts: { wholeArchive?: boolean; readThinMember?: (path: string) => Uint8Array } & UnchangedInputOptions = {}): InputId {
    return this.add({
      kind: 'archive', name, ...source(bytes), detect: false, whole: opts.wholeArchive ?? false, readThinMember: opts.readThinMember, ...unchangedBy(opts),
    });
  }

  /** A shared library (ELF ET_DYN): its exports resolve references, and it becomes a DT_NEEDED entry. */
  addSharedLibrary(name: string, bytes: InputBytes, opts: { asNeeded?: boolean } & UnchangedInputOptions = {}): InputId {
    return this.add({ kind: 'shared', name, ...source(bytes), detect: false, whole: false, asNeeded: opts.asNeeded ?? false, ...unchangedBy(opts) });
  }

  /**
   * Adds an input whose kind is told by its magic bytes. Given a function
   * for the bytes, the kind is told when link() reads them, or taken from
   * the prior state for an input known unchanged (UnchangedInputOptions).
   */
  addInput(
    name: string, bytes: InputBytes,
    opts: { wholeArchive?: boolean; asNeeded?: boolean; readThinMember?: (path: string) => Uint8Array } & UnchangedInputOptions & ReleaseOption = {},
  ): InputId {
    const given = bytes instanceof Uint8Array;
    if (!given && typeof bytes !== 'function') throw new LinkError('an input is given as bytes (a Uint8Array) or as a function that reads them');
    // Written out rather than spread from source() and unchangedBy(): a fresh relink adds thousands of inputs.
    return this.add({
      kind: given ? kindOf(name, bytes) : null, name, bytes: given ? bytes : null, load: given ? null : bytes, detect: true,
      whole: opts.wholeArchive ?? false, asNeeded: opts.asNeeded ?? false, readThinMember: opts.readThinMember, release: opts.release,
      identity: opts.identity ? identityRecord(opts.identity) : undefined, identityAt: opts.identity ? nowNs() : undefined, unchanged: opts.unchanged ?? false,
    });
  }

  private add(input: SessionInput): InputId {
    const id = this.nextId++;
    this.inputs.set(id, input);
    this.positionOf = null;
    this.synced = false;
    return id;
  }

  /**
   * New bytes for an input (a live session: the next link patches against
   * its own last one). The input keeps its kind and options.
   */
  replaceInput(id: InputId, bytes: InputBytes, opts: UnchangedInputOptions = {}): void {
    const input = this.inputs.get(id);
    if (!input) throw new LinkError(`no input with id ${id}`);
    this.inputs.set(id, { ...input, ...source(bytes), parsed: undefined, hash: undefined, hashAssumed: false, ...unchangedBy(opts) });
    this.dirty.add(id);
  }

  private rememberParse(name: string, file: ObjectFile): void {
    this.lastParses.delete(name);
    this.lastParses.set(name, file);
    if (this.lastParses.size > LAST_PARSES) this.lastParses.delete(this.lastParses.keys().next().value!);
  }

  /**
   * An object a patch reads, with the ids of its atoms that are as in the
   * last parse a patch made of an object of that name. Parsed from a copy of
   * its bytes: the parse is kept for the next patch, and must go on viewing
   * the bytes its ids were computed from, whatever the caller does with its
   * buffer (a copy of an object is a small part of a patch's time).
   */
  private parseForPatch(name: string, bytes: Uint8Array): ObjectFile {
    const file = readObjectOf(name, bytes.slice(), this.options.arch);
    const before = this.lastParses.get(name);
    if (before) reuseAtomIds(before, file);
    this.rememberParse(name, file);
    return file;
  }

  removeInput(id: InputId): void {
    if (!this.inputs.delete(id)) throw new LinkError(`no input with id ${id}`);
    this.dirty.delete(id);
    this.positionOf = null;
    this.synced = false;
  }

  /**
   * Seeds an incremental link in a fresh process: the state the last link
   * persisted and the image it describes. Given as bytes, the image is
   * hashed whole to check it is the one the state describes, and the session
   * takes the buffer over. Given as a PriorImage whose identity matches the
   * one serializeState recorded, it is trusted and read only where a patch
   * looks (a full link does not read it at all); otherwise it is read whole
   * and hashed. `records`: the records file of a state written by
   * serializeStateSplit, read only where a patch looks. A state that cannot
   * be used is not an error: the next link is a full one and its reason
   * says why.
   */
  setPriorState(stateBytes: Uint8Array, priorImage?: Uint8Array | PriorImage, records?: RecordStore): void {
    this.state = null;
    this.image_ = null;
    this.priorProblem = null;
    this.synced = false;
    try {
      const state = decodeState(stateBytes, records ?? null);
      let image: SessionImage | null = null;
      if (priorImage && !(priorImage instanceof Uint8Array) && priorImage.size === state.imageSize
        && priorImage.identity && sameIdentity(identityRecord(priorImage.identity), state.imageIdentity)) {
        image = SessionImage.lazy(priorImage.size, (offset, length) => priorImage.read(offset, length));
      } else if (priorImage) {
        let bytes: Uint8Array | null = null;
        if (priorImage instanceof Uint8Array) bytes = priorImage;
        else if (priorImage.size === state.imageSize) {
          bytes = priorImage.read(0, priorImage.size);
          this.priorBytesRead += bytes.length;
        }
        if (bytes && bytes.length === state.imageSize && sameBytes(identityOf(bytes, state), state.imageHash)) image = SessionImage.whole(bytes);
      }
      if (!priorImage) {
        this.priorProblem = 'the previous output is missing';
      } else if (!image) {
        this.priorProblem = 'the previous output no longer matches the incremental state (it was changed, or the last link was interrupted)';
      } else {
        this.state = state;
        this.image_ = image;
      }
    } catch (e) {
      if (!(e instanceof LinkError)) throw e;
      this.priorProblem = `the incremental state cannot be used: ${e.message}`;
    }
  }

  /**
   * The state for the next link. `imageIdentity`: the identity of the file
   * the caller wrote this link's image to, taken after its last write; a
   * later setPriorState given a PriorImage with the same identity trusts the
   * file without reading it whole.
   */
  serializeState(opts: StateOptions = {}): Uint8Array {
    return encodeState(this.stateFor(opts));
  }

  /**
   * The state for the next link, with the objects' records kept in
   * `records`, a file the caller keeps beside the state: those already
   * there (given to setPriorState, or written by an earlier call) are only
   * referred to. The caller appends `records` to the file at its size, or,
   * when `fresh`, replaces the file's content with it, and then sets the
   * store's size (before writing `state`: a state must not refer to
   * records not yet written). A patch in a fresh process then reads and
   * writes the records of the objects that changed, not all of them.
   */
  serializeStateSplit(records: RecordStore, opts: StateOptions = {}): { state: Uint8Array; records: Uint8Array; fresh: boolean } {
    return encodeStateSplit(this.stateFor(opts), records);
  }

  private stateFor(opts: StateOptions): LinkState {
    if (!this.state) throw new LinkError('there is no incremental state: link() has not run with incremental: true');
    this.state.imageIdentity = opts.imageIdentity ? identityRecord(opts.imageIdentity) : null;
    const sh = opts.shadow;
    this.state.shadow = sh ? { identity: identityRecord(sh.identity), stale: sh.stale.map((r) => ({ offset: r.offset, length: r.length })) } : null;
    return this.state;
  }

  /**
   * The shadow of the output that the prior state records (serializeState's
   * `shadow`), while the session holds that state; null otherwise.
   */
  priorShadow(): OutputShadow | null {
    return this.state?.shadow ?? null;
  }

  /**
   * Links: patches the previous image when the gate allows it, else links
   * in full. With `stream`, the image also goes to that writer as emit()
   * would write it; a link that is not incremental then writes it a window
   * at a time as it is made and keeps no copy of it (the peak memory of a
   * large link is then not also the whole image), so image() and emit()
   * refuse after it.
   */
  link(opts: { stream?: ImageWriter } = {}): LinkReport {
    const report = this.linkOnce(this.options.incremental ? undefined : opts.stream);
    if (opts.stream && this.image_) this.emit(opts.stream);
    return report;
  }

  private linkOnce(stream: ImageWriter | undefined): LinkReport {
    const t0 = performance.now();
    const timings: Record<string, number> = {};
    const work: WorkCount = { atomsPlaced: 0, atomsWritten: 0, relocsApplied: 0, bytesHashed: 0, inputBytesRead: 0, imageBytesRead: 0 };
    const incremental = this.options.incremental ?? false;
    const key = this.optionsKey();
    let reason: string | null = this.priorProblem;
    const hadPrior = this.state !== null || this.priorProblem !== null;
    this.priorProblem = null;

    if (incremental && this.state && this.image_) {
      if (this.state.optionsKey !== key) {
        reason = describeOptionsChange(this.state.optionsKey, key);
      } else {
        try {
          const { inputs, positions } = this.patchInputs(work);
          timings.hash = performance.now() - t0;
          const plan = planPatch(this.state, this.image_, inputs, this.arch(), this.policy(), (name, bytes) => this.parseForPatch(name, bytes), positions);
          timings.patch = performance.now() - t0 - timings.hash;
          // All or nothing: the writes land only now that every one of them is known (and every
          // byte they land in has been read).
          for (const w of plan.writes) this.image_.bytes(w.offset, w.bytes.length);
          for (const w of plan.writes) this.image_.set(w.bytes, w.offset);
          plan.commit();
          this.state.imageIdentity = null;
          this.lastWrites = plan.writes;
          this.synced = true;
          this.dirty.clear();
          Object.assign(work, plan.work);
          return this.report('patched', null, plan.writes.map((w) => ({ offset: w.offset, length: w.bytes.length })), [], work, timings, this.image_.length);
        } catch (e) {
          if (e instanceof Fallback) reason = e.reason;
          // A record of the state is checked when a patch first reads it (state.ts, lazyObject).
          else if (e instanceof StateError) reason = `the incremental state cannot be used: ${e.message}`;
          else if (e instanceof LinkError) reason = `the patch failed (${e.message})`;
          else throw e;
        }
      }
    }

    const start = performance.now();
    const { result, origins } = this.fullLink(incremental, stream);
    timings.link = performance.now() - start;
    work.atomsPlaced = result.layout.sections.reduce((n, s) => n + s.atoms.length, 0);
    work.atomsWritten = result.counters.atomsWritten;
    work.relocsApplied = result.counters.relocsApplied;
    // What a patch that fell back read of the prior image counts too.
    this.priorBytesRead += this.image_?.takeBytesRead() ?? 0;
    this.image_ = result.image ? SessionImage.whole(result.image) : null;
    this.lastWrites = null;
    if (incremental) {
      if (!result.image) throw new Error('internal error: an incremental link streamed its image');
      const s = performance.now();
      const inputs = this.inputRecords(work);
      const hashOf = new Map<Uint8Array, Uint8Array>();
      for (const input of this.inputs.values()) if (input.hash && input.bytes) hashOf.set(input.bytes, input.hash);
      this.state = captureState({ ...result, image: result.image }, this.options.arch, key, inputs, origins, (file) => {
        const known = hashOf.get(file.bytes);
        if (known) return known;
        work.bytesHashed += file.bytes.length;
        return hashBytes(file.bytes);
      });
      // With --gc-sections, what decided each object's part in the collection (gcGate.ts).
      if (this.options.gcSections) recordGcSignatures(this.state, result.res.files);
      prepareIndex(this.state);
      timings.state = performance.now() - s;
      this.synced = true;
      this.dirty.clear();
    } else {
      this.state = null;
    }
    const outcome = hadPrior && incremental ? 'fell-back-full' : 'full';
    const report = this.report(outcome, outcome === 'full' ? null : reason ?? 'no previous link to patch',
      [{ offset: 0, length: result.imageSize }], result.warnings, work, timings, result.imageSize);
    if (this.options.gcSections && this.options.printGcSections) report.removedSections = removedSections(result.res, result.plan);
    return report;
  }

  private report(
    outcome: LinkReport['outcome'], reason: string | null, writes: ByteRange[], warnings: string[], work: WorkCount, timings: Record<string, number>, size: number,
  ): LinkReport {
    work.inputBytesRead = this.inputBytesRead;
    this.inputBytesRead = 0;
    work.imageBytesRead = this.priorBytesRead + (this.image_?.takeBytesRead() ?? 0);
    this.priorBytesRead = 0;
    this.last = { outcome, reason, writes, warnings, removedSections: [], size, work, timings };
    return this.last;
  }

  /**
   * The import library of the PE image last linked (lld-link's and
   * llvm-dlltool's short format), for the programs that link against it;
   * null before a PE link.
   */
  importLibrary(): Uint8Array | null {
    const pe = this.peExports ?? this.state?.pe;
    if (!pe || this.options.format !== 'coff') return null;
    return writeImportLibrary(pe.dllName, pe.exports.filter((e) => !e.private), this.options.arch);
  }

  private arch(): Arch {
    return this.options.format === 'coff' ? coffArchFor(this.options.arch) : archFor(this.options.arch);
  }

  private policy(): PlacementPolicy {
    return this.options.format === 'coff' ? pePolicy(this.slack()) : incrementalPolicy(this.slack());
  }

  private fullLink(incremental: boolean, stream: ImageWriter | undefined): { result: FullLinkResult; origins: Map<ObjectFile, ObjectOrigin> } {
    const origins = new Map<ObjectFile, ObjectOrigin>();
    const inputs: LinkInput[] = [];
    const archiveInput = new Map<Archive, number>();
    let index = 0;
    for (const input of this.inputs.values()) {
      // An input taken as unchanged is read now, and hashed from its bytes: the state records what was linked.
      if (input.hashAssumed) {
        input.hash = undefined;
        input.hashAssumed = false;
      }
      const bytes = this.bytesOf(input);
      if (input.kind === 'object') {
        input.parsed ??= readObjectOf(input.name, bytes, this.options.arch);
        if (!incremental && input.release) {
          const { release } = input;
          const keep = compactObject(input.parsed as ObjectFile);
          input.release = undefined;
          input.bytes = bytes.subarray(0, keep);
          release(keep);
        }
        origins.set(input.parsed as ObjectFile, { input: index, member: '' });
        inputs.push({ kind: 'object', file: input.parsed as ObjectFile });
      } else if (input.kind === 'shared') {
        input.parsed ??= readSharedObject(input.name, bytes);
        const lib = input.parsed as SharedObject;
        if (lib.arch !== this.options.arch) throw new LinkError(`${input.name} is incompatible with ${this.options.arch} (it is ${lib.arch})`);
        inputs.push({ kind: 'shared', lib, asNeeded: input.asNeeded ?? false });
      } else {
        input.parsed ??= readArchive(input.name, bytes, input.readThinMember);
        archiveInput.set(input.parsed as Archive, index);
        inputs.push({ kind: 'archive', archive: input.parsed as Archive, whole: input.whole });
      }
      index++;
    }
    const loadMember: MemberLoader = (archive, m) => {
      const member = archive.members[m];
      const file = readObjectOf(`${archive.name}(${member.name})`, member.bytes, this.options.arch);
      origins.set(file, { input: archiveInput.get(archive)!, member: member.name });
      return file;
    };
    this.fullResolutions++;
    if (this.options.format === 'coff') return { result: this.linkPeImage(inputs, loadMember, incremental), origins };
    const result = link(inputs, loadMember, {
      arch: this.options.arch,
      entry: this.options.entry ?? (this.options.output === 'shared' ? '' : '_start'),
      buildId: this.buildId,
      undefinedRoots: this.options.undefinedSymbols ?? [],
      keepChunkDigests: incremental,
      ehFrameHdr: this.options.ehFrameHdr ?? false,
      dynamic: this.isDynamic() ? {
        pie: (this.options.pie ?? false) || this.options.output === 'shared',
        shared: this.options.output === 'shared',
        soname: this.options.soname ?? null,
        symbolic: this.options.symbolic ?? 'none',
        versionScript: this.options.versionScript ? parseVersionScript(this.options.versionScript.text, this.options.versionScript.name) : null,
        baseVersion: this.options.soname ?? this.options.outputName ?? 'a.out',
        interp: this.options.dynamicLinker ?? null,
        now: this.options.bindNow ?? false,
        runpath: this.options.runpath ?? [],
        hashStyle: this.options.hashStyle ?? 'both',
        exportDynamic: this.options.exportDynamic ?? false,
      } : null,
      relro: this.options.relro ?? true,
      gcSections: this.options.gcSections ?? false,
      startStopGc: this.options.startStopGc ?? true,
      stream,
    }, incremental ? this.policy() : PACKED);
    return { result, origins };
  }

  /** A PE image: the full link, and what its state records (no symbol table, GOT or build id). */
  private linkPeImage(inputs: LinkInput[], loadMember: MemberLoader, incremental: boolean): FullLinkResult {
    for (const input of inputs) {
      if (input.kind === 'shared') throw new LinkError(`${input.lib.name}: an ELF shared library cannot be linked into a PE image`);
    }
    const dll = this.options.output === 'shared';
    const opts: PeLinkOptions = {
      ...PE_DEFAULTS,
      // lld-link's default bases: 0x140000000 for an executable, 0x180000000 for a DLL.
      imageBase: dll ? 0x180000000 : PE_DEFAULTS.imageBase,
      dllName: this.options.outputName ?? (dll ? 'a.dll' : 'a.exe'),
      ...this.options.pe,
      dll,
      gcSections: this.options.gcSections ?? false,
      arch: this.options.arch,
      entry: this.options.entry ?? (dll ? '' : 'mainCRTStartup'),
      undefinedRoots: this.options.undefinedSymbols ?? [],
    };
    const r = linkPe(inputs, loadMember, opts, incremental ? this.policy() : PACKED);
    this.peExports = { dllName: opts.dllName, exports: r.exports.map(({ name, ordinal, noName, data, private: p }) => ({ name, ordinal, noName, data, private: p })) };
    const fileSizes = new Map(r.layout.peSections.map((p) => [p.sec, Math.min(p.rawSize, p.sec.size)]));
    return {
      res: r.res, plan: r.plan, layout: r.layout, values: r.values, image: r.image, imageSize: r.image.length, warnings: r.warnings, counters: r.counters,
      buildIdOffset: r.buildIdOffset, buildIdSize: r.buildIdSize, chunkDigests: r.chunkDigests ?? (incremental ? chunkDigests(r.image) : []),
      gotAddr: 0, got: null, tables: null,
      pe: { imageBase: r.layout.imageBase, ...this.peExports, fileSizes, isAbsolute: (id) => isAbsoluteGlobal(r.res, id) },
    };
  }

  /** A PIE, or an executable that links shared libraries. */
  private isDynamic(): boolean {
    return this.options.output === 'shared' || (this.options.pie ?? false) || [...this.inputs.values()].some((i) => i.kind === 'shared');
  }

  private slack() {
    return {
      codeSlackPct: this.options.codeSlackPct ?? DEFAULT_SLACK.codeSlackPct,
      dataSlackPct: this.options.dataSlackPct ?? DEFAULT_SLACK.dataSlackPct,
    };
  }

  /** Everything that must be equal for a patch to be allowed: a change is a full link. */
  private optionsKey(): string {
    const o = this.options;
    // A state written by another tslink may have been laid out by other rules.
    return JSON.stringify({
      tslink: VERSION, version: STATE_VERSION, format: o.format, arch: o.arch, output: o.output, entry: o.entry ?? '_start',
      buildId: o.buildId ?? 'none', undefinedSymbols: o.undefinedSymbols ?? [], ehFrameHdr: o.ehFrameHdr ?? false, ...this.slack(),
      pie: o.pie ?? false, dynamicLinker: o.dynamicLinker ?? null, bindNow: o.bindNow ?? false, relro: o.relro ?? true,
      runpath: o.runpath ?? [], hashStyle: o.hashStyle ?? 'both', exportDynamic: o.exportDynamic ?? false,
      soname: o.soname ?? null, symbolic: o.symbolic ?? 'none', versionScript: o.versionScript?.text ?? null,
      gcSections: o.gcSections ?? false, startStopGc: o.startStopGc ?? true, pe: o.pe ?? null,
    });
  }

  /** The input's bytes, read now if they were not (and its kind told by them, for addInput's). */
  private bytesOf(input: SessionInput): Uint8Array {
    if (!input.bytes) {
      const bytes = input.load!();
      if (!(bytes instanceof Uint8Array)) throw new LinkError(`${input.name}: its reader gave no bytes`);
      this.inputBytesRead += bytes.length;
      input.bytes = bytes;
      if (input.detect) input.kind = kindOf(input.name, bytes);
    }
    input.kind ??= kindOf(input.name, input.bytes);
    return input.bytes;
  }

  /**
   * The hash of the input's bytes. A thin archive's covers its members'
   * bytes too: they are other files, which can change while the archive
   * does not.
   */
  private hashInput(input: SessionInput, work: WorkCount): Uint8Array {
    if (!input.hash) {
      const bytes = this.bytesOf(input);
      const parts = [bytes];
      if (input.kind === 'archive' && isThinArchive(bytes)) {
        input.parsed ??= readArchive(input.name, bytes, input.readThinMember);
        for (const m of (input.parsed as Archive).members) parts.push(m.bytes);
      }
      for (const p of parts) work.bytesHashed += p.length;
      input.hash = hashParts(parts);
    }
    return input.hash;
  }

  /** The identity the state records for the input: given, settled (SETTLED_NS), and not a thin archive's. */
  private recordedIdentity(input: SessionInput): FileIdentityRecord | null {
    const id = input.identity;
    if (!id || input.identityAt === undefined) return null;
    if (input.bytes && input.kind === 'archive' && isThinArchive(input.bytes)) return null;
    const newest = id.mtimeNs > id.ctimeNs ? id.mtimeNs : id.ctimeNs;
    return newest + SETTLED_NS <= input.identityAt ? id : null;
  }

  /**
   * What planPatch needs of the inputs: all of them, or, when the state is in
   * step with this session's inputs, only those replaced since (the rest of
   * the list left empty). An input known unchanged (identity, or the
   * caller's word) takes the state's hash without being read.
   */
  private patchInputs(work: WorkCount): { inputs: PatchInput[]; positions: number[] | null } {
    const state = this.state!;
    const entry = (input: SessionInput, p: number): PatchInput => {
      const rec = state.inputs[p];
      if (!input.hash && rec && (input.kind === null || input.kind === rec.kind)
        && (input.unchanged || sameIdentity(input.identity, rec.identity))) {
        input.hash = rec.hash;
        input.hashAssumed = true;
        input.kind ??= rec.kind;
      }
      const hash = this.hashInput(input, work);
      return {
        name: input.name, kind: input.kind!, hash, bytes: () => this.bytesOf(input), identity: this.recordedIdentity(input),
        readThinMember: input.readThinMember,
      };
    };
    if (!this.positionOf) {
      this.positionOf = new Map();
      for (const id of this.inputs.keys()) this.positionOf.set(id, this.positionOf.size);
    }
    if (this.synced && state.inputs.length === this.inputs.size) {
      const list = new Array<PatchInput>(this.inputs.size);
      const positions: number[] = [];
      for (const id of this.dirty) {
        const p = this.positionOf.get(id)!;
        list[p] = entry(this.inputs.get(id)!, p);
        positions.push(p);
      }
      return { inputs: list, positions: positions.sort((a, b) => a - b) };
    }
    const list: PatchInput[] = [];
    for (const input of this.inputs.values()) list.push(entry(input, list.length));
    return { inputs: list, positions: null };
  }

  private inputRecords(work: WorkCount): InputRecord[] {
    return [...this.inputs.values()].map((input) => ({
      name: input.name,
      kind: input.kind!,
      hash: this.hashInput(input, work),
      indexHash: input.kind === 'archive' ? archiveIndexHash(input.parsed as Archive) : new Uint8Array(32),
      identity: this.recordedIdentity(input),
    }));
  }

  /** The image of the last link (a prior image read only in part is read whole now). */
  image(): Uint8Array {
    return this.kept().whole();
  }

  /** Writes the last link's result: the whole image after a full link, only the changed ranges after a patch. */
  emit(writer: ImageWriter): void {
    const image = this.kept();
    writer.setSize(image.length);
    if (this.lastWrites === null) {
      writer.write(0, image.whole());
      return;
    }
    for (const w of this.lastWrites) writer.write(w.offset, w.bytes);
  }

  /** The last link's image, unless it was streamed. */
  private kept(): SessionImage {
    if (!this.last) throw new LinkError('link() has not run');
    if (!this.image_) throw new LinkError('the last link wrote its image to the stream it was given and kept no copy of it');
    return this.image_;
  }

  /** The last link's report. */
  lastReport(): LinkReport | null {
    return this.last;
  }
}

/** The identity of an image as the state records it (see state.ts imageHash): chunk digests, the build id zeroed. */
function identityOf(image: Uint8Array, state: LinkState): Uint8Array {
  const idFrom = state.buildIdOffset;
  const idTo = idFrom >= 0 ? idFrom + state.buildIdSize : -1;
  const digests: Uint8Array[] = [];
  for (let at = 0; at < image.length; at += BUILD_ID_CHUNK) {
    let chunk = image.subarray(at, Math.min(image.length, at + BUILD_ID_CHUNK));
    if (idFrom >= 0 && idFrom < at + chunk.length && idTo > at) {
      chunk = chunk.slice();
      chunk.fill(0, Math.max(0, idFrom - at), Math.min(chunk.length, idTo - at));
    }
    digests.push(chunkDigest([chunk]));
  }
  const buildId = idFrom >= 0 ? image.slice(idFrom, idTo) : new Uint8Array(0);
  return imageHash(digests, buildId);
}

function source(bytes: InputBytes): { bytes: Uint8Array | null; load: (() => Uint8Array) | null } {
  if (bytes instanceof Uint8Array) return { bytes, load: null };
  if (typeof bytes === 'function') return { bytes: null, load: bytes };
  throw new LinkError('an input is given as bytes (a Uint8Array) or as a function that reads them');
}

function unchangedBy(opts: UnchangedInputOptions): Pick<SessionInput, 'identity' | 'identityAt' | 'unchanged'> {
  return {
    identity: opts.identity ? identityRecord(opts.identity) : undefined,
    identityAt: opts.identity ? nowNs() : undefined,
    unchanged: opts.unchanged ?? false,
  };
}

/** The time in ns since the epoch, to the millisecond: one BigInt per millisecond however many inputs are added in it. */
function nowNs(): bigint {
  const ms = Date.now();
  if (ms !== lastNow.ms) {
    lastNow.ms = ms;
    lastNow.ns = BigInt(ms) * 1_000_000n;
  }
  return lastNow.ns;
}
const lastNow = { ms: -1, ns: 0n };

function identityRecord(id: FileIdentity): FileIdentityRecord {
  return {
    dev: identityField(id.dev, 'dev'), ino: identityField(id.ino, 'ino'), size: identityField(id.size, 'size'),
    mtimeNs: identityField(id.mtimeNs, 'mtimeNs'), ctimeNs: identityField(id.ctimeNs, 'ctimeNs'),
  };
}

/** A field of a file identity as the state records it: an unsigned 64-bit value. */
function identityField(v: bigint | number, what: string): bigint {
  if (typeof v === 'bigint') return v >= 0n && v <= U64_MAX ? v : BigInt.asUintN(64, v);
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new LinkError(`a file identity's ${what} must be an integer (bigint or number), not ${String(v)}`);
  return BigInt.asUintN(64, BigInt(v));
}
const U64_MAX = (1n << 64n) - 1n;

/** The kind of input its magic bytes tell; a LinkError for anything else. */
function kindOf(name: string, bytes: Uint8Array): 'object' | 'archive' | 'shared' {
  if (isArchive(bytes)) return 'archive';
  if (isSharedObject(bytes)) return 'shared';
  if (isElf(bytes)) return 'object';
  if (isCoff(bytes) || isWindowsResource(bytes)) return 'object';
  if (isLinkerScript(bytes)) {
    throw new LinkError(`${name}: a linker script is not an input the library reads: expand the inputs it names first (the command line does)`);
  }
  throw new LinkError(`${name}: unknown file type (neither an ELF or COFF object nor an archive)`);
}

/** What the rest of a link needs of a full link, ELF's or PE's: its image is null when it was streamed. */
type FullLinkResult = Omit<StateSource, 'image'> & { image: Uint8Array | null; imageSize: number; warnings: string[]; counters: WorkCounters };

/** An object in either format the linker reads; the link refuses the one its output cannot hold. */
function readObjectOf(name: string, bytes: Uint8Array, arch: ArchName): ObjectFile {
  if (isElf(bytes)) return readElfObject(name, bytes);
  return isWindowsResource(bytes) ? readResourceFile(name, bytes, arch) : readCoffObject(name, bytes);
}

function describeOptionsChange(before: string, now: string): string {
  const a = JSON.parse(before) as Record<string, unknown>;
  const b = JSON.parse(now) as Record<string, unknown>;
  const diff = Object.keys({ ...a, ...b }).filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]));
  return `the link options changed (${diff.join(', ')})`;
}
