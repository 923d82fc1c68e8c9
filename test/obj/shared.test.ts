import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isSharedObject, readSharedObject } from '../../src/obj/readSharedObject.js';
import { LinkError, hex } from '../../src/obj/LinkError.js';
import type { SharedObject } from '../../src/obj/model.js';

/**
 * The shared-library reader: the real glibc libc.so.6 and libm.so.6 of both
 * architectures compared with llvm-readelf, a small versioned library built
 * with clang and lld (with and without section headers), and a corpus of
 * corruptions that must each be a LinkError naming the file and the offset.
 */

const ARCHES = ['x86_64', 'aarch64'] as const;
type Arch = (typeof ARCHES)[number];
const GCC: Record<Arch, string> = { x86_64: 'gcc', aarch64: 'aarch64-linux-gnu-gcc' };

// Dynamic tags, program header and verdef layouts used to aim corruptions.
const DT_STRTAB = 5;
const DT_HASH = 4;
const DT_SYMENT = 11;
const DT_GNU_HASH = 0x6ffffef5;
const DT_VERSYM = 0x6ffffff0;
const DT_VERDEF = 0x6ffffffc;
const DT_VERDEFNUM = 0x6ffffffd;
const DT_SYMTAB = 6;
const PT_LOAD = 1;
const PT_DYNAMIC = 2;
const SHT_GNU_VERDEF = 0x6ffffffd;
const VERDEF_SIZE = 0x1c; // an Elf64_Verdef followed by its one Verdaux, as lld lays them out
const VD_NEXT = 16;

function run(cmd: string, args: string[], cwd?: string): string {
  return execFileSync(cmd, args, { cwd, encoding: 'utf8', maxBuffer: 64 << 20 });
}

/** A system library of `arch`, found through that architecture's gcc driver. */
function systemLibrary(arch: Arch, lib: string): string {
  const path = run(GCC[arch], [`-print-file-name=${lib}`]).trim();
  if (!path.includes('/')) throw new Error(`${GCC[arch]} does not know ${lib}`);
  return path;
}

/** `name\tversion\tdefault` for each defined, non-local dynamic symbol, as llvm-readelf prints them. */
function readelfDefined(path: string): { defined: string[]; undefinedStrong: string[] } {
  const defined: string[] = [];
  const undefinedStrong: string[] = [];
  for (const line of run('llvm-readelf', ['--dyn-syms', '--wide', path]).split('\n')) {
    if (!/^\s*\d+:/.test(line)) continue;
    // Num: Value Size Type Bind Vis [other flags] Ndx Name -- the name has no spaces in these libraries.
    const f = line.trim().split(/\s+/);
    if (f.length < 8) continue; // the null symbol has no name
    const bind = f[4];
    const ndx = f[f.length - 2];
    const full = f[f.length - 1];
    if (bind === 'LOCAL') continue;
    const m = /^([^@]+)(@@?)(.*)$/.exec(full);
    const name = m ? m[1] : full;
    if (ndx === 'UND') {
      if (bind !== 'WEAK') undefinedStrong.push(name);
      continue;
    }
    defined.push(m ? `${name}\t${m[3]}\t${m[2] === '@@'}` : `${name}\tnull\ttrue`);
  }
  return { defined: defined.sort(), undefinedStrong: undefinedStrong.sort() };
}

function triples(so: SharedObject): string[] {
  return so.symbols.map((s) => `${s.name}\t${s.version}\t${s.isDefault}`).sort();
}

/** Version definition names and DT_NEEDED / DT_SONAME as llvm-readelf prints them. */
function readelfDynamic(path: string): { versions: string[]; needed: string[]; soname: string | null } {
  const out = run('llvm-readelf', ['-d', '-V', '--wide', path]);
  const versions = [...out.matchAll(/Rev: \d+\s+Flags: .*?Index: \d+\s+Cnt: \d+\s+Name: (\S+)/g)].map((m) => m[1]);
  const needed = [...out.matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1]);
  const soname = /\(SONAME\)\s+Library soname: \[([^\]]+)\]/.exec(out);
  return { versions, needed, soname: soname ? soname[1] : null };
}

