import { LinkError } from '../obj/LinkError.js';
import { VERSION } from '../version.js';
import { isArchive, readArchive } from '../obj/archive.js';
import { isElf, readElfObject } from '../obj/readElf.js';
import { isLinkerScript } from '../obj/linkerScript.js';
import { isSharedObject, readSharedObject } from '../obj/readSharedObject.js';
import type { Archive, ArchName, FormatName, ObjectFile, SharedObject } from '../obj/model.js';
import { chunkDigests } from '../link/buildId.js';
import { parseBuildId, type BuildIdStyle } from '../link/buildId.js';
import { PACKED } from '../link/layout.js';
import { archFor, link, type LinkResult } from '../link/pipeline.js';
import type { LinkInput, MemberLoader } from '../link/resolve.js';
import { Fallback, archiveIndexHash, planPatch, type PatchInput, type Write } from './patch.js';
import { recordGcSignatures } from './gcGate.js';
import { removedSections } from '../link/gcSections.js';
import { DEFAULT_SLACK, incrementalPolicy } from './placementPolicy.js';
import {
  STATE_VERSION, captureState, decodeState, encodeState, hashBytes, imageHash, sameBytes,
  type InputRecord, type LinkState, type ObjectOrigin,
} from './state.js';

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
}

export type InputId = number;

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

/** Where emit() writes: the session does no file I/O of its own. */
export interface ImageWriter {
  /** The image's final size; called before any write. */
  setSize(size: number): void;
  write(offset: number, bytes: Uint8Array): void;
}

interface SessionInput {
  kind: 'object' | 'archive' | 'shared';
  name: string;
  bytes: Uint8Array;
  whole: boolean;
  /** Shared libraries: --as-needed. */
  asNeeded?: boolean;
  readThinMember?: (path: string) => Uint8Array;
  parsed?: ObjectFile | Archive | SharedObject;
  hash?: Uint8Array;
}

export class LinkSession {
  private readonly inputs = new Map<InputId, SessionInput>();
  private nextId = 0;
  private readonly buildId: BuildIdStyle;
  private image_: Uint8Array | null = null;
  /** The last link's writes: null after a full link (the whole image). */
  private lastWrites: Write[] | null = null;
  private state: LinkState | null = null;
  /** Why the prior state given by setPriorState cannot be used, if it cannot. */
  private priorProblem: string | null = null;
  private last: LinkReport | null = null;
  /** Test hook: how many whole-program symbol resolutions this session ran. */
  fullResolutions = 0;

  constructor(readonly options: SessionOptions) {
    if (options.format !== 'elf') throw new LinkError(`output format '${options.format}' is not supported yet: tslink writes ELF`);
    if (options.output !== 'exe') throw new LinkError('shared library output (-shared) is not supported yet');
    this.buildId = options.buildId === undefined ? { kind: 'none' } : parseBuildId(options.buildId);
    for (const [k, v] of [['code', options.codeSlackPct], ['data', options.dataSlackPct]] as const) {
      if (v !== undefined && !(v >= 0 && v <= 1000)) throw new LinkError(`--${k}-slack: ${v} is not a percentage between 0 and 1000`);
    }
  }

  addObject(name: string, bytes: Uint8Array): InputId {
    return this.add({ kind: 'object', name, bytes, whole: false });
  }

  addArchive(name: string, bytes: Uint8Array, opts: { wholeArchive?: boolean; readThinMember?: (path: string) => Uint8Array } = {}): InputId {
    return this.add({ kind: 'archive', name, bytes, whole: opts.wholeArchive ?? false, readThinMember: opts.readThinMember });
  }

  /** A shared library (ELF ET_DYN): its exports resolve references, and it becomes a DT_NEEDED entry. */
  addSharedLibrary(name: string, bytes: Uint8Array, opts: { asNeeded?: boolean } = {}): InputId {
    return this.add({ kind: 'shared', name, bytes, whole: false, asNeeded: opts.asNeeded ?? false });
  }

  /** Adds an input whose kind is told by its magic bytes. */
  addInput(name: string, bytes: Uint8Array, opts: { wholeArchive?: boolean; asNeeded?: boolean; readThinMember?: (path: string) => Uint8Array } = {}): InputId {
    if (isArchive(bytes)) return this.addArchive(name, bytes, opts);
    if (isSharedObject(bytes)) return this.addSharedLibrary(name, bytes, opts);
    if (isElf(bytes)) return this.addObject(name, bytes);
    if (isLinkerScript(bytes)) {
      throw new LinkError(`${name}: a linker script is not an input the library reads: expand the inputs it names first (the command line does)`);
    }
    throw new LinkError(`${name}: unknown file type (neither an ELF object nor an archive)`);
  }

  private add(input: SessionInput): InputId {
    const id = this.nextId++;
    this.inputs.set(id, input);
    return id;
  }

