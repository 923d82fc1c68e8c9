import { dirname, isAbsolute, join } from 'node:path';
import { ByteReader, NAME_BUDGET_FACTOR, decodeName } from './ByteReader.js';
import { LinkError, hex } from './LinkError.js';
import type { Archive, ArchiveMember } from './model.js';

/**
 * The static archive (`ar`) reader.
 *
 * An archive is an 8-byte magic followed by members, each a 60-byte header
 * and its data, padded to an even offset:
 *
 *   name[16] date[12] uid[6] gid[6] mode[8] size[10] fmag[2] = "`\n"
 *
 * `size` is decimal ASCII. Three dialects share this frame:
 *
 * - GNU / System V: names end with `/`. Special members: `/` (symbol index:
 *   u32 BE count, count u32 BE header offsets, count NUL-terminated names),
 *   `/SYM64/` (the same with u64 count and offsets) and `//` (the long-name
 *   table: entries terminated by `/\n`, referenced from a header as `/123`,
 *   the decimal offset of the entry in the table).
 * - BSD: a name `#1/NN` means the real name is the first NN bytes of the
 *   member data (NUL-padded); the member's contents follow it. The symbol
 *   index is the first member, named `__.SYMDEF` or `__.SYMDEF SORTED`:
 *   u32 LE byte size of the ranlib array, (strx u32, header offset u32)
 *   pairs, u32 LE string-table size, the strings. `__.SYMDEF_64` uses u64
 *   fields throughout.
 * - Thin (`!<thin>\n`, GNU naming): the special members carry their data, but
 *   a regular member's data is not in the archive; its name is a path relative
 *   to the archive's directory, and the next header follows its header
 *   directly.
 *
 * The reader never trusts a count or a size: every loop is bounded by the
 * input, every size is checked against the file before anything is sliced or
 * allocated, and every problem becomes a LinkError naming the archive and the
 * byte offset. It does no file I/O; thin members are fetched through the
 * caller's `readThinMember`.
 */

const MAGIC = '!<arch>\n';
const THIN_MAGIC = '!<thin>\n';
const MAGIC_SIZE = 8;
const HEADER_SIZE = 60;

const BSD_SYMDEF_32 = new Set(['__.SYMDEF', '__.SYMDEF SORTED']);
const BSD_SYMDEF_64 = new Set(['__.SYMDEF_64', '__.SYMDEF_64 SORTED']);

function hasMagic(bytes: Uint8Array, magic: string): boolean {
  if (bytes.length < MAGIC_SIZE) return false;
  for (let i = 0; i < MAGIC_SIZE; i++) if (bytes[i] !== magic.charCodeAt(i)) return false;
  return true;
}

/** True for regular (`!<arch>\n`) and thin (`!<thin>\n`) archives. */
export function isArchive(bytes: Uint8Array): boolean {
  return hasMagic(bytes, MAGIC) || hasMagic(bytes, THIN_MAGIC);
}

/** A thin archive (its members are files named in it). */
export function isThinArchive(bytes: Uint8Array): boolean {
  return hasMagic(bytes, THIN_MAGIC);
}

/** Renders raw header bytes for a message: printable ASCII kept, the rest escaped. */
function printable(bytes: Uint8Array, start: number, end: number): string {
  let s = '';
  for (let i = start; i < end; i++) {
    const c = bytes[i];
    s += c >= 0x20 && c < 0x7f && c !== 0x27 ? String.fromCharCode(c) : '\\x' + c.toString(16).padStart(2, '0');
  }
  return s;
}

type SymtabKind = 'gnu32' | 'gnu64' | 'bsd32' | 'bsd64';

interface Symtab {
  kind: SymtabKind;
  /** Header offset of the index member. */
  offset: number;
  /** Its contents (after a BSD `#1/NN` name). */
  start: number;
  end: number;
}

/**
 * Reads an archive. `name` is used in messages and, for thin archives, to
 * resolve member paths: `readThinMember` receives the member's stored path
 * joined to the directory of `name` (absolute stored paths are passed as-is).
 */