function expectLinkError(fn: () => unknown, ...parts: (string | RegExp)[]): LinkError {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err, 'expected a LinkError, but the library was read successfully').to.not.equal(undefined);
  if (!(err instanceof LinkError)) throw new Error(`expected a LinkError, got ${err instanceof Error ? err.stack : String(err)}`);
  for (const p of parts) {
    if (typeof p === 'string') expect(err.message).to.contain(p);
    else expect(err.message).to.match(p);
  }
  return err;
}

/** A mutable copy of an ELF64 LE shared object, parsed just enough to aim corruptions. */
class Image {
  readonly bytes: Uint8Array;
  readonly dv: DataView;
  constructor(src: Uint8Array) {
    this.bytes = Uint8Array.from(src);
    this.dv = new DataView(this.bytes.buffer);
  }
  u32(off: number): number {
    return this.dv.getUint32(off, true);
  }
  u64(off: number): number {
    return Number(this.dv.getBigUint64(off, true));
  }
  set32(off: number, v: number): this {
    this.dv.setUint32(off, v, true);
    return this;
  }
  set64(off: number, v: number): this {
    this.dv.setBigUint64(off, BigInt(v), true);
    return this;
  }
  phdrs(): { type: number; offset: number; vaddr: number; filesz: number }[] {
    const phoff = this.u64(0x20);
    const n = this.dv.getUint16(0x38, true);
    return Array.from({ length: n }, (_, i) => {
      const at = phoff + i * 56;
      return { type: this.u32(at), offset: this.u64(at + 8), vaddr: this.u64(at + 0x10), filesz: this.u64(at + 0x20) };
    });
  }
  /** The file offset of an address. */
  toOff(vaddr: number): number {
    const l = this.phdrs().find((p) => p.type === PT_LOAD && vaddr >= p.vaddr && vaddr < p.vaddr + p.filesz);
    if (!l) throw new Error(`address ${hex(vaddr)} is in no PT_LOAD`);
    return l.offset + vaddr - l.vaddr;
  }
  /** The dynamic entry with `tag`: its value and the file offset of its value field. */
  dyn(tag: number): { value: number; at: number } {
    const d = this.phdrs().find((p) => p.type === PT_DYNAMIC)!;
    for (let at = d.offset; at < d.offset + d.filesz; at += 16) {
      if (this.u64(at) === tag) return { value: this.u64(at + 8), at: at + 8 };
    }
    throw new Error(`no dynamic tag ${hex(tag)}`);
  }
  /** The file offset of the section header of type `type`. */
  sectionHeader(type: number): number {
    const shoff = this.u64(0x28);
    const n = this.dv.getUint16(0x3c, true);
    for (let i = 0; i < n; i++) if (this.u32(shoff + i * 64 + 4) === type) return shoff + i * 64;
    throw new Error(`no section of type ${hex(type)}`);
  }
}

