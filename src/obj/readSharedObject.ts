import { ByteReader } from './ByteReader.js';
import { hex } from './LinkError.js';
import {
  ELFCLASS64, ELFDATA2LSB, ELFMAG, ET, PHDR_SIZE, PT, SHDR_SIZE, SHN, SHT, STB, SYM_SIZE,
  DT, SHT_GNU_verdef, PN_XNUM, DYN_SIZE, VERDEF_SIZE, VERDAUX_SIZE, VER_DEF_CURRENT, VER_FLG_BASE, VER_NDX_LOCAL, VER_NDX_GLOBAL, VERSYM_HIDDEN,
} from './elfConstants.js';
import { SymBinding, type SharedObject, type SharedSymbol, type SymType } from './model.js';
import { elfMachineToArch, isElf } from './readElf.js';

/**
 * Reads an ELF64 little-endian shared library (ET_DYN, x86-64 or AArch64) as
 * a link input: its soname, its DT_NEEDED list, its version definitions, the
 * dynamic symbols it exports (with their versions) and the ones it expects
 * from elsewhere.
 *
 * Two routes lead to the same tables:
 *
 * - through the section headers, when there are any: SHT_DYNSYM and its
 *   string table (sh_link), SHT_GNU_versym (.gnu.version), SHT_GNU_verdef
 *   (.gnu.version_d, sh_info entries) and SHT_DYNAMIC;
 * - through the program headers, when the section headers are stripped (they
 *   are optional in an executable file): PT_DYNAMIC's DT_SYMTAB, DT_STRTAB,
 *   DT_STRSZ, DT_VERSYM, DT_VERDEF and DT_VERDEFNUM, addresses translated to
 *   file offsets through the PT_LOAD segments. The dynamic symbol table has
 *   no size there: DT_HASH's nchain gives it, or else DT_GNU_HASH does (the
 *   highest symbol index in a bucket, followed along its chain to the entry
 *   with the end bit).
 *
 * Versions: entry i of .gnu.version belongs to dynamic symbol i. Its low 15
 * bits are 0 (VER_NDX_LOCAL: not exported), 1 (VER_NDX_GLOBAL: unversioned)
 * or the vd_ndx of a version definition; bit 15 (VERSYM_HIDDEN) marks a
 * non-default version, `name@VER`, which a plain reference to `name` does not
 * bind to. A version definition's name is its first Verdaux entry; the others
 * name its parents, which linking does not need.
 *
 * As in readElf.ts, nothing is trusted: every table is checked against the
 * file (and, on the program-header route, against the segment it lies in)
 * before it is read, every loop is bounded by the bytes it walks, and every
 * malformed input is a LinkError naming the file and the offset.
 */

/** A byte range [off, end) of the file holding one table. */
interface Region {
  off: number;
  end: number;
}

/** Where the tables are, whichever route found them. */
interface Tables {
  /** The dynamic symbol table and its entry count (entry 0 is the null symbol). */
  symtab: Region;
  count: number;
  /** Offset of the header field or dynamic entry the count came from, for messages. */
  countAt: number;
  /** The symbols' string table. */
  symStr: Region;
  /** File offset of .gnu.version (count u16 entries), or -1 when the library has none. */
  versym: number;
  verdef: { region: Region; count: number; str: Region; at: number } | null;
  /** The dynamic section and its string table, or null (a section-route file without SHT_DYNAMIC). */
  dynamic: { region: Region; str: Region } | null;
}

interface SectionHeader {
  index: number;
  type: number;
  offset: number;
  size: number;
  link: number;
  info: number;
  entSize: number;
  /** Offset of this header in the file, for messages. */
  at: number;
}

/** Does `bytes` look like an ELF shared object (e_type ET_DYN), of any class or byte order? */
export function isSharedObject(bytes: Uint8Array): boolean {
  if (!isElf(bytes) || bytes.length < 0x12) return false;
  // Read e_type in the file's own byte order, so that a 32-bit or big-endian library still
  // reaches readSharedObject and is rejected there with a precise message.
  const type = bytes[5] === 2 ? (bytes[0x10] << 8) | bytes[0x11] : bytes[0x10] | (bytes[0x11] << 8);
  return type === ET.DYN;
}

