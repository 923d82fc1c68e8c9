import { blake2b512 } from '../obj/blake2b.js';
import { atomContentId } from '../obj/contentId.js';
import type { ObjectFile } from '../obj/model.js';
import { GcKeep, fdeKeeps, forEachGcEdge, gcKeep } from '../link/gcSections.js';
import { atomKeys, sameBytes, type AtomRecord, type LinkState, type ObjectRecord } from './state.js';

/**
 * The incremental gate under --gc-sections: a patch is sound only if it
 * keeps exactly the sections a full link would. The rule (conservative,
 * sound):
 *
 *  - an atom that was live and changed must still refer to the same targets
 *    (global symbols by name, local ones by the section they are in), as the
 *    collection follows them (src/link/gcSections.ts): otherwise what is kept
 *    may change;
 *  - every atom of a changed object must be kept for the same intrinsic
 *    reasons (root or not, group, SHF_LINK_ORDER, code or not) and define
 *    the same global symbols;
 *  - an atom that was dead and changed stays dead, whatever it now refers
 *    to: its liveness depends only on what refers to it, and the two rules
 *    above keep that the same.
 *
 * Then the roots and every edge out of the live set are the same as before,
 * so the live set is too (the resolution is unchanged: the symbol-shape gate
 * runs first). A full link records per object two hashes (the intrinsic part
 * of every atom, the edges of its live atoms) in ObjectRecord.gc; the gate
 * recomputes them from the changed object with the previous live set.
 */

const encoder = new TextEncoder();

function hash(parts: unknown): Uint8Array {
  return blake2b512([encoder.encode(JSON.stringify(parts))]).slice(0, 32);
}

/**
 * The two hashes of an object's part in the collection, given which of its
 * atoms are live: what keeps each atom on its own, then what the live ones
 * refer to.
 */
export function gcSignature(file: ObjectFile, isLive: (atom: number) => boolean): Uint8Array {
  const keys = atomKeys(file);
  const defines: string[][] = file.atoms.map(() => []);
  for (let i = file.firstGlobal; i < file.symbols.length; i++) {
    const s = file.symbols[i];
    if (s.atom >= 0) defines[s.atom].push(s.name);
  }
  const traits: unknown[] = [];
  const edges: unknown[] = [];
  file.atoms.forEach((atom, a) => {
    const keep = gcKeep(atom);
    const group = atom.group >= 0 ? file.groups[atom.group].signature : null;
    const describes = atom.linkOrder !== undefined ? keys[atom.linkOrder] : null;
    traits.push([keys[a], keep, fdeKeeps(atom), group, describes, defines[a]]);
    // What a kept but unscanned atom (debug info) refers to is never kept on its account.
    if (!isLive(a) || keep === GcKeep.Unscanned) return;
    const out = new Set<string>();
    forEachGcEdge(file, atom, (k, fromFde) => {
      const sym = atom.relocs.sym(k);
      const s = file.symbols[sym];
      const target = sym >= file.firstGlobal ? `g:${s.name}` : s.atom >= 0 ? `s:${keys[s.atom]}` : null;
      if (target !== null) out.add(`${fromFde ? 'fde' : 'ref'} ${target}`);
    });
    edges.push([keys[a], [...out].sort()]);
  });
  const sig = new Uint8Array(64);
  sig.set(hash(traits), 0);
  sig.set(hash(edges), 32);
  return sig;
}

const wasLive = (r: AtomRecord): boolean => r.sec >= 0 || r.mergeIn !== undefined;

/** After a full link with --gc-sections: each object's signature, for the next link's gate. */
export function recordGcSignatures(state: LinkState, files: readonly ObjectFile[]): void {
  state.objects.forEach((o, f) => {
    o.gc = gcSignature(files[f], (a) => wasLive(o.atoms[a]));
  });
}

function gcWasOn(prior: LinkState): boolean {
  try {
    return (JSON.parse(prior.optionsKey) as { gcSections?: unknown }).gcSections === true;
  } catch {
    return false;
  }
}

/**
 * Why a patch of these changed objects could keep other sections than a
 * full link would, in words; null when it cannot (or without --gc-sections).
 */
export function gcLivenessChange(prior: LinkState, changed: ReadonlyArray<{ rec: ObjectRecord; file: ObjectFile }>): string | null {
  if (!gcWasOn(prior)) return null;
  for (const { rec, file } of changed) {
    if (rec.gc.length !== 64) return `with --gc-sections, the incremental state does not say what ${file.name} keeps alive`;
    const now = gcSignature(file, (a) => wasLive(rec.atoms[a]));
    if (!sameBytes(now.subarray(0, 32), rec.gc.subarray(0, 32))) {
      return `with --gc-sections, the sections of ${file.name} changed in what keeps them regardless of references `
        + '(retained, kept by name, in a group, describing another section) or in which global symbols they define, which can change what is kept';
    }
    if (sameBytes(now.subarray(32), rec.gc.subarray(32))) continue;
    // The edges changed: name the live sections whose contents changed (their relocations are part of their content).
    const names = file.atoms
      .filter((atom, a) => wasLive(rec.atoms[a]) && !sameBytes(atomContentId(file, atom), rec.atoms[a].id))
      .map((atom) => atom.name);
    const which = names.length === 0 ? 'the kept sections'
      : names.length === 1 ? names[0]
        : `one of ${names.slice(0, 3).join(', ')}${names.length > 3 ? ` (and ${names.length - 3} more)` : ''}`;
    return `with --gc-sections, the references of ${which} of ${file.name} changed, which can change what is kept`;
  }
  return null;
}
