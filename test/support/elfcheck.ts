/**
 * Structural checks of a linked ELF64 executable, independent of running it:
 *
 *  - symbols: every defined symbol `llvm-nm` prints has the same address in
 *    `llvm-readelf -s`, and every symbol defined in a section lies within
 *    that section (TLS symbols: within the PT_TLS segment);
 *  - segments: every PT_LOAD is readable and never both writable and
 *    executable, p_offset ≡ p_vaddr (mod p_align), p_filesz <= p_memsz,
 *    loadable segments do not overlap; executable sections sit in R+X
 *    segments, writable sections in RW segments, read-only data in
 *    non-writable segments; the entry point is in an executable segment;
 *  - elfy: the `elfy` package parses the file and sees the same entry point
 *    and the same section names (in order) as `llvm-readelf -h` / `-S`;
 *  - .rela.dyn in tslink's order: RELATIVE first, each group by place.
 *
 * Each check returns a list of problems (empty when the file is sane).
 */
import * as fs from 'node:fs';
import elfy from 'elfy';
import { tool } from './toolchain.js';

export const PT_LOAD = 1;
export const PT_TLS = 7;
export const PF_X = 1;
export const PF_W = 2;
export const PF_R = 4;
export const SHT_NOBITS = 8;
export const SHF_WRITE = 0x1;
export const SHF_ALLOC = 0x2;
export const SHF_EXECINSTR = 0x4;
export const SHF_TLS = 0x400;

export interface Phdr {
  type: number;
  flags: number;
  offset: number;
  vaddr: number;
  filesz: number;
  memsz: number;
  align: number;
}

export interface Shdr {
  index: number;
  name: string;
  type: number;
  flags: number;
  addr: number;
  offset: number;
  size: number;
}

export interface Elf64 {
  type: number;
  machine: number;
  entry: number;
  phdrs: Phdr[];
  shdrs: Shdr[];
}

function u64(b: Buffer, off: number): number {
  const v = b.readBigUInt64LE(off);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`64-bit value 0x${v.toString(16)} too large`);
  return Number(v);
}

/** A minimal little-endian ELF64 header / program header / section header reader. */
export function readElf64(buf: Buffer): Elf64 {
  if (buf.length < 64 || buf.readUInt32BE(0) !== 0x7f454c46) throw new Error('not an ELF file');
  if (buf[4] !== 2 || buf[5] !== 1) throw new Error('not a little-endian ELF64 file');
  const type = buf.readUInt16LE(16);
  const machine = buf.readUInt16LE(18);
  const entry = u64(buf, 24);
  const phoff = u64(buf, 32);
  const shoff = u64(buf, 40);
  const phentsize = buf.readUInt16LE(54);
  const phnum = buf.readUInt16LE(56);
  const shentsize = buf.readUInt16LE(58);
  const shnum = buf.readUInt16LE(60);
  const shstrndx = buf.readUInt16LE(62);
  const phdrs: Phdr[] = [];
  for (let i = 0; i < phnum; i++) {
    const o = phoff + i * phentsize;
    if (o + 56 > buf.length) throw new Error(`program header ${i} beyond end of file`);
    phdrs.push({
      type: buf.readUInt32LE(o),
      flags: buf.readUInt32LE(o + 4),
      offset: u64(buf, o + 8),
      vaddr: u64(buf, o + 16),
      filesz: u64(buf, o + 32),
      memsz: u64(buf, o + 40),
      align: u64(buf, o + 48),
    });
  }
  const raw: Omit<Shdr, 'name'>[] = [];
  const nameOffs: number[] = [];
  for (let i = 0; i < shnum; i++) {
    const o = shoff + i * shentsize;
    if (o + 64 > buf.length) throw new Error(`section header ${i} beyond end of file`);
    nameOffs.push(buf.readUInt32LE(o));
    raw.push({
      index: i,
      type: buf.readUInt32LE(o + 4),
      flags: u64(buf, o + 8),
      addr: u64(buf, o + 16),
      offset: u64(buf, o + 24),
      size: u64(buf, o + 32),
    });
  }
  const strtab = shstrndx < raw.length ? raw[shstrndx] : undefined;
  const shdrs = raw.map((s, i) => {
    let name = '';
    if (strtab) {
      const start = strtab.offset + nameOffs[i];
      let end = start;
      while (end < buf.length && buf[end] !== 0) end++;
      name = buf.toString('latin1', start, end);
    }
    return { ...s, name };
  });
  return { type, machine, entry, phdrs, shdrs };
}