  replaceInput(id: InputId, bytes: Uint8Array): void {
    const input = this.inputs.get(id);
    if (!input) throw new LinkError(`no input with id ${id}`);
    this.inputs.set(id, { ...input, bytes, parsed: undefined, hash: undefined });
  }

  removeInput(id: InputId): void {
    if (!this.inputs.delete(id)) throw new LinkError(`no input with id ${id}`);
  }

  /**
   * Seeds an incremental link in a fresh process: the state the last link
   * persisted and the image it describes (the session takes the image over).
   * A state that cannot be used is not an error: the next link is a full one
   * and its reason says why.
   */
  setPriorState(stateBytes: Uint8Array, priorImage?: Uint8Array): void {
    this.state = null;
    this.image_ = null;
    this.priorProblem = null;
    try {
      const state = decodeState(stateBytes);
      if (!priorImage) {
        this.priorProblem = 'the previous output is missing';
      } else if (priorImage.length !== state.imageSize || !sameBytes(identityOf(priorImage, state), state.imageHash)) {
        this.priorProblem = 'the previous output no longer matches the incremental state (it was changed, or the last link was interrupted)';
      } else {
        this.state = state;
        this.image_ = priorImage;
      }
    } catch (e) {
      if (!(e instanceof LinkError)) throw e;
      this.priorProblem = `the incremental state cannot be used: ${e.message}`;
    }
  }

  serializeState(): Uint8Array {
    if (!this.state) throw new LinkError('there is no incremental state: link() has not run with incremental: true');
    return encodeState(this.state);
  }

  link(): LinkReport {
    const t0 = performance.now();
    const timings: Record<string, number> = {};
    const work: WorkCount = { atomsPlaced: 0, atomsWritten: 0, relocsApplied: 0, bytesHashed: 0 };
    const incremental = this.options.incremental ?? false;
    const key = this.optionsKey();
    let reason: string | null = this.priorProblem;
    const hadPrior = this.state !== null || this.priorProblem !== null;
    this.priorProblem = null;

    if (incremental && this.state && this.image_) {
      if (this.state.optionsKey !== key) {
        reason = describeOptionsChange(this.state.optionsKey, key);
      } else {
        const inputs = this.patchInputs(work);
        timings.hash = performance.now() - t0;
        try {
          const plan = planPatch(this.state, this.image_, inputs, archFor(this.options.arch), incrementalPolicy(this.slack()), readElfObject);
          timings.patch = performance.now() - t0 - timings.hash;
          // All or nothing: the writes land only now that every one of them is known.
          for (const w of plan.writes) this.image_.set(w.bytes, w.offset);
          this.state = plan.state;
          this.lastWrites = plan.writes;
          Object.assign(work, plan.work);
          return this.report('patched', null, plan.writes.map((w) => ({ offset: w.offset, length: w.bytes.length })), [], work, timings);
        } catch (e) {
          if (e instanceof Fallback) reason = e.reason;
          else if (e instanceof LinkError) reason = `the patch failed (${e.message})`;
          else throw e;
        }
      }
    }

    const start = performance.now();
    const { result, origins } = this.fullLink(incremental);
    timings.link = performance.now() - start;
    work.atomsPlaced = result.layout.sections.reduce((n, s) => n + s.atoms.length, 0);
    work.atomsWritten = result.counters.atomsWritten;
    work.relocsApplied = result.counters.relocsApplied;
    this.image_ = result.image;
    this.lastWrites = null;
    if (incremental) {
      const s = performance.now();
      const inputs = this.inputRecords(work);
      const hashOf = new Map<Uint8Array, Uint8Array>();
      for (const input of this.inputs.values()) if (input.hash) hashOf.set(input.bytes, input.hash);
      this.state = captureState(result, this.options.arch, key, inputs, origins, (file) => {
        const known = hashOf.get(file.bytes);
        if (known) return known;
        work.bytesHashed += file.bytes.length;
        return hashBytes(file.bytes);
      });
      // With --gc-sections, what decided each object's part in the collection (gcGate.ts).
      if (this.options.gcSections) recordGcSignatures(this.state, result.res.files);
      timings.state = performance.now() - s;
    } else {
      this.state = null;
    }
    const outcome = hadPrior && incremental ? 'fell-back-full' : 'full';
    const report = this.report(outcome, outcome === 'full' ? null : reason ?? 'no previous link to patch',
      [{ offset: 0, length: result.image.length }], result.warnings, work, timings);
    if (this.options.gcSections && this.options.printGcSections) report.removedSections = removedSections(result.res, result.plan);
    return report;
  }

  private report(outcome: LinkReport['outcome'], reason: string | null, writes: ByteRange[], warnings: string[], work: WorkCount, timings: Record<string, number>): LinkReport {
    this.last = { outcome, reason, writes, warnings, removedSections: [], size: this.image_!.length, work, timings };
    return this.last;
  }