export function readSharedObject(name: string, bytes: Uint8Array): SharedObject {
  const r: ByteReader = new ByteReader(bytes, name);
  if (bytes.length < 64) r.fail(0, `file is too small to be an ELF shared object (${bytes.length} bytes, the ELF header alone is 64)`);
  if (r.u32(0) !== ELFMAG) r.fail(0, 'not an ELF file (bad magic)');
  if (bytes[4] !== ELFCLASS64) r.fail(4, `unsupported ELF class ${bytes[4]}: only 64-bit shared objects are supported`);
  if (bytes[5] !== ELFDATA2LSB) r.fail(5, `unsupported ELF data encoding ${bytes[5]}: only little-endian shared objects are supported`);
  const type = r.u16(0x10);
  if (type !== ET.DYN) r.fail(0x10, `not a shared object (e_type ${type}, expected ${ET.DYN} ET_DYN)`);
  const machine = r.u16(0x12);
  const arch = elfMachineToArch(machine);
  if (!arch) r.fail(0x12, `unknown machine type ${machine} (e_machine): tslink links x86-64 (62) and AArch64 (183)`);

  const t = tablesFromSections(r) ?? tablesFromProgramHeaders(r);

  // The dynamic section: soname and needed libraries.
  let soname: string | null = null;
  const needed: string[] = [];
  if (t.dynamic) {
    const { region, str } = t.dynamic;
    for (let at = region.off; at + DYN_SIZE <= region.end; at += DYN_SIZE) {
      const tag = dynTag(r, at);
      if (tag === DT.NULL) break;
      if (tag === DT.NEEDED) needed.push(stringAt(r, str, r.u64(at + 8, 'DT_NEEDED'), at + 8, 'DT_NEEDED name'));
      else if (tag === DT.SONAME && soname === null) soname = stringAt(r, str, r.u64(at + 8, 'DT_SONAME'), at + 8, 'DT_SONAME name');
    }
  }

  // Version definitions: vd_ndx -> name.
  const versionByIndex = new Map<number, string>();
  const versions: string[] = [];
  if (t.verdef) {
    let base = -1;
    const { region, count, str } = t.verdef;
    let at = region.off;
    for (let i = 0; i < count; i++) {
      if (at + VERDEF_SIZE > region.end) {
        r.fail(at, `version definition ${i} of ${count} (${VERDEF_SIZE} bytes) extends past the end of its table (${hex(region.end)})`);
      }
      const version = r.u16(at);
      if (version !== VER_DEF_CURRENT) r.fail(at, `version definition ${i} has revision ${version}, expected ${VER_DEF_CURRENT}`);
      const flags = r.u16(at + 2);
      const ndx = r.u16(at + 4);
      const cnt = r.u16(at + 6);
      const aux = r.u32(at + 12);
      const next = r.u32(at + 16);
      if (cnt === 0) r.fail(at + 6, `version definition ${i} (index ${ndx}) has no name (vd_cnt is 0)`);
      const auxAt = at + aux;
      if (auxAt + VERDAUX_SIZE > region.end) r.fail(at + 12, `version definition ${i}'s name entry (vd_aux ${hex(aux)}) lies past the end of its table`);
      const vname = stringAt(r, str, r.u32(auxAt), auxAt, `name of version definition ${i}`);
      if (versionByIndex.has(ndx)) r.fail(at + 4, `version index ${ndx} is defined twice ('${versionByIndex.get(ndx)}' and '${vname}')`);
      versionByIndex.set(ndx, vname);
      if (flags & VER_FLG_BASE && base < 0) base = versions.length;
      versions.push(vname);
      if (i === count - 1) break;
      // Entries follow one another: a vd_next that does not move past this entry would revisit
      // it (0 is the end of the chain, and in 32-bit address arithmetic a huge value points back).
      if (next < VERDEF_SIZE) {
        r.fail(at + 16, `version definition chain ends or loops after ${i + 1} of ${count} entries (vd_next ${hex(next)} does not move past the entry)`);
      }
      if (at + next >= region.end) {
        r.fail(at + 16, next >= 0x80000000
          ? `version definition chain loops (vd_next ${hex(next)} points back)`
          : `version definition ${i}'s vd_next ${hex(next)} points past the end of its table (${count} entries expected)`);
      }
      at += next;
    }
    if (base > 0) versions.unshift(...versions.splice(base, 1));
  }

  // The dynamic symbols. Entry 0 is the null symbol.
  const symbols: SharedSymbol[] = [];
  const undefinedSymbols: string[] = [];
  for (let i = 1; i < t.count; i++) {
    const at = t.symtab.off + i * SYM_SIZE;
    const nameOff = r.u32(at);
    const info = r.u8(at + 4);
    const shndx = r.u16(at + 6);
    const bind = info >> 4;
    // Every name is checked, also those of entries this reader then has no use for.
    const symName = stringAt(r, t.symStr, nameOff, at, `name of dynamic symbol ${i}`);
    let binding: SymBinding;
    if (bind === STB.LOCAL) binding = SymBinding.Local;
    else if (bind === STB.GLOBAL || bind === STB.GNU_UNIQUE) binding = SymBinding.Global;
    else if (bind === STB.WEAK) binding = SymBinding.Weak;
    else r.fail(at + 4, `dynamic symbol ${i} has unknown binding ${bind}`);
    // Local entries (older GNU ld leaves section symbols in .dynsym) are not exports.
    if (binding === SymBinding.Local) continue;
    if (shndx === SHN.UNDEF) {
      // A weak reference that nothing defines is not an error, so only strong ones are kept.
      if (binding === SymBinding.Global) undefinedSymbols.push(symName);
      continue;
    }
    let version: string | null = null;
    let isDefault = true;
    if (t.versym >= 0) {
      const vat = t.versym + i * 2;
      const v = r.u16(vat);
      const idx = v & ~VERSYM_HIDDEN;
      if (idx === VER_NDX_LOCAL) continue; // defined but not exported
      isDefault = (v & VERSYM_HIDDEN) === 0;
      if (idx !== VER_NDX_GLOBAL) {
        const vname = versionByIndex.get(idx);
        if (vname === undefined) r.fail(vat, `dynamic symbol ${i} '${symName}' has version index ${idx}, which no version definition has`);
        version = vname;
      }
    }
    symbols.push({
      name: symName,
      version,
      isDefault,
      binding,
      type: (info & 0xf) as SymType,
      size: r.u64(at + 16, 'symbol size'),
      value: r.u64(at + 8, 'symbol value'),
    });
  }

  return {
    name,
    format: 'elf',
    arch,
    soname: soname ?? name.slice(name.lastIndexOf('/') + 1),
    needed,
    symbols,
    undefinedSymbols,
    versions,
  };
}