export function readArchive(
  name: string,
  bytes: Uint8Array,
  readThinMember?: (path: string) => Uint8Array,
): Archive {
  const r = new ByteReader(bytes, name);
  const len = bytes.length;

  function malformed(what: string): never {
    throw new LinkError(`${name}: malformed archive: ${what}`);
  }
  function memberError(member: string, offset: number, what: string): never {
    throw new LinkError(`${name}: member '${member}' at offset ${hex(offset)}: ${what}`);
  }

  let thin: boolean;
  if (hasMagic(bytes, MAGIC)) thin = false;
  else if (hasMagic(bytes, THIN_MAGIC)) thin = true;
  else if (len < MAGIC_SIZE && (MAGIC.startsWith(printable(bytes, 0, len)) || THIN_MAGIC.startsWith(printable(bytes, 0, len)))) {
    return malformed(`truncated magic at offset ${hex(0)} (${len} of ${MAGIC_SIZE} bytes)`);
  } else {
    return malformed(`bad magic '${printable(bytes, 0, Math.min(len, MAGIC_SIZE))}' at offset ${hex(0)}`);
  }

  const members: ArchiveMember[] = [];
  /** Header offset -> index in `members`, for translating the symbol index. */
  const byOffset = new Map<number, number>();
  let symtab: Symtab | null = null;
  /** The `//` member's contents, as [start, end) in `bytes`. */
  let longNames: { start: number; end: number } | null = null;
  let firstMember = true;
  /** Bytes of names still to decode: name-table entries may overlap (see ByteReader.cstring). */
  let nameBudget = NAME_BUDGET_FACTOR * len + 4096;

  let off = MAGIC_SIZE;
  // Every iteration advances `off` by at least HEADER_SIZE, so the loop runs
  // at most len / 60 times whatever the headers say.
  while (off < len) {
    const hdr = off;
    if (len - hdr < HEADER_SIZE) {
      malformed(`member header at offset ${hex(hdr)} is truncated (${len - hdr} of ${HEADER_SIZE} bytes)`);
    }
    if (bytes[hdr + 58] !== 0x60 || bytes[hdr + 59] !== 0x0a) {
      malformed(`member header at offset ${hex(hdr)} has bad terminator '${printable(bytes, hdr + 58, hdr + 60)}'`);
    }
    const size = parseSize(bytes, hdr + 48, hdr + 58);
    if (size < 0) {
      malformed(`member header at offset ${hex(hdr)} has a non-decimal size field '${printable(bytes, hdr + 48, hdr + 58).trim()}'`);
    }
    const dataStart = hdr + HEADER_SIZE;

    // The raw name, without the space padding.
    let nameEnd = hdr + 16;
    while (nameEnd > hdr && bytes[nameEnd - 1] === 0x20) nameEnd--;
    const rawName = decodeName(bytes, hdr, nameEnd);

    const isFirst = firstMember;
    firstMember = false;

    // Special GNU members: always stored in the archive, even a thin one.
    if (rawName === '/' || rawName === '/SYM64/' || rawName === '//' || /^\/<[^>]*>\/$/.test(rawName)) {
      if (size > len - dataStart) {
        memberError(rawName, hdr, `size ${size} extends past the end of the file (${len - dataStart} bytes left)`);
      }
      if (rawName === '//') {
        if (longNames) malformed(`second long-name table at offset ${hex(hdr)}`);
        longNames = { start: dataStart, end: dataStart + size };
      } else if (rawName === '/' || rawName === '/SYM64/') {
        // A later `/` is the Microsoft "second linker member"; the first index
        // is enough.
        if (!symtab) symtab = { kind: rawName === '/' ? 'gnu32' : 'gnu64', offset: hdr, start: dataStart, end: dataStart + size };
      }
      // `/<ECSYMBOLS>/` and the like: other tools' metadata, skipped.
      off = dataStart + size + (size & 1);
      continue;
    }

    // Resolve the member's name and where its contents start.
    let memberName: string;
    let contentStart = dataStart;
    const bsd = /^#1\/(\d+)$/.exec(rawName);
    const longRef = /^\/(\d+)$/.exec(rawName);
    if (bsd) {
      if (size > len - dataStart) {
        memberError(rawName, hdr, `size ${size} extends past the end of the file (${len - dataStart} bytes left)`);
      }
      const nameLen = Number(bsd[1]);
      if (nameLen > size) {
        malformed(`member header at offset ${hex(hdr)}: BSD name length ${nameLen} exceeds the member size ${size}`);
      }
      let e = dataStart + nameLen;
      while (e > dataStart && bytes[e - 1] === 0) e--;
      memberName = decodeName(bytes, dataStart, e);
      contentStart = dataStart + nameLen;
    } else if (longRef) {
      memberName = resolveLongName(Number(longRef[1]), hdr);
    } else {
      memberName = rawName.length > 1 && rawName.endsWith('/') ? rawName.slice(0, -1) : rawName;
    }
    if (memberName.length === 0) malformed(`member header at offset ${hex(hdr)} has an empty name`);

    // The BSD symbol index is the first member.
    if (isFirst && !thin && (BSD_SYMDEF_32.has(memberName) || BSD_SYMDEF_64.has(memberName))) {
      if (size > len - dataStart) {
        memberError(memberName, hdr, `size ${size} extends past the end of the file (${len - dataStart} bytes left)`);
      }
      symtab = { kind: BSD_SYMDEF_32.has(memberName) ? 'bsd32' : 'bsd64', offset: hdr, start: contentStart, end: dataStart + size };
      off = dataStart + size + (size & 1);
      continue;
    }

    let data: Uint8Array;
    if (thin) {
      // The data lives in a file next to the archive.
      if (!readThinMember) {
        memberError(memberName, hdr, `thin archives need file access: the member's data is in '${thinPath(memberName)}', not in the archive`);
      }
      const path = thinPath(memberName);
      try {
        data = readThinMember(path);
      } catch (e) {
        // Even the caller's own LinkError: the message must say which archive and member wanted the file.
        return memberError(memberName, hdr, `cannot read thin archive member '${path}': ${e instanceof Error ? e.message : String(e)}`);
      }
      if (data.length !== size) {
        memberError(memberName, hdr, `'${path}' is ${data.length} bytes but the archive records ${size}; the archive is out of date`);
      }
      off = dataStart;
    } else {
      if (size > len - dataStart) {
        memberError(memberName, hdr, `size ${size} extends past the end of the file (${len - dataStart} bytes left)`);
      }
      data = r.slice(contentStart, dataStart + size - contentStart, `member '${memberName}'`);
      // A padding byte follows odd-sized members; a missing final pad is tolerated.
      off = dataStart + size + (size & 1);
    }
    byOffset.set(hdr, members.length);
    members.push({ name: memberName, offset: hdr, bytes: data });
  }

  const index = symtab ? readIndex(symtab) : null;
  return { name, members, index, thin };

  function thinPath(stored: string): string {
    return isAbsolute(stored) ? stored : join(dirname(name), stored);
  }

  function resolveLongName(at: number, hdr: number): string {
    if (!longNames) {
      return malformed(`member header at offset ${hex(hdr)} refers to long name /${at} but no long-name table precedes it`);
    }
    const { start, end } = longNames;
    if (at >= end - start) {
      return malformed(`member header at offset ${hex(hdr)} refers to long name at offset ${at} of the long-name table, past its end (${end - start} bytes)`);
    }
    // Entries end with "/\n" (GNU) or NUL (Microsoft).
    const limit = Math.min(end, start + at + nameBudget);
    let e = start + at;
    while (e < limit && bytes[e] !== 0x0a && bytes[e] !== 0) e++;
    if (e >= end) {
      return malformed(`long name at offset ${at} of the long-name table (referenced by the member header at offset ${hex(hdr)}) is not terminated`);
    }
    if (e >= limit) nameBudgetExceeded(start + at);
    nameBudget -= e - (start + at) + 1;
    if (e > start + at && bytes[e - 1] === 0x2f) e--;
    return decodeName(bytes, start + at, e);
  }

  /** Parses the symbol index and translates header offsets to member indices. */
  function readIndex(t: Symtab): Map<string, number[]> {
    const index = new Map<string, number[]>();
    const where = `symbol index at offset ${hex(t.offset)}`;
    const add = (sym: string, memberOffset: number) => {
      const m = byOffset.get(memberOffset);
      if (m === undefined) {
        malformed(`${where}: entry for '${sym}' points to offset ${hex(memberOffset)}, which is not a member header`);
      }
      const list = index.get(sym);
      if (!list) index.set(sym, [m]);
      else if (list.length < 16 ? !list.includes(m) : !memberSet(sym, list).has(m)) {
        list.push(m);
        bigLists.get(sym)?.add(m);
      }
    };
    // A name that many members define: a set, so an index naming one symbol a million times stays linear.
    const bigLists = new Map<string, Set<number>>();
    const memberSet = (sym: string, list: number[]): Set<number> => {
      let set = bigLists.get(sym);
      if (!set) bigLists.set(sym, (set = new Set(list)));
      return set;
    };
    const size = t.end - t.start;

    if (t.kind === 'gnu32' || t.kind === 'gnu64') {
      const w = t.kind === 'gnu32' ? 4 : 8;
      if (size < w) malformed(`${where} is too small (${size} bytes) to hold its entry count`);
      const count = readBE(t.start, w, where);
      if (count > Math.floor((size - w) / w)) {
        malformed(`${where} claims ${count} symbols, but its ${size} bytes have room for at most ${Math.floor((size - w) / w)}`);
      }
      let p = t.start + w + count * w;
      for (let i = 0; i < count; i++) {
        const e = findNul(p, t.end);
        if (e < 0) malformed(`${where}: the name of symbol ${i} of ${count} at offset ${hex(p)} runs past the end of the index`);
        add(decodeName(bytes, p, e), readBE(t.start + w + i * w, w, where));
        p = e + 1;
      }
      return index;
    }

    // BSD: ranlib array size, (strx, offset) pairs, string-table size, strings.
    const w = t.kind === 'bsd32' ? 4 : 8;
    const readLE = (at: number): number => (w === 4 ? r.u32(at) : r.u64(at, 'symbol index field'));
    if (size < 2 * w) malformed(`${where} is too small (${size} bytes)`);
    const ranlibSize = readLE(t.start);
    if (ranlibSize % (2 * w) !== 0 || ranlibSize > size - 2 * w) {
      malformed(`${where}: ranlib array size ${ranlibSize} is not a multiple of ${2 * w} or does not fit in the index (${size} bytes)`);
    }
    const strSizeAt = t.start + w + ranlibSize;
    const strSize = readLE(strSizeAt);
    const strStart = strSizeAt + w;
    if (strSize > t.end - strStart) {
      malformed(`${where}: string table size ${strSize} at offset ${hex(strSizeAt)} extends past the end of the index`);
    }
    const strEnd = strStart + strSize;
    const n = ranlibSize / (2 * w);
    for (let i = 0; i < n; i++) {
      const at = t.start + w + i * 2 * w;
      const strx = readLE(at);
      const memberOffset = readLE(at + w);
      if (strx >= strSize) {
        malformed(`${where}: entry ${i} at offset ${hex(at)} has name offset ${strx} past the string table (${strSize} bytes)`);
      }
      const e = findNul(strStart + strx, strEnd);
      if (e < 0) malformed(`${where}: the name of entry ${i} at offset ${hex(strStart + strx)} is not terminated`);
      add(decodeName(bytes, strStart + strx, e), memberOffset);
    }
    return index;
  }

  function readBE(at: number, w: number, where: string): number {
    r.need(at, w, 'symbol index field');
    if (w === 4) return r.view.getUint32(at, false);
    const hi = r.view.getUint32(at, false);
    const lo = r.view.getUint32(at + 4, false);
    if (hi >= 0x200000) malformed(`${where}: 64-bit field at offset ${hex(at)} is too large`);
    return hi * 0x100000000 + lo;
  }

  function findNul(start: number, end: number): number {
    const limit = Math.min(end, start + nameBudget);
    for (let i = start; i < limit; i++) {
      if (bytes[i] === 0) {
        nameBudget -= i - start + 1;
        return i;
      }
    }
    if (limit < end) nameBudgetExceeded(start);
    return -1;
  }

  function nameBudgetExceeded(at: number): never {
    return malformed(`the names at offset ${hex(at)} and before add up to more than ${NAME_BUDGET_FACTOR} times the archive's size (entries of its name tables overlap)`);
  }
}

/** Parses a space-padded decimal field; -1 if it is not one. */
function parseSize(bytes: Uint8Array, start: number, end: number): number {
  let i = start;
  while (i < end && bytes[i] === 0x20) i++;
  let n = 0;
  let digits = 0;
  for (; i < end; i++) {
    const c = bytes[i];
    if (c < 0x30 || c > 0x39) break;
    n = n * 10 + (c - 0x30);
    digits++;
  }
  for (; i < end; i++) if (bytes[i] !== 0x20) return -1;
  return digits > 0 ? n : -1;
}