const hex = (n: number) => `0x${n.toString(16)}`;

function flagString(f: number): string {
  return `${f & PF_R ? 'R' : ' '}${f & PF_W ? 'W' : ' '}${f & PF_X ? 'E' : ' '}`;
}

/** PT_LOAD permissions and section placement. */
export function checkSegments(elf: Elf64): string[] {
  const problems: string[] = [];
  const loads = elf.phdrs.filter((p) => p.type === PT_LOAD);
  if (loads.length === 0) problems.push('no PT_LOAD segment');
  for (const [i, p] of loads.entries()) {
    const what = `PT_LOAD #${i} [${hex(p.vaddr)}, ${hex(p.vaddr + p.memsz)}) ${flagString(p.flags)}`;
    if (!(p.flags & PF_R)) problems.push(`${what}: not readable`);
    if (p.flags & PF_W && p.flags & PF_X) problems.push(`${what}: both writable and executable`);
    if (p.filesz > p.memsz) problems.push(`${what}: p_filesz ${hex(p.filesz)} > p_memsz ${hex(p.memsz)}`);
    if (p.align > 1 && p.offset % p.align !== p.vaddr % p.align) {
      problems.push(`${what}: p_offset ${hex(p.offset)} and p_vaddr not congruent modulo p_align ${hex(p.align)}`);
    }
    for (const q of loads.slice(i + 1)) {
      if (p.vaddr < q.vaddr + q.memsz && q.vaddr < p.vaddr + p.memsz) {
        problems.push(`${what}: overlaps PT_LOAD at ${hex(q.vaddr)}`);
      }
    }
  }
  const entrySeg = loads.find((p) => elf.entry >= p.vaddr && elf.entry < p.vaddr + p.memsz);
  if (!entrySeg) problems.push(`entry point ${hex(elf.entry)} is in no PT_LOAD`);
  else if (!(entrySeg.flags & PF_X)) problems.push(`entry point ${hex(elf.entry)} is in a non-executable segment`);

  for (const s of elf.shdrs) {
    if (!(s.flags & SHF_ALLOC) || s.size === 0) continue;
    const nobits = s.type === SHT_NOBITS;
    if (nobits && s.flags & SHF_TLS) continue; // .tbss occupies no address space of its own
    const seg = loads.find((p) => s.addr >= p.vaddr && s.addr + s.size <= p.vaddr + p.memsz);
    const what = `section ${s.name} [${hex(s.addr)}, ${hex(s.addr + s.size)})`;
    if (!seg) {
      problems.push(`${what} is not inside any PT_LOAD`);
      continue;
    }
    if (!nobits) {
      const inFile = s.addr + s.size <= seg.vaddr + seg.filesz && s.offset - seg.offset === s.addr - seg.vaddr;
      if (!inFile) problems.push(`${what}: file offset ${hex(s.offset)} does not match its segment's mapping`);
    }
    const segDesc = `its segment is ${flagString(seg.flags)}`;
    if (s.flags & SHF_EXECINSTR) {
      if (!(seg.flags & PF_X) || seg.flags & PF_W) problems.push(`${what} is code but ${segDesc} (want R E)`);
    } else if (s.flags & SHF_WRITE) {
      if (!(seg.flags & PF_W) || seg.flags & PF_X) problems.push(`${what} is writable data but ${segDesc} (want RW)`);
    } else if (seg.flags & PF_W) {
      problems.push(`${what} is read-only data but ${segDesc}`);
    }
  }
  return problems;
}

interface ReadelfSymbol {
  value: number;
  size: number;
  type: string;
  ndx: string;
  name: string;
}