/** The string at `strOff` in `table`; `at` is the field that holds the offset, for messages. */
function stringAt(r: ByteReader, table: Region, strOff: number, at: number, what: string): string {
  if (strOff >= table.end - table.off) {
    r.fail(at, `${what}: string offset ${hex(strOff)} is past the end of its string table (${table.end - table.off} bytes)`);
  }
  return r.cstring(table.off + strOff, table.end, what);
}

/** A dynamic entry's tag; tags that do not fit 32 bits are no tag this reader knows (-1). */
function dynTag(r: ByteReader, at: number): number {
  const lo = r.u32(at);
  const hi = r.u32(at + 4);
  return hi === 0 ? lo : -1;
}

// ---------------------------------------------------------------------------
// The section-header route.

function readSectionHeaders(r: ByteReader): SectionHeader[] {
  const shoff = r.u64(0x28, 'e_shoff');
  if (shoff === 0) return [];
  const shentsize = r.u16(0x3a);
  let shnum = r.u16(0x3c);
  if (shentsize !== SHDR_SIZE) r.fail(0x3a, `section header size ${shentsize} is not ${SHDR_SIZE}`);
  r.need(shoff, SHDR_SIZE, 'section header table');
  // Extended numbering: a count that does not fit lives in section 0's header.
  if (shnum === 0) shnum = r.u64(shoff + 0x20, 'section count');
  r.need(shoff, shnum * SHDR_SIZE, `section header table (${shnum} entries)`);
  const headers: SectionHeader[] = new Array(shnum);
  for (let i = 0; i < shnum; i++) {
    const at = shoff + i * SHDR_SIZE;
    headers[i] = {
      index: i,
      type: r.u32(at + 4),
      offset: r.u64(at + 0x18, 'section offset'),
      size: r.u64(at + 0x20, 'section size'),
      link: r.u32(at + 0x28),
      info: r.u32(at + 0x2c),
      entSize: r.u64(at + 0x38, 'section entry size'),
      at,
    };
  }
  return headers;
}

