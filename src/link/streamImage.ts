import { SecFlag, type Atom } from '../obj/model.js';
import { LinkError } from '../obj/LinkError.js';
import type { Piece } from '../formats/elf/writeElf.js';
import { BUILD_ID_CHUNK, chunkDigests } from './buildId.js';
import type { Layout } from './layout.js';
import { fillPattern } from './padding.js';
import type { OutputSection, SectionPlan } from './outputSections.js';

/**
 * A link that keeps no copy of its image (a command-line link without
 * --incremental) writes it a window at a time, in file order, through a
 * writer: its peak memory is then the inputs and the link's tables, not
 * also the whole image, and the image's pages are not faulted in one by one
 * (at 200k functions, 136 MB of them). Each window is filled as the whole
 * image would be (trap fill in code sections, the atoms copied and
 * relocated, then the pieces laid over: headers, tables, .eh_frame_hdr),
 * its build-id chunks hashed, and written.
 *
 * An atom that runs past its window is relocated on its own and its bytes
 * carried into the next windows as a piece. The windows rely on each
 * section's atoms being in file order, as a packed layout places them
 * (atomsInFileOrder); range-extension thunks, written after every branch
 * has chosen one, need the whole image: the pipeline keeps it then.
 */

/** Where an image goes: the session does no file I/O of its own. */
export interface ImageWriter {
  /** The image's final size; called before any write. */
  setSize(size: number): void;
  /** `bytes` is the writer's only while the call lasts (a streamed link fills it again). */
  write(offset: number, bytes: Uint8Array): void;
  /** Bytes a streamed link writes at a time: a multiple of 64 KiB (BUILD_ID_CHUNK); WINDOW unless given. */
  windowSize?: number;
}

/** Bytes per window: whole build-id chunks, so that each window's chunks are hashed as it is written. */
export const WINDOW = 64 * BUILD_ID_CHUNK;

export interface ImageParts {
  size: number;
  layout: Layout;
  plan: SectionPlan;
  trapFill: Uint8Array;
  /** Copies one atom to `base` in `into` and relocates it (writeAtom). */
  writeAtom(into: Uint8Array, base: number, addr: number, file: number, atom: Atom): void;
  /** Laid over the atoms, in this order. */
  pieces: Piece[];
  /** Sections whose bytes are among the pieces already. */
  written: ReadonlySet<OutputSection>;
  /** Whether to hash the image's chunks (for the build id). */
  digests: boolean;
}

/** Whether every section's atoms lie in file order (the windows take each section's atoms in turn). */
export function atomsInFileOrder(layout: Layout): boolean {
  for (const sec of layout.sections) {
    let last = -1;
    for (const ref of sec.atoms) {
      const addr = layout.atomAddr[ref.file][ref.atom];
      if (addr < last) return false;
      last = addr;
    }
  }
  return true;
}

/** Writes the image through `out`, a window at a time; returns the chunk digests (when asked for). */
export function streamImage(parts: ImageParts, out: ImageWriter): Uint8Array[] {
  const { size, layout, plan } = parts;
  const window = out.windowSize ?? WINDOW;
  if (!(window > 0 && window % BUILD_ID_CHUNK === 0)) throw new LinkError(`a stream's window size must be a multiple of ${BUILD_ID_CHUNK} bytes (it is ${window})`);
  out.setSize(size);
  const digests: Uint8Array[] = [];
  const buffer = new Uint8Array(Math.min(window, size));
  const sections = layout.sections.filter((s) => !parts.written.has(s));
  const next = new Array<number>(sections.length).fill(0);
  const code = sections.filter((s) => s.flags & SecFlag.Exec);
  // Atoms that ran past the window they start in, carried into the next ones.
  let carried: Piece[] = [];

  for (let start = 0; start < size; start += window) {
    const end = Math.min(size, start + window);
    const win = buffer.subarray(0, end - start);
    win.fill(0);
    // From the section's start or the window's: both are multiples of the pattern's length (a code
    // section is aligned to at least its instructions' size, a window to 64 KiB), so the pattern lines up.
    for (const sec of code) {
      const from = Math.max(sec.offset, start);
      const to = Math.min(sec.offset + sec.size, end);
      if (from < to) fillPattern(win, from - start, to - start, parts.trapFill);
    }
    sections.forEach((sec, s) => {
      const atoms = sec.atoms;
      let k = next[s];
      for (; k < atoms.length; k++) {
        const ref = atoms[k];
        const atom = plan.files[ref.file].atoms[ref.atom];
        const addr = layout.atomAddr[ref.file][ref.atom];
        const at = sec.offset + (addr - sec.addr);
        if (!atom.data) {
          parts.writeAtom(win, 0, addr, ref.file, atom); // counted; nothing to copy
          continue;
        }
        if (at >= end) break;
        if (at + atom.data.length <= end) {
          parts.writeAtom(win, at - start, addr, ref.file, atom);
        } else {
          const bytes = new Uint8Array(atom.data.length);
          parts.writeAtom(bytes, 0, addr, ref.file, atom);
          carried.push({ offset: at, bytes });
        }
      }
      next[s] = k;
    });
    for (const p of carried) layOver(win, start, p);
    for (const p of parts.pieces) layOver(win, start, p);
    carried = carried.filter((p) => p.offset + p.bytes.length > end);
    if (parts.digests) for (const d of chunkDigests(win)) digests.push(d);
    out.write(start, win);
  }
  return digests;
}

/** Copies the part of `p` that falls in the window at `start`. */
function layOver(win: Uint8Array, start: number, p: Piece): void {
  const from = Math.max(p.offset, start);
  const to = Math.min(p.offset + p.bytes.length, start + win.length);
  if (from < to) win.set(p.bytes.subarray(from - p.offset, to - p.offset), from - start);
}
