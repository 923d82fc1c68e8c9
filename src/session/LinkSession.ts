import { LinkError } from '../obj/LinkError.js';
import { isArchive, readArchive } from '../obj/archive.js';
import { isElf, readElfObject } from '../obj/readElf.js';
import type { Archive, ArchName, FormatName, ObjectFile } from '../obj/model.js';
import { parseBuildId, type BuildIdStyle } from '../link/buildId.js';
import { link, type LinkResult } from '../link/pipeline.js';
import type { LinkInput, MemberLoader } from '../link/resolve.js';

/**
 * The one entry point of the library (DESIGN.md section 1). A session holds
 * the inputs of one output image and links them; it is mutable, and link()
 * may be called again after inputs change.
 *
 * Incremental relinking (prior state, patching, the gate) is not built yet:
 * every link() is a full link, and the state methods say so.
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
  /** Size of the whole image. */
  size: number;
}

/** Where emit() writes: the session does no file I/O of its own. */
export interface ImageWriter {
  /** The image's final size; called before any write. */
  setSize(size: number): void;
  write(offset: number, bytes: Uint8Array): void;
}

interface SessionInput {
  kind: 'object' | 'archive';
  name: string;
  bytes: Uint8Array;
  whole: boolean;
  readThinMember?: (path: string) => Uint8Array;
  parsed?: ObjectFile | Archive;
}

export class LinkSession {
  private readonly inputs = new Map<InputId, SessionInput>();
  private nextId = 0;
  private last: LinkResult | null = null;
  private readonly buildId: BuildIdStyle;
  /** Test hook: how many full symbol resolutions this session ran. */
  fullResolutions = 0;

  constructor(readonly options: SessionOptions) {
    if (options.format !== 'elf') throw new LinkError(`output format '${options.format}' is not supported yet: tslink writes ELF`);
    if (options.output !== 'exe') throw new LinkError('shared library output (-shared) is not supported yet');
    this.buildId = options.buildId === undefined ? { kind: 'none' } : parseBuildId(options.buildId);
  }

  addObject(name: string, bytes: Uint8Array): InputId {
    return this.add({ kind: 'object', name, bytes, whole: false });
  }

  addArchive(name: string, bytes: Uint8Array, opts: { wholeArchive?: boolean; readThinMember?: (path: string) => Uint8Array } = {}): InputId {
    return this.add({ kind: 'archive', name, bytes, whole: opts.wholeArchive ?? false, readThinMember: opts.readThinMember });
  }

  /** Adds an input whose kind is told by its magic bytes. */
  addInput(name: string, bytes: Uint8Array, opts: { wholeArchive?: boolean; readThinMember?: (path: string) => Uint8Array } = {}): InputId {
    if (isArchive(bytes)) return this.addArchive(name, bytes, opts);
    if (isElf(bytes)) return this.addObject(name, bytes);
    const text = new TextDecoder().decode(bytes.subarray(0, 64));
    if (/^\s*(\/\*|GROUP|INPUT|OUTPUT_FORMAT|SEARCH_DIR|ENTRY)/.test(text)) {
      throw new LinkError(`${name}: linker scripts are not supported yet`);
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
    this.inputs.set(id, { ...input, bytes, parsed: undefined });
  }

  removeInput(id: InputId): void {
    if (!this.inputs.delete(id)) throw new LinkError(`no input with id ${id}`);
  }

  setPriorState(_bytes: Uint8Array): void {
    throw new LinkError('incremental linking is not built yet: prior state cannot be used');
  }

  serializeState(): Uint8Array {
    throw new LinkError('incremental linking is not built yet: there is no state to serialize');
  }

  link(): LinkReport {
    const inputs: LinkInput[] = [];
    for (const input of this.inputs.values()) {
      if (input.kind === 'object') {
        input.parsed ??= readElfObject(input.name, input.bytes);
        inputs.push({ kind: 'object', file: input.parsed as ObjectFile });
      } else {
        input.parsed ??= readArchive(input.name, input.bytes, input.readThinMember);
        inputs.push({ kind: 'archive', archive: input.parsed as Archive, whole: input.whole });
      }
    }
    const loadMember: MemberLoader = (archive, m) => {
      const member = archive.members[m];
      return readElfObject(`${archive.name}(${member.name})`, member.bytes);
    };
    this.fullResolutions++;
    this.last = link(inputs, loadMember, {
      arch: this.options.arch,
      entry: this.options.entry ?? '_start',
      buildId: this.buildId,
      undefinedRoots: this.options.undefinedSymbols ?? [],
    });
    const size = this.last.image.length;
    return { outcome: 'full', reason: null, writes: [{ offset: 0, length: size }], warnings: this.last.warnings, size };
  }

  /** The image of the last link. */
  image(): Uint8Array {
    if (!this.last) throw new LinkError('link() has not run');
    return this.last.image;
  }

  emit(writer: ImageWriter): void {
    const image = this.image();
    writer.setSize(image.length);
    writer.write(0, image);
  }

  /** Work counters of the last link. */
  counters(): { atomsWritten: number; relocsApplied: number } {
    if (!this.last) throw new LinkError('link() has not run');
    return { ...this.last.counters };
  }
}