/** The tables through the section headers; null when there are none, or no SHT_DYNSYM among them. */
function tablesFromSections(r: ByteReader): Tables | null {
  const headers = readSectionHeaders(r);
  const only = (type: number, what: string): SectionHeader | null => {
    let found: SectionHeader | null = null;
    for (let i = 1; i < headers.length; i++) {
      if (headers[i].type !== type) continue;
      if (found) r.fail(headers[i].at, `more than one ${what} section (sections ${found.index} and ${i})`);
      found = headers[i];
    }
    return found;
  };
  const region = (sh: SectionHeader, what: string): Region => {
    r.need(sh.offset, sh.size, `${what} (section ${sh.index})`);
    return { off: sh.offset, end: sh.offset + sh.size };
  };
  const strings = (sh: SectionHeader, what: string): Region => {
    if (sh.link === 0 || sh.link >= headers.length || headers[sh.link].type !== SHT.STRTAB) {
      r.fail(sh.at + 0x28, `${what} (section ${sh.index}) links to section ${sh.link}, which is not a string table`);
    }
    return region(headers[sh.link], `string table of ${what}`);
  };

  const dynsym = only(SHT.DYNSYM, 'dynamic symbol table');
  if (!dynsym) return null;
  if (dynsym.entSize !== SYM_SIZE) r.fail(dynsym.at + 0x38, `dynamic symbol table entry size ${dynsym.entSize}, expected ${SYM_SIZE}`);
  const symtab = region(dynsym, 'dynamic symbol table');
  const count = Math.floor(dynsym.size / SYM_SIZE);

  let versym = -1;
  const vs = only(SHT.GNU_VERSYM, 'symbol version (.gnu.version)');
  if (vs) {
    if (vs.size < count * 2) r.fail(vs.at + 0x20, `symbol version table (section ${vs.index}) has ${Math.floor(vs.size / 2)} entries for ${count} dynamic symbols`);
    versym = region(vs, 'symbol version table').off;
  }

  let verdef: Tables['verdef'] = null;
  const vd = only(SHT_GNU_verdef, 'version definition (.gnu.version_d)');
  if (vd) verdef = { region: region(vd, 'version definition table'), count: vd.info, str: strings(vd, 'version definition table'), at: vd.at };

  let dynamic: Tables['dynamic'] = null;
  const dyn = only(SHT.DYNAMIC, 'dynamic');
  if (dyn) dynamic = { region: region(dyn, 'dynamic section'), str: strings(dyn, 'dynamic section') };

  return { symtab, count, countAt: dynsym.at + 0x20, symStr: strings(dynsym, 'dynamic symbol table'), versym, verdef, dynamic };
}

// ---------------------------------------------------------------------------
// The program-header route.

interface Load {
  vaddr: number;
  offset: number;
  filesz: number;
}

/** The value of one dynamic entry, and where it is. */
interface DynEntry {
  value: number;
  at: number;
}

