import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readElfObject } from '../../src/obj/readElf.js';
import { LinkError } from '../../src/obj/LinkError.js';
import type { ObjectFile } from '../../src/obj/model.js';

/**
 * A corpus of targeted corruptions of real relocatable objects: each must be
 * reported as a LinkError naming the file, never as a RangeError, TypeError
 * or a silent success.
 */

const SOURCE = `
int counter = 5;
extern int external_fn(int);
const char *greeting(void) { return "hello, world"; }
int helper(int x) { return x + counter + greeting()[0]; }
int entry(void) { return helper(3) + external_fn(counter); }
`;

// ELF64 header and section header field offsets.
const E_TYPE = 0x10;
const E_MACHINE = 0x12;
const E_SHOFF = 0x28;
const E_SHENTSIZE = 0x3a;
const E_SHNUM = 0x3c;
const E_SHSTRNDX = 0x3e;
const SH_NAME = 0x00;
const SH_TYPE = 0x04;
const SH_OFFSET = 0x18;
const SH_SIZE = 0x20;
const SH_LINK = 0x28;
const SHT_SYMTAB = 2;
const SHT_STRTAB = 3;
const SHT_RELA = 4;
const SYM_SIZE = 24;
const ST_SHNDX = 6;
const RELA_SIZE = 24;

/** A mutable copy of an ELF64 LE object with just enough parsing to aim corruptions. */
class Elf {
  readonly bytes: Uint8Array;
  readonly dv: DataView;
  constructor(src: Uint8Array) {
    this.bytes = Uint8Array.from(src);
    this.dv = new DataView(this.bytes.buffer);
  }
  get shoff(): number {
    return Number(this.dv.getBigUint64(E_SHOFF, true));
  }
  get shnum(): number {
    return this.dv.getUint16(E_SHNUM, true);
  }
  get shstrndx(): number {
    return this.dv.getUint16(E_SHSTRNDX, true);
  }
  /** Offset of section header `i`. */
  sh(i: number): number {
    expect(this.dv.getUint16(E_SHENTSIZE, true)).to.equal(64);
    return this.shoff + i * 64;
  }
  type(i: number): number {
    return this.dv.getUint32(this.sh(i) + SH_TYPE, true);
  }
  offset(i: number): number {
    return Number(this.dv.getBigUint64(this.sh(i) + SH_OFFSET, true));
  }
  size(i: number): number {
    return Number(this.dv.getBigUint64(this.sh(i) + SH_SIZE, true));
  }
  link(i: number): number {
    return this.dv.getUint32(this.sh(i) + SH_LINK, true);
  }
  cstr(at: number): string {
    let e = at;
    while (this.bytes[e] !== 0) e++;
    return Buffer.from(this.bytes.subarray(at, e)).toString('latin1');
  }
  name(i: number): string {
    return this.cstr(this.offset(this.shstrndx) + this.dv.getUint32(this.sh(i) + SH_NAME, true));
  }
  section(name: string): number {
    for (let i = 0; i < this.shnum; i++) if (this.name(i) === name) return i;
    throw new Error(`no section ${name}`);
  }
  sectionOfType(type: number): number {
    for (let i = 0; i < this.shnum; i++) if (this.type(i) === type) return i;
    throw new Error(`no section of type ${type}`);
  }
  /** File offset of the symbol-table entry named `name`. */
  symbol(name: string): number {
    const st = this.sectionOfType(SHT_SYMTAB);
    const str = this.offset(this.link(st));
    for (let at = this.offset(st); at < this.offset(st) + this.size(st); at += SYM_SIZE) {
      if (this.cstr(str + this.dv.getUint32(at, true)) === name) return at;
    }
    throw new Error(`no symbol ${name}`);
  }
}

function expectLinkError(fn: () => unknown, ...parts: (string | RegExp)[]): LinkError {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err, 'expected a LinkError, but the object was read successfully').to.not.equal(undefined);
  if (!(err instanceof LinkError)) {
    throw new Error(`expected a LinkError, got ${err instanceof Error ? err.stack : String(err)}`);
  }
  for (const p of parts) {
    if (typeof p === 'string') expect(err.message).to.contain(p);
    else expect(err.message).to.match(p);
  }
  return err;
}