  private fullLink(incremental: boolean): { result: LinkResult; origins: Map<ObjectFile, ObjectOrigin> } {
    const origins = new Map<ObjectFile, ObjectOrigin>();
    const inputs: LinkInput[] = [];
    const archiveInput = new Map<Archive, number>();
    let index = 0;
    for (const input of this.inputs.values()) {
      if (input.kind === 'object') {
        input.parsed ??= readElfObject(input.name, input.bytes);
        origins.set(input.parsed as ObjectFile, { input: index, member: '' });
        inputs.push({ kind: 'object', file: input.parsed as ObjectFile });
      } else if (input.kind === 'shared') {
        input.parsed ??= readSharedObject(input.name, input.bytes);
        const lib = input.parsed as SharedObject;
        if (lib.arch !== this.options.arch) throw new LinkError(`${input.name} is incompatible with ${this.options.arch} (it is ${lib.arch})`);
        inputs.push({ kind: 'shared', lib, asNeeded: input.asNeeded ?? false });
      } else {
        input.parsed ??= readArchive(input.name, input.bytes, input.readThinMember);
        archiveInput.set(input.parsed as Archive, index);
        inputs.push({ kind: 'archive', archive: input.parsed as Archive, whole: input.whole });
      }
      index++;
    }
    const loadMember: MemberLoader = (archive, m) => {
      const member = archive.members[m];
      const file = readElfObject(`${archive.name}(${member.name})`, member.bytes);
      origins.set(file, { input: archiveInput.get(archive)!, member: member.name });
      return file;
    };
    this.fullResolutions++;
    const result = link(inputs, loadMember, {
      arch: this.options.arch,
      entry: this.options.entry ?? '_start',
      buildId: this.buildId,
      undefinedRoots: this.options.undefinedSymbols ?? [],
      keepChunkDigests: incremental,
      ehFrameHdr: this.options.ehFrameHdr ?? false,
      dynamic: this.isDynamic() ? {
        pie: this.options.pie ?? false,
        interp: this.options.dynamicLinker ?? null,
        now: this.options.bindNow ?? false,
        runpath: this.options.runpath ?? [],
        hashStyle: this.options.hashStyle ?? 'both',
        exportDynamic: this.options.exportDynamic ?? false,
      } : null,
      relro: this.options.relro ?? true,
      gcSections: this.options.gcSections ?? false,
      startStopGc: this.options.startStopGc ?? true,
    }, incremental ? incrementalPolicy(this.slack()) : PACKED);
    return { result, origins };
  }

  /** A PIE, or an executable that links shared libraries. */
  private isDynamic(): boolean {
    return (this.options.pie ?? false) || [...this.inputs.values()].some((i) => i.kind === 'shared');
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
      gcSections: o.gcSections ?? false, startStopGc: o.startStopGc ?? true,
    });
  }

  private hashInput(input: SessionInput, work: WorkCount): Uint8Array {
    if (!input.hash) {
      work.bytesHashed += input.bytes.length;
      input.hash = hashBytes(input.bytes);
    }
    return input.hash;
  }

  private patchInputs(work: WorkCount): PatchInput[] {
    return [...this.inputs.values()].map((input) => ({
      name: input.name, kind: input.kind, bytes: input.bytes, hash: this.hashInput(input, work), readThinMember: input.readThinMember,
    }));
  }

  private inputRecords(work: WorkCount): InputRecord[] {
    return [...this.inputs.values()].map((input) => ({
      name: input.name,
      kind: input.kind,
      hash: this.hashInput(input, work),
      indexHash: input.kind === 'archive' ? archiveIndexHash(input.parsed as Archive) : new Uint8Array(32),
    }));
  }

  /** The image of the last link. */
  image(): Uint8Array {
    if (!this.image_ || !this.last) throw new LinkError('link() has not run');
    return this.image_;
  }

  /** Writes the last link's result: the whole image after a full link, only the changed ranges after a patch. */
  emit(writer: ImageWriter): void {
    const image = this.image();
    writer.setSize(image.length);
    if (this.lastWrites === null) {
      writer.write(0, image);
      return;
    }
    for (const w of this.lastWrites) writer.write(w.offset, w.bytes);
  }

  /** The last link's report. */
  lastReport(): LinkReport | null {
    return this.last;
  }
}

/** The identity of an image as the state records it (see state.ts imageHash). */
function identityOf(image: Uint8Array, state: LinkState): Uint8Array {
  let zeroed = image;
  let buildId: Uint8Array = new Uint8Array(0);
  if (state.buildIdOffset >= 0) {
    buildId = image.slice(state.buildIdOffset, state.buildIdOffset + state.buildIdSize);
    zeroed = image.slice();
    zeroed.fill(0, state.buildIdOffset, state.buildIdOffset + state.buildIdSize);
  }
  return imageHash(chunkDigests(zeroed), buildId);
}

function describeOptionsChange(before: string, now: string): string {
  const a = JSON.parse(before) as Record<string, unknown>;
  const b = JSON.parse(now) as Record<string, unknown>;
  const diff = Object.keys({ ...a, ...b }).filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]));
  return `the link options changed (${diff.join(', ')})`;
}