describe('shared objects (readSharedObject)', function () {
  describe('glibc', function () {
    for (const arch of ARCHES) {
      describe(arch, function () {
        const libs: Record<string, { path: string; so: SharedObject }> = {};
        before(function () {
          for (const lib of ['libc.so.6', 'libm.so.6']) {
            const path = systemLibrary(arch, lib);
            libs[lib] = { path, so: readSharedObject(path, readFileSync(path)) };
          }
        });

        it('reads libc.so.6: soname, needed, printf, stdout', function () {
          const { so } = libs['libc.so.6'];
          expect(isSharedObject(readFileSync(libs['libc.so.6'].path))).to.equal(true);
          expect(so.format).to.equal('elf');
          expect(so.arch).to.equal(arch);
          expect(so.soname).to.equal('libc.so.6');
          expect(so.needed).to.include(arch === 'x86_64' ? 'ld-linux-x86-64.so.2' : 'ld-linux-aarch64.so.1');
          const base = arch === 'x86_64' ? 'GLIBC_2.2.5' : 'GLIBC_2.17';
          expect(so.versions[0]).to.equal('libc.so.6');
          expect(so.versions).to.include(base);
          const printf = so.symbols.filter((s) => s.name === 'printf');
          expect(printf).to.have.length(1);
          expect(printf[0]).to.include({ version: base, isDefault: true, type: 2 });
          const stdout = so.symbols.find((s) => s.name === 'stdout')!;
          expect(stdout).to.include({ type: 1, size: 8, version: base, isDefault: true });
          // Some symbols are kept only for old binaries: a hidden, non-default version.
          const hidden = so.symbols.filter((s) => !s.isDefault);
          expect(hidden.length).to.be.greaterThan(0);
          for (const h of hidden) expect(h.version).to.be.a('string');
          expect(so.undefinedSymbols.length).to.be.greaterThan(0);
          expect(so.symbols.every((s) => s.binding !== 0)).to.equal(true);
        });

        if (arch === 'x86_64') {
          it('memcpy: IFUNC memcpy@@GLIBC_2.14 and the old memcpy@GLIBC_2.2.5', function () {
            const memcpy = libs['libc.so.6'].so.symbols.filter((s) => s.name === 'memcpy');
            const def = memcpy.find((s) => s.isDefault)!;
            expect(def).to.include({ version: 'GLIBC_2.14', type: 10 });
            expect(memcpy.find((s) => !s.isDefault)).to.include({ version: 'GLIBC_2.2.5' });
          });
        }

        for (const lib of ['libc.so.6', 'libm.so.6']) {
          it(`${lib}: defined (name, version, default) and undefined symbols match llvm-readelf`, function () {
            const { path, so } = libs[lib];
            const ref = readelfDefined(path);
            expect(ref.defined.length).to.be.greaterThan(100);
            expect(triples(so)).to.deep.equal(ref.defined);
            expect([...so.undefinedSymbols].sort()).to.deep.equal(ref.undefinedStrong);
            const dyn = readelfDynamic(path);
            expect(so.versions).to.deep.equal(dyn.versions);
            expect(so.needed).to.deep.equal(dyn.needed);
            expect(so.soname).to.equal(dyn.soname);
          });

          it(`${lib}: the same through the program headers alone (sections stripped)`, function () {
            const { path, so } = libs[lib];
            const dir = mkdtempSync(join(tmpdir(), 'tslink-shared-strip-'));
            try {
              const out = join(dir, lib);
              run('llvm-objcopy', ['--strip-sections', path, out]);
              const bytes = readFileSync(out);
              expect(bytes.readUInt16LE(0x3c), 'e_shnum after --strip-sections').to.equal(0);
              expect(readSharedObject(path, bytes)).to.deep.equal(so);
            } finally {
              rmSync(dir, { recursive: true, force: true });
            }
          });
        }
      });
    }
  });

  describe('a versioned library built with clang and lld', function () {
    let dir: string;
    /**
     * Files by key `${arch}-${variant}`: `sections` (lld's default hash style here, which may be both)
     * and `gnu-sections` / `sysv-sections` (--hash-style), each also with `-stripped` instead of
     * `-sections`: the same file through llvm-objcopy --strip-sections. And `plain`.
     */
    const files: Record<string, { path: string; bytes: Uint8Array }> = {};
    const SOURCE = `
#ifndef PLAIN
__asm__(".symver foo_v1, foo@V1");
__asm__(".symver foo_v2, foo@@V2");
#endif
int foo_v1(void) { return 1; }
int foo_v2(void) { return 2; }
int bar(void) { return 3; }
int baz_data[4] = {4};
int plain(void) { return 5; }
extern int ext_needed(void);
__attribute__((weak)) extern int maybe(void);
int call_ext(void) { return ext_needed() + (maybe ? maybe() : 0); }
`;
    const SCRIPT = `V1 { global: bar; };\nV2 { global: baz_data; call_ext; } V1;\n`;

    before(function () {
      dir = mkdtempSync(join(tmpdir(), 'tslink-shared-'));
      writeFileSync(join(dir, 'x.c'), SOURCE);
      writeFileSync(join(dir, 'x.map'), SCRIPT);
      for (const arch of ARCHES) {
        const cc = ['--target=' + arch + '-linux-gnu', '-shared', '-fPIC', '-fuse-ld=lld'];
        const versioned = [...cc, '-Wl,--version-script=x.map', '-Wl,-soname,libx.so.1', 'x.c'];
        const keep = (key: string, file: string) => {
          files[`${arch}-${key}`] = { path: join(dir, file), bytes: readFileSync(join(dir, file)) };
        };
        for (const [prefix, extra] of [['', []], ['gnu-', ['-Wl,--hash-style=gnu']], ['sysv-', ['-Wl,--hash-style=sysv']]] as const) {
          const out = `libx-${arch}-${prefix}sections.so`;
          const stripped = `libx-${arch}-${prefix}stripped.so`;
          run('clang', [...versioned, ...extra, '-o', out], dir);
          run('llvm-objcopy', ['--strip-sections', out, stripped], dir);
          keep(`${prefix}sections`, out);
          keep(`${prefix}stripped`, stripped);
        }
        // No version script, no .symver and no soname.
        const plain = `libplain-${arch}.so`;
        run('clang', [...cc, '-DPLAIN', 'x.c', '-o', plain], dir);
        files[`${arch}-plain`] = { path: join(dir, plain), bytes: readFileSync(join(dir, plain)) };
      }
    });

    after(function () {
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    for (const arch of ARCHES) {
      describe(arch, function () {
        const read = (key: string) => readSharedObject(files[`${arch}-${key}`].path, files[`${arch}-${key}`].bytes);

        it('reads versions, defaults, soname, needed and undefined symbols', function () {
          const so = read('sections');
          expect(so.arch).to.equal(arch);
          expect(so.soname).to.equal('libx.so.1');
          expect(so.needed).to.deep.equal(['libc.so.6']);
          expect(so.versions).to.deep.equal(['libx.so.1', 'V1', 'V2']);
          const foo = so.symbols.filter((s) => s.name === 'foo').map((s) => [s.version, s.isDefault]);
          expect(foo).to.have.deep.members([['V1', false], ['V2', true]]);
          expect(so.symbols.find((s) => s.name === 'bar')).to.include({ version: 'V1', isDefault: true, type: 2, binding: 1 });
          expect(so.symbols.find((s) => s.name === 'baz_data')).to.include({ version: 'V2', isDefault: true, type: 1, size: 16 });
          expect(so.symbols.find((s) => s.name === 'call_ext')).to.include({ version: 'V2', isDefault: true });
          // Not named by the script (and not hidden by it): exported unversioned.
          expect(so.symbols.find((s) => s.name === 'plain')).to.include({ version: null, isDefault: true });
          // ext_needed is a strong reference; the weak ones (maybe, __gmon_start__, ...) are not listed.
          expect(so.undefinedSymbols).to.deep.equal(['ext_needed']);
          expect(triples(so)).to.deep.equal(readelfDefined(files[`${arch}-sections`].path).defined);
        });

        for (const prefix of ['', 'gnu-', 'sysv-']) {
          it(`reads the same through the program headers (${prefix}stripped: DT_${prefix === 'gnu-' ? 'GNU_HASH' : 'HASH'} gives the count)`, function () {
            const bytes = files[`${arch}-${prefix}stripped`].bytes;
            expect(Buffer.from(bytes).readUInt16LE(0x3c)).to.equal(0);
            const img = new Image(bytes);
            if (prefix === 'gnu-') expect(() => img.dyn(DT_HASH)).to.throw();
            if (prefix === 'sysv-') expect(() => img.dyn(DT_GNU_HASH)).to.throw();
            const so = read(`${prefix}stripped`);
            const ref = read(`${prefix}sections`);
            expect(so.symbols.length).to.equal(8);
            expect({ ...so, name: '' }).to.deep.equal({ ...ref, name: '' });
            if (prefix !== '') expect(triples(ref)).to.deep.equal(triples(read('sections')));
          });
        }

        it('without a soname or a version script: the base name, no versions', function () {
          const so = read('plain');
          expect(so.soname).to.equal(`libplain-${arch}.so`);
          expect(so.versions).to.deep.equal([]);
          expect(so.symbols.length).to.be.greaterThan(0);
          for (const s of so.symbols) expect(s).to.include({ version: null, isDefault: true });
          expect(so.symbols.map((s) => s.name)).to.include.members(['foo_v1', 'foo_v2', 'bar', 'plain', 'baz_data', 'call_ext']);
        });
      });
    }

    describe('malformed inputs (x86_64)', function () {
      const FILE = 'libx.so.1';
      const get = (key: string) => new Image(files[`x86_64-${key}`].bytes);
      const read = (b: Image | Uint8Array) => () => readSharedObject(FILE, b instanceof Image ? b.bytes : b);

      it('is not fooled by other files (isSharedObject, e_type, e_machine, class)', function () {
        const ok = get('sections');
        expect(isSharedObject(ok.bytes)).to.equal(true);
        expect(isSharedObject(ok.bytes.subarray(0, 4))).to.equal(false);
        const exec = get('sections');
        exec.dv.setUint16(0x10, 2, true);
        expect(isSharedObject(exec.bytes)).to.equal(false);
        expectLinkError(read(exec), FILE, 'offset 0x10', /not a shared object/);
        const arm = get('sections');
        arm.dv.setUint16(0x12, 40, true);
        expectLinkError(read(arm), FILE, 'offset 0x12', /unknown machine/, '40');
        const elf32 = get('sections');
        elf32.bytes[4] = 1;
        expectLinkError(read(elf32), FILE, 'offset 0x4', /class/);
        const be = get('sections');
        be.bytes[5] = 2;
        be.dv.setUint16(0x10, 3, false);
        expect(isSharedObject(be.bytes)).to.equal(true);
        expectLinkError(read(be), FILE, 'offset 0x5', /encoding/);
        expectLinkError(read(new Uint8Array(64)), FILE, 'offset 0x0', /magic/);
      });

      for (const key of ['sections', 'stripped', 'gnu-stripped', 'sysv-stripped']) {
        it(`truncated anywhere (${key}): a LinkError, or the same result when the tables are intact`, function () {
          const bytes = files[`x86_64-${key}`].bytes;
          const full = readSharedObject(FILE, bytes);
          let failed = 0;
          const cuts = [0, 1, 10, 63, 64, 65, 100, bytes.length - 1];
          for (let c = 128; c < bytes.length; c += 37) cuts.push(c);
          for (const cut of cuts) {
            let so: SharedObject | undefined;
            try {
              so = readSharedObject(FILE, bytes.subarray(0, cut));
            } catch (e) {
              if (!(e instanceof LinkError)) throw new Error(`cut at ${cut}: ${e instanceof Error ? e.stack : String(e)}`);
              expect(e.message).to.contain(FILE).and.match(/at offset 0x[0-9a-f]+/);
              failed++;
              continue;
            }
            expect(so, `cut at ${cut}`).to.deep.equal(full);
          }
          expect(failed).to.be.greaterThan(cuts.length / 4);
          // The tables lie in the first part of the file: a cut through them must fail.
          for (const cut of [0, 10, 63, 64, 100, 0x200]) expectLinkError(read(bytes.subarray(0, cut)), FILE, 'offset');
          // The section headers are last.
          if (key === 'sections') expectLinkError(read(bytes.subarray(0, bytes.length - 1)), FILE, /section header table/);
        });
      }

      it('random byte mutations: a LinkError or a result, never another exception', function () {
        let seed = 0x5eed;
        const rnd = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
        for (const key of ['sections', 'gnu-stripped', 'sysv-stripped']) {
          const src = files[`x86_64-${key}`].bytes;
          // The dynamic tables are in the first pages; the section headers are at the end.
          const spots = [[0, Math.min(src.length, 0x800)], [Math.max(0, src.length - 0x800), src.length]];
          for (let k = 0; k < 2000; k++) {
            const m = Uint8Array.from(src);
            for (let j = 1 + Math.floor(rnd() * 4); j > 0; j--) {
              const [lo, hi] = spots[Math.floor(rnd() * spots.length)];
              const at = lo + Math.floor(rnd() * (hi - lo));
              m[at] = rnd() < 0.5 ? Math.floor(rnd() * 256) : m[at] ^ (1 << Math.floor(rnd() * 8));
            }
            try {
              readSharedObject(FILE, m);
            } catch (e) {
              if (!(e instanceof LinkError)) throw new Error(`${key}, mutation ${k}: ${e instanceof Error ? e.stack : String(e)}`);
              expect(e.message).to.contain(FILE).and.match(/at offset 0x[0-9a-f]+/);
            }
          }
        }
      });

      it('DT_STRTAB pointing outside every PT_LOAD', function () {
        const img = get('stripped');
        const e = img.dyn(DT_STRTAB);
        img.set64(e.at, 0x40000000);
        expectLinkError(read(img), FILE, `offset ${hex(e.at)}`, /DT_STRTAB/, /PT_LOAD/);
        // An address just inside a segment but with DT_STRSZ running past its end.
        const img2 = get('stripped');
        const load = img2.phdrs().find((p) => p.type === PT_LOAD)!;
        img2.set64(img2.dyn(DT_STRTAB).at, load.vaddr + load.filesz - 4);
        expectLinkError(read(img2), FILE, `offset ${hex(e.at)}`, /PT_LOAD/);
      });

      it('DT_SYMTAB outside every PT_LOAD, and a wrong DT_SYMENT', function () {
        const img = get('stripped');
        const sym = img.dyn(DT_SYMTAB);
        img.set64(sym.at, 0x7ffff0000000);
        expectLinkError(read(img), FILE, /DT_SYMTAB/, /PT_LOAD/);
        const img2 = get('stripped');
        const ent = img2.dyn(DT_SYMENT);
        img2.set64(ent.at, 16);
        expectLinkError(read(img2), FILE, `offset ${hex(ent.at)}`, /DT_SYMENT/);
      });

      it('a huge symbol count from DT_HASH', function () {
        for (const key of ['stripped', 'sysv-stripped']) {
          for (const n of [0xffffffff, 0x10000000, 1000]) {
            const img = get(key);
            const nchain = img.toOff(img.dyn(DT_HASH).value) + 4;
            img.set32(nchain, n);
            expectLinkError(read(img), FILE, `offset ${hex(nchain)}`, /DT_HASH/, String(n));
          }
        }
      });

      it('GNU hash tables that run off their segment', function () {
        const huge = get('gnu-stripped');
        const h = huge.toOff(huge.dyn(DT_GNU_HASH).value);
        huge.set32(h, 0x7fffffff); // nbuckets
        expectLinkError(read(huge), FILE, `offset ${hex(h)}`, /GNU hash/);
        const bloom = get('gnu-stripped');
        bloom.set32(h + 8, 0xffffffff); // bloom_size
        expectLinkError(read(bloom), FILE, `offset ${hex(h)}`, /GNU hash/);
        const bucket = get('gnu-stripped');
        const b0 = h + 16 + bucket.u32(h + 8) * 8;
        bucket.set32(b0, 0xfffffff0); // a chain starting far past the table
        expectLinkError(read(bucket), FILE, `offset ${hex(b0)}`, /GNU hash chain/);
        const below = get('gnu-stripped');
        below.set32(h + 4, 0xffff); // symoffset above every bucket's value
        expectLinkError(read(below), FILE, /below the first hashed symbol/);
      });

      for (const key of ['sections', 'stripped']) {
        it(`a version definition chain that loops (${key})`, function () {
          const base = get(key);
          const vd = base.toOff(base.dyn(DT_VERDEF).value);
          const next1 = vd + VERDEF_SIZE + VD_NEXT;
          expect(base.u32(next1)).to.equal(VERDEF_SIZE);
          // The second entry's vd_next points at itself...
          const self = get(key).set32(next1, 0);
          expectLinkError(read(self), FILE, `offset ${hex(next1)}`, /loops/);
          // ...or back to the first entry (-0x1c in 32-bit arithmetic).
          const back = get(key).set32(next1, 0x100000000 - VERDEF_SIZE);
          expectLinkError(read(back), FILE, `offset ${hex(next1)}`, /loops|points back/);
          // The last entry points back to the first, and the count asks for far more entries.
          const last = get(key).set32(vd + 2 * VERDEF_SIZE + VD_NEXT, 0x100000000 - 2 * VERDEF_SIZE);
          if (key === 'sections') last.set32(last.sectionHeader(SHT_GNU_VERDEF) + 0x2c, 0xffffffff);
          else last.set64(last.dyn(DT_VERDEFNUM).at, 0xffffffff);
          expectLinkError(read(last), FILE, `offset ${hex(vd + 2 * VERDEF_SIZE + VD_NEXT)}`, /loops|points back/);
          // A huge count with a well-formed chain: the chain's end is the error.
          const many = get(key);
          if (key === 'sections') many.set32(many.sectionHeader(SHT_GNU_VERDEF) + 0x2c, 0xffffffff);
          else many.set64(many.dyn(DT_VERDEFNUM).at, 0xffffffff);
          expectLinkError(read(many), FILE, `offset ${hex(vd + 2 * VERDEF_SIZE + VD_NEXT)}`, /chain ends or loops after 3/);
        });

        it(`bad version indices and names (${key})`, function () {
          const img = get(key);
          const versym = img.toOff(img.dyn(DT_VERSYM).value);
          // Find a defined, versioned symbol's entry (index >= 2) and give it an undefined version.
          let i = 1;
          while ((img.dv.getUint16(versym + 2 * i, true) & 0x7fff) < 2 || img.dv.getUint16(img.toOff(img.dyn(DT_SYMTAB).value) + i * 24 + 6, true) === 0) i++;
          img.dv.setUint16(versym + 2 * i, 9, true);
          expectLinkError(read(img), FILE, `offset ${hex(versym + 2 * i)}`, /version index 9/);
          const name = get(key);
          const sym1 = name.toOff(name.dyn(DT_SYMTAB).value) + 24;
          name.set32(sym1, 0xfffffff0);
          expectLinkError(read(name), FILE, `offset ${hex(sym1)}`, /string offset/);
          const rev = get(key);
          const vd = rev.toOff(rev.dyn(DT_VERDEF).value);
          rev.dv.setUint16(vd, 7, true);
          expectLinkError(read(rev), FILE, `offset ${hex(vd)}`, /revision 7/);
          const dup = get(key);
          dup.dv.setUint16(vd + VERDEF_SIZE + 4, 3, true); // V1 takes V2's index
          expectLinkError(read(dup), FILE, /defined twice/);
        });
      }
    });
  });
});