function readOrLinkError(name: string, bytes: Uint8Array): ObjectFile | LinkError {
  try {
    return readElfObject(name, bytes);
  } catch (e) {
    if (e instanceof LinkError) return e;
    throw new Error(`non-LinkError from readElfObject: ${e instanceof Error ? e.stack : String(e)}`);
  }
}

describe('malformed ELF objects', function () {
  let dir: string;
  const objects: Record<string, Uint8Array> = {};

  before(function () {
    dir = mkdtempSync(join(tmpdir(), 'tslink-malformed-elf-'));
    writeFileSync(join(dir, 'm.c'), SOURCE);
    for (const arch of ['x86_64', 'aarch64']) {
      const out = `m-${arch}.o`;
      execFileSync('clang', [`--target=${arch}-linux-gnu`, '-ffunction-sections', '-fdata-sections', '-c', 'm.c', '-o', out], {
        cwd: dir,
      });
      objects[arch] = readFileSync(join(dir, out));
    }
  });

  after(function () {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  for (const arch of ['x86_64', 'aarch64'] as const) {
    describe(arch, function () {
      const file = `m-${arch}.o`;
      const elf = () => new Elf(objects[arch]);
      const read = (e: Elf | Uint8Array) => () => readElfObject(file, e instanceof Elf ? e.bytes : e);

      it('reads the uncorrupted object', function () {
        const o = readElfObject(file, objects[arch]);
        expect(o.arch).to.equal(arch);
        const atoms = o.atoms.map((a) => a.name);
        expect(atoms).to.include.members(['.text.greeting', '.text.helper', '.text.entry', '.data.counter', '.rodata.str1.1']);
        const syms = o.symbols.map((s) => s.name);
        expect(syms).to.include.members(['counter', 'greeting', 'helper', 'entry', 'external_fn']);
        const entry = o.atoms.find((a) => a.name === '.text.entry')!;
        expect(entry.relocs.length).to.be.greaterThan(0);
        expect(entry.relocs.toArray().map((r) => o.symbols[r.sym].name)).to.include('external_fn');
      });

      it('rejects a file truncated to 10 bytes', function () {
        expectLinkError(read(objects[arch].subarray(0, 10)), file, 'offset');
      });

      it('rejects a partial ELF header (63 bytes)', function () {
        expectLinkError(read(objects[arch].subarray(0, 63)), file, 'offset');
      });

      it('rejects a wrong magic', function () {
        const e = elf();
        e.bytes[1] = 0x58;
        expectLinkError(read(e), file, 'offset 0x0', /magic|not an ELF/i);
      });

      it('rejects ELFCLASS32', function () {
        const e = elf();
        e.bytes[4] = 1;
        expectLinkError(read(e), file, 'offset 0x4', /class/i);
      });

      it('rejects big-endian data', function () {
        const e = elf();
        e.bytes[5] = 2;
        expectLinkError(read(e), file, 'offset 0x5', /endian|encoding/i);
      });

      it('rejects an unknown e_machine (ARM)', function () {
        const e = elf();
        e.dv.setUint16(E_MACHINE, 0x28, true);
        expectLinkError(read(e), file, 'offset 0x12', /machine/i, '40');
      });

      it('rejects ET_EXEC', function () {
        const e = elf();
        e.dv.setUint16(E_TYPE, 2, true);
        expectLinkError(read(e), file, 'offset 0x10', /relocatable|e_type/i);
      });

      it('rejects e_shoff past the end', function () {
        const e = elf();
        e.dv.setBigUint64(E_SHOFF, BigInt(e.bytes.length + 0x100), true);
        expectLinkError(read(e), file, 'offset', /section header/i);
        const far = elf();
        far.dv.setBigUint64(E_SHOFF, 0xfffffffffff0n, true);
        expectLinkError(read(far), file, 'offset');
        const huge = elf();
        huge.dv.setBigUint64(E_SHOFF, 0xfffffffffffffff0n, true);
        expectLinkError(read(huge), file, 'offset');
      });

      it('rejects a huge e_shnum with the table near the end', function () {
        const e = elf();
        e.dv.setBigUint64(E_SHOFF, BigInt(e.bytes.length - 64), true);
        e.dv.setUint16(E_SHNUM, 0xffff, true);
        expectLinkError(read(e), file, 'offset', /section header/i);
        // The same with the real table in place.
        const f = elf();
        f.dv.setUint16(E_SHNUM, 0xfffe, true);
        expectLinkError(read(f), file, 'offset', /section header/i);
      });

      it('rejects e_shstrndx out of range', function () {
        const e = elf();
        e.dv.setUint16(E_SHSTRNDX, e.shnum + 3, true);
        expectLinkError(read(e), file, 'offset', /name table|shstrndx|out of range/i);
        const f = elf();
        f.dv.setUint16(E_SHSTRNDX, f.section('.text.helper'), true);
        expectLinkError(read(f), file, 'offset', /string table/i);
      });

      it("rejects a section whose contents extend past the end", function () {
        const e = elf();
        const i = e.section('.text.helper');
        e.dv.setBigUint64(e.sh(i) + SH_SIZE, BigInt(e.bytes.length), true);
        expectLinkError(read(e), file, 'offset', /past the end/, '.text.helper');
        const f = elf();
        f.dv.setBigUint64(f.sh(i) + SH_OFFSET, BigInt(f.bytes.length - 2), true);
        expectLinkError(read(f), file, 'offset', /past the end/, '.text.helper');
        // 2^53 and beyond must not turn into an inexact number that passes a bounds check.
        const g = elf();
        g.dv.setBigUint64(g.sh(i) + SH_SIZE, 0xffffffffffffffffn, true);
        expectLinkError(read(g), file, 'offset');
        // The same for the symbol table and a relocation section.
        for (const t of [SHT_SYMTAB, SHT_RELA]) {
          const h = elf();
          const s = h.sectionOfType(t);
          // A whole number of entries, so that the bounds check (not the size check) fires.
          const size = Math.ceil(h.bytes.length / 24) * 24;
          h.dv.setBigUint64(h.sh(s) + SH_SIZE, BigInt(size), true);
          expectLinkError(read(h), file, 'offset', /past the end/);
        }
      });

      it('rejects a symbol whose st_shndx is out of range', function () {
        const e = elf();
        const sym = e.symbol('helper');
        e.dv.setUint16(sym + ST_SHNDX, e.shnum + 5, true);
        expectLinkError(read(e), file, 'offset', /section index/i, String(e.shnum + 5));
        // A reserved index that is neither ABS nor COMMON nor XINDEX.
        const f = elf();
        f.dv.setUint16(f.symbol('helper') + ST_SHNDX, 0xff1f, true);
        expectLinkError(read(f), file, 'offset');
        // XINDEX without a SHT_SYMTAB_SHNDX section.
        const g = elf();
        g.dv.setUint16(g.symbol('helper') + ST_SHNDX, 0xffff, true);
        expectLinkError(read(g), file, 'offset');
      });

      it('rejects a relocation whose symbol index is out of range', function () {
        const e = elf();
        const rela = e.section('.rela.text.entry');
        e.dv.setUint32(e.offset(rela) + 12, 0xffffff, true); // r_info's symbol half
        expectLinkError(read(e), file, 'offset', /symbol index/i, String(0xffffff));
        const f = elf();
        const st = f.sectionOfType(SHT_SYMTAB);
        const count = f.size(st) / SYM_SIZE;
        f.dv.setUint32(f.offset(f.section('.rela.text.helper')) + RELA_SIZE + 12, count, true);
        expectLinkError(read(f), file, 'offset', String(count));
      });

      it("rejects a symbol table whose sh_link is not a string table or out of range", function () {
        const e = elf();
        const st = e.sectionOfType(SHT_SYMTAB);
        e.dv.setUint32(e.sh(st) + SH_LINK, e.section('.text.helper'), true);
        expectLinkError(read(e), file, 'offset', /string table/i);
        const f = elf();
        f.dv.setUint32(f.sh(st) + SH_LINK, 0xffff, true);
        expectLinkError(read(f), file, 'offset', /string table/i);
        const g = elf();
        g.dv.setUint32(g.sh(st) + SH_LINK, 0, true);
        expectLinkError(read(g), file, 'offset', /string table/i);
      });

      it('rejects a symbol name offset past the string table', function () {
        const e = elf();
        const st = e.sectionOfType(SHT_SYMTAB);
        const str = e.link(st);
        expect(e.type(str)).to.equal(SHT_STRTAB);
        e.dv.setUint32(e.symbol('entry'), e.size(str) + 100, true);
        expectLinkError(read(e), file, 'offset', /string|name/i);
        // A name that starts inside the table but is not terminated before its end.
        const f = elf();
        const s = f.link(st);
        // Point a symbol at the last byte and make it not NUL. (clang shares
        // .strtab between section and symbol names, so this may also be
        // caught as an unterminated section name.)
        f.dv.setUint32(f.symbol('entry'), f.size(s) - 1, true);
        f.bytes[f.offset(s) + f.size(s) - 1] = 0x41;
        expectLinkError(read(f), file, 'offset', /unterminated|string/i);
      });

      it('rejects a section name offset past the section name table', function () {
        const e = elf();
        const i = e.section('.text.helper');
        e.dv.setUint32(e.sh(i) + SH_NAME, 0x7fffffff, true);
        expectLinkError(read(e), file, 'offset');
      });

      it('yields only objects or LinkErrors for every truncation', function () {
        const good = objects[arch];
        for (let n = 0; n < good.length; n++) {
          const r = readOrLinkError(file, good.subarray(0, n));
          if (r instanceof LinkError) expect(r.message).to.contain(file);
        }
      });

      it('yields only objects or LinkErrors under random byte corruption', function () {
        // A fixed-seed LCG, so that a failure reproduces.
        let seed = arch === 'x86_64' ? 0x2545f491 : 0x9e3779b9;
        const rand = () => {
          seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
          return seed >>> 8;
        };
        const good = objects[arch];
        const base = new Elf(good);
        // Regions where structure lives: the ELF header, the section headers,
        // the symbol table and the relocations.
        const st = base.sectionOfType(SHT_SYMTAB);
        const rela = base.section('.rela.text.entry');
        const regions: [number, number][] = [
          [0, 64],
          [base.shoff, base.shnum * 64],
          [base.offset(st), base.size(st)],
          [base.offset(rela), base.size(rela)],
          [0, good.length],
        ];
        let ok = 0;
        let failed = 0;
        for (let iter = 0; iter < 600; iter++) {
          const bytes = Uint8Array.from(good);
          const [start, len] = regions[iter % regions.length];
          const flips = 1 + (rand() % 3);
          const changed: string[] = [];
          for (let k = 0; k < flips; k++) {
            const pos = start + (rand() % len);
            const v = rand() % 5 === 0 ? 0xff : rand() & 0xff;
            changed.push(`[0x${pos.toString(16)}]=0x${v.toString(16)}`);
            bytes[pos] = v;
          }
          let r: ObjectFile | LinkError;
          try {
            r = readOrLinkError(file, bytes);
          } catch (e) {
            throw new Error(`iteration ${iter}, ${changed.join(' ')}: ${(e as Error).message}`);
          }
          if (r instanceof LinkError) {
            failed++;
            expect(r.message, `iteration ${iter}`).to.contain(file);
          } else ok++;
        }
        expect(ok + failed).to.equal(600);
        expect(failed, 'some corruptions are detected').to.be.greaterThan(0);
      });
    });
  }
});