/** Parse the .symtab part of `llvm-readelf -s --wide`. */
export function parseReadelfSymbols(out: string): ReadelfSymbol[] {
  const syms: ReadelfSymbol[] = [];
  let inSymtab = false;
  for (const line of out.split('\n')) {
    if (/^Symbol table '/.test(line)) {
      inSymtab = /'\.symtab'/.test(line);
      continue;
    }
    if (!inSymtab) continue;
    const m = /^\s*\d+:\s+([0-9a-f]+)\s+(\d+|0x[0-9a-f]+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s*(.*)$/.exec(line);
    if (!m) continue;
    syms.push({ value: parseInt(m[1], 16), size: Number(m[2]), type: m[3], ndx: m[6], name: m[7].trim() });
  }
  return syms;
}

/** Parse `llvm-nm --defined-only` output: address, type letter, name. */
export function parseNm(out: string): { addr: number; kind: string; name: string }[] {
  const res: { addr: number; kind: string; name: string }[] = [];
  for (const line of out.split('\n')) {
    const m = /^([0-9a-f]+)\s+(\S)\s+(.*)$/.exec(line.trim());
    if (m) res.push({ addr: parseInt(m[1], 16), kind: m[2], name: m[3] });
  }
  return res;
}

/** llvm-nm addresses agree with llvm-readelf -s; symbols lie within their sections. */
export async function checkSymbols(prog: string, elf: Elf64): Promise<string[]> {
  const problems: string[] = [];
  const [nmOut, reOut] = await Promise.all([
    tool('llvm-nm', ['--defined-only', '--no-sort', prog]),
    tool('llvm-readelf', ['-s', '--wide', prog]),
  ]);
  const nm = parseNm(nmOut);
  const syms = parseReadelfSymbols(reOut);
  const byName = new Map<string, ReadelfSymbol[]>();
  for (const s of syms) {
    if (s.ndx === 'UND') continue;
    const list = byName.get(s.name) ?? [];
    list.push(s);
    byName.set(s.name, list);
  }
  if (nm.length === 0) problems.push('llvm-nm lists no defined symbols');
  for (const n of nm) {
    const cands = byName.get(n.name);
    if (!cands) problems.push(`llvm-nm symbol ${n.name} is missing from llvm-readelf -s`);
    else if (!cands.some((c) => c.value === n.addr)) {
      problems.push(
        `symbol ${n.name}: llvm-nm says ${hex(n.addr)}, llvm-readelf -s says ${cands.map((c) => hex(c.value)).join(', ')}`,
      );
    }
  }
  const nmNames = new Set(nm.map((n) => n.name));
  const tls = elf.phdrs.find((p) => p.type === PT_TLS);
  for (const s of syms) {
    if (s.ndx === 'UND' || s.type === 'FILE' || s.type === 'SECTION' || s.name === '') continue;
    // llvm-nm leaves out AArch64 mapping symbols ($x, $d, ...).
    if (!nmNames.has(s.name) && !s.name.startsWith('$')) {
      problems.push(`llvm-readelf -s symbol ${s.name} is missing from llvm-nm`);
    }
    if (!/^\d+$/.test(s.ndx)) continue; // ABS, COM
    const sec = elf.shdrs[Number(s.ndx)];
    if (!sec) {
      problems.push(`symbol ${s.name}: section index ${s.ndx} out of range`);
      continue;
    }
    if (s.type === 'TLS') {
      if (!tls) problems.push(`TLS symbol ${s.name} but no PT_TLS segment`);
      else if (s.value + s.size > tls.memsz) {
        problems.push(`TLS symbol ${s.name}: offset ${hex(s.value)} + size ${s.size} beyond PT_TLS memsz ${hex(tls.memsz)}`);
      }
      continue;
    }
    if (!(sec.flags & SHF_ALLOC)) continue;
    if (s.value < sec.addr || s.value + s.size > sec.addr + sec.size) {
      problems.push(
        `symbol ${s.name} [${hex(s.value)}, +${s.size}) lies outside its section ${sec.name} ` +
          `[${hex(sec.addr)}, ${hex(sec.addr + sec.size)})`,
      );
    }
  }
  return problems;
}

/** Parse section names (in index order) from `llvm-readelf -S --wide`. */
export function parseReadelfSectionNames(out: string): string[] {
  const names: string[] = [];
  for (const line of out.split('\n')) {
    const m = /^\s*\[\s*(\d+)\]\s(.*?)\s+(\S+)\s+[0-9a-f]{16}\s+[0-9a-f]+\s+[0-9a-f]+\s/.exec(line);
    if (m) names[Number(m[1])] = m[2].trim();
  }
  return names;
}

/** elfy parses the file and agrees with llvm-readelf on the entry point and section names. */
export async function checkElfy(prog: string): Promise<string[]> {
  const problems: string[] = [];
  const [hdr, secs] = await Promise.all([
    tool('llvm-readelf', ['-h', prog]),
    tool('llvm-readelf', ['-S', '--wide', prog]),
  ]);
  const em = /Entry point address:\s+(0x[0-9a-fA-F]+)/.exec(hdr);
  if (!em) return [`cannot find the entry point in llvm-readelf -h output`];
  const entry = parseInt(em[1], 16);
  let parsed: ReturnType<typeof elfy.parse>;
  try {
    parsed = elfy.parse(fs.readFileSync(prog));
  } catch (e) {
    return [`elfy cannot parse the file: ${(e as Error).message}`];
  }
  if (parsed.entry !== entry) problems.push(`elfy entry ${hex(parsed.entry)} != llvm-readelf entry ${hex(entry)}`);
  const want = parseReadelfSectionNames(secs);
  const got = parsed.body.sections.map((s) => s.name);
  if (want.length === 0) problems.push('llvm-readelf -S lists no sections');
  if (JSON.stringify(got) !== JSON.stringify(want)) {
    problems.push(`elfy section names ${JSON.stringify(got)} != llvm-readelf -S ${JSON.stringify(want)}`);
  }
  return problems;
}

/** R_*_RELATIVE by e_machine. */
const RELATIVE_TYPE: Record<number, number> = { 62: 8, 183: 1027 };

/**
 * tslink's order of .rela.dyn, which a patch's gate relies on (dynamicGate.ts
 * relaDynIndex): the RELATIVE records first, then the rest, each group
 * ascending by r_offset.
 */
export function checkRelaDynOrder(buf: Buffer, elf: Elf64): string[] {
  const sec = elf.shdrs.find((s) => s.name === '.rela.dyn');
  if (!sec) return [];
  const relative = RELATIVE_TYPE[elf.machine];
  if (relative === undefined) return [`no RELATIVE type known for e_machine ${elf.machine}`];
  const problems: string[] = [];
  let others = false;
  let last = -1;
  for (let i = 0; i * 24 + 24 <= sec.size; i++) {
    const at = sec.offset + i * 24;
    const place = u64(buf, at);
    const isRelative = buf.readUInt32LE(at + 8) === relative;
    if (!isRelative && !others) {
      others = true;
      last = -1;
    } else if (isRelative && others) {
      problems.push(`.rela.dyn record ${i} (at ${hex(place)}) is RELATIVE, after records that are not`);
    }
    if (place < last) problems.push(`.rela.dyn record ${i} is at ${hex(place)}, below the record before it (${hex(last)})`);
    last = place;
  }
  return problems;
}

/** All structural checks on one linked executable. */
export async function checkStructure(prog: string): Promise<string[]> {
  let elf: Elf64;
  try {
    elf = readElf64(fs.readFileSync(prog));
  } catch (e) {
    return [`cannot read ELF headers: ${(e as Error).message}`];
  }
  const problems = checkSegments(elf);
  if (elf.type !== 2 && elf.type !== 3) problems.push(`e_type ${elf.type} is neither ET_EXEC nor ET_DYN`);
  problems.push(...checkRelaDynOrder(fs.readFileSync(prog), elf));
  problems.push(...(await checkSymbols(prog, elf)));
  problems.push(...(await checkElfy(prog)));
  return problems;
}