function tablesFromProgramHeaders(r: ByteReader): Tables {
  const phoff = r.u64(0x20, 'e_phoff');
  const phentsize = r.u16(0x36);
  let phnum = r.u16(0x38);
  if (phoff === 0 || phnum === 0) r.fail(0x20, 'no section headers and no program headers: cannot find the dynamic symbol table');
  if (phentsize !== PHDR_SIZE) r.fail(0x36, `program header size ${phentsize} is not ${PHDR_SIZE}`);
  if (phnum === PN_XNUM) {
    const shoff = r.u64(0x28, 'e_shoff');
    if (shoff === 0) r.fail(0x38, 'e_phnum is PN_XNUM but there is no section 0 to hold the count');
    phnum = r.u32(shoff + 0x2c);
  }
  r.need(phoff, phnum * PHDR_SIZE, `program header table (${phnum} entries)`);

  const loads: Load[] = [];
  let dynamic: Region | null = null;
  let dynamicAt = 0;
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * PHDR_SIZE;
    const type = r.u32(at);
    if (type !== PT.LOAD && type !== PT.DYNAMIC) continue;
    const offset = r.u64(at + 8, 'segment offset');
    const vaddr = r.u64(at + 0x10, 'segment address');
    const filesz = r.u64(at + 0x20, 'segment file size');
    if (type === PT.LOAD) {
      loads.push({ vaddr, offset, filesz });
    } else {
      if (dynamic) r.fail(at, 'more than one PT_DYNAMIC segment');
      r.need(offset, filesz, 'PT_DYNAMIC segment');
      dynamic = { off: offset, end: offset + filesz };
      dynamicAt = at;
    }
  }
  if (!dynamic) r.fail(phoff, 'a shared object without section headers has no PT_DYNAMIC segment: cannot find the dynamic symbol table');

  /**
   * The file offset of address `vaddr`, which with the `size` bytes after it must lie in the file
   * contents of one PT_LOAD; also the end of those contents, the furthest a table there can reach.
   * `at` is the field that holds the address, for messages.
   */
  const map = (vaddr: number, size: number, at: number, what: string): Region => {
    for (const l of loads) {
      if (vaddr < l.vaddr || vaddr + size > l.vaddr + l.filesz) continue;
      const off = l.offset + (vaddr - l.vaddr);
      r.need(off, size, what);
      return { off, end: Math.min(l.offset + l.filesz, r.length) };
    }
    return r.fail(at, `${what} at address ${hex(vaddr)} (${size} bytes) is not inside the file contents of any PT_LOAD segment`);
  };

  // One pass over the dynamic entries; the first of each tag wins (DT_NEEDED is read later).
  const tags = new Map<number, DynEntry>();
  for (let at = dynamic.off; at + DYN_SIZE <= dynamic.end; at += DYN_SIZE) {
    const tag = dynTag(r, at);
    if (tag === DT.NULL) break;
    switch (tag) {
      case DT.HASH: case DT.STRTAB: case DT.SYMTAB: case DT.STRSZ: case DT.SYMENT:
      case DT.GNU_HASH: case DT.VERSYM: case DT.VERDEF: case DT.VERDEFNUM:
        if (!tags.has(tag)) tags.set(tag, { value: r.u64(at + 8, 'dynamic entry value'), at: at + 8 });
    }
  }
  const required = (tag: DT, what: string): DynEntry => {
    const e = tags.get(tag);
    if (!e) r.fail(dynamicAt, `the dynamic section has no ${what}`);
    return e;
  };

  const strtab = required(DT.STRTAB, 'DT_STRTAB');
  const strsz = required(DT.STRSZ, 'DT_STRSZ');
  const str = map(strtab.value, strsz.value, strtab.at, `dynamic string table (DT_STRTAB, DT_STRSZ ${strsz.value})`);
  const symStr: Region = { off: str.off, end: str.off + strsz.value };

  const syment = tags.get(DT.SYMENT);
  if (syment && syment.value !== SYM_SIZE) r.fail(syment.at, `DT_SYMENT is ${syment.value}, expected ${SYM_SIZE}`);
  const symtabAddr = required(DT.SYMTAB, 'DT_SYMTAB');

  let count: number;
  let countAt: number;
  let countFrom: string;
  const hash = tags.get(DT.HASH);
  const gnuHash = tags.get(DT.GNU_HASH);
  if (hash) {
    // Elf_Hash: nbucket, nchain (u32); nchain is the number of symbols.
    const h = map(hash.value, 8, hash.at, 'symbol hash table (DT_HASH)');
    count = r.u32(h.off + 4);
    countAt = h.off + 4;
    countFrom = 'DT_HASH';
  } else if (gnuHash) {
    ({ count, countAt } = gnuHashCount(r, map(gnuHash.value, 16, gnuHash.at, 'GNU symbol hash table (DT_GNU_HASH)')));
    countFrom = 'DT_GNU_HASH';
  } else {
    r.fail(dynamicAt, 'the dynamic section has neither DT_HASH nor DT_GNU_HASH: the number of dynamic symbols is unknown');
  }
  // The count is checked against the segment before anything is allocated or read for it.
  const sym = map(symtabAddr.value, count * SYM_SIZE, countAt,
    `dynamic symbol table (DT_SYMTAB, ${count} entries from ${countFrom})`);
  const symtab: Region = { off: sym.off, end: sym.off + count * SYM_SIZE };

  let versym = -1;
  const vs = tags.get(DT.VERSYM);
  if (vs) versym = map(vs.value, count * 2, vs.at, `symbol version table (DT_VERSYM, ${count} entries)`).off;

  let verdef: Tables['verdef'] = null;
  const vd = tags.get(DT.VERDEF);
  if (vd) {
    const num = required(DT.VERDEFNUM, 'DT_VERDEFNUM (DT_VERDEF needs it)');
    verdef = { region: map(vd.value, VERDEF_SIZE, vd.at, 'version definition table (DT_VERDEF)'), count: num.value, str: symStr, at: vd.at };
  }

  return { symtab, count, countAt, symStr, versym, verdef, dynamic: { region: dynamic, str: symStr } };
}

/**
 * The number of dynamic symbols according to a GNU hash table at `h`:
 *
 *   nbuckets, symoffset, bloom_size, bloom_shift (u32); bloom[bloom_size] (u64);
 *   buckets[nbuckets] (u32); chain[] (u32, one per symbol from symoffset)
 *
 * Symbols below symoffset are not hashed. A bucket holds the first symbol index of its chain, 0 if
 * empty; a chain entry's low bit ends the chain. The last symbol is the end of the chain that starts
 * at the highest bucket value.
 */
function gnuHashCount(r: ByteReader, h: Region): { count: number; countAt: number } {
  const nbuckets = r.u32(h.off);
  const symoffset = r.u32(h.off + 4);
  const bloomSize = r.u32(h.off + 8);
  const buckets = h.off + 16 + bloomSize * 8;
  const chains = buckets + nbuckets * 4;
  if (chains > h.end) {
    r.fail(h.off, `GNU hash table's bloom filter (${bloomSize} words) and buckets (${nbuckets}) extend past the end of its segment`);
  }
  let max = 0;
  let maxAt = h.off;
  for (let b = buckets; b < chains; b += 4) {
    const v = r.u32(b);
    if (v > max) {
      max = v;
      maxAt = b;
    }
  }
  if (max === 0) return { count: symoffset, countAt: h.off + 4 };
  if (max < symoffset) r.fail(maxAt, `GNU hash bucket starts at symbol ${max}, below the first hashed symbol ${symoffset}`);
  let c = chains + (max - symoffset) * 4;
  let last = max;
  for (;;) {
    if (c + 4 > h.end) r.fail(maxAt, `GNU hash chain from symbol ${max} runs past the end of its segment without an end marker`);
    if (r.u32(c) & 1) break;
    c += 4;
    last++;
  }
  return { count: last + 1, countAt: maxAt };
}
