/**
 * Hostile counts and sizes (doc/robustness.md, "Bounded work and memory"):
 * a reader never allocates from a claimed count before it has checked that
 * the bytes exist, and never does more work than a small multiple of its
 * input. Each input here is small and claims something huge (4 billion
 * sections, a terabyte symbol table), or makes overlapping tables repeat the
 * same bytes many times over; each must be rejected with a LinkError that
 * names the file and an offset, fast, and with little memory.
 */
import { expect } from 'chai';
import { readArchive } from '../../src/obj/archive.js';
import { LinkError } from '../../src/obj/LinkError.js';
import { readElfObject } from '../../src/obj/readElf.js';
import { STATE_VERSION, decodeState, hashBytes } from '../../src/session/state.js';
import { StateWriter } from '../../src/session/stateCodec.js';

interface Sec {
  name: string;
  type: number;
  flags?: number;
  data?: Uint8Array;
  /** Override sh_offset / sh_size (default: where `data` is put, its length). */
  offset?: number;
  size?: number | bigint;
  link?: number;
  info?: number;
  align?: number;
  entsize?: number;
}

const SHT = { STRTAB: 3, SYMTAB: 2, PROGBITS: 1, RELA: 4, GROUP: 17 } as const;

/** A little-endian ELF64 x86-64 relocatable object: section 0 null, 1 .shstrtab, then `secs`. */
function elf(secs: Sec[], patch?: (dv: DataView, shoff: number) => void): Uint8Array {
  const all: Sec[] = [{ name: '', type: 0 }, { name: '.shstrtab', type: SHT.STRTAB }, ...secs];
  const names: number[] = [];
  const at = new Map<string, number>([['', 0]]);
  let shstr = '\0';
  for (const s of all) {
    if (!at.has(s.name)) {
      at.set(s.name, shstr.length);
      shstr += `${s.name}\0`;
    }
    names.push(at.get(s.name)!);
  }
  all[1].data = new TextEncoder().encode(shstr);
  let off = 64;
  const offsets = all.map((s) => {
    const at = off;
    off += s.data?.length ?? 0;
    off = (off + 7) & ~7;
    return at;
  });
  const shoff = off;
  const out = new Uint8Array(shoff + all.length * 64);
  const dv = new DataView(out.buffer);
  out.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]);
  dv.setUint16(0x10, 1, true);
  dv.setUint16(0x12, 62, true);
  dv.setUint32(0x14, 1, true);
  dv.setBigUint64(0x28, BigInt(shoff), true);
  dv.setUint16(0x34, 64, true);
  dv.setUint16(0x3a, 64, true);
  dv.setUint16(0x3c, all.length, true);
  dv.setUint16(0x3e, 1, true);
  all.forEach((s, i) => {
    if (s.data) out.set(s.data, offsets[i]);
    const h = shoff + i * 64;
    if (i === 0) return;
    dv.setUint32(h, names[i], true);
    dv.setUint32(h + 4, s.type, true);
    dv.setBigUint64(h + 8, BigInt(s.flags ?? 0), true);
    dv.setBigUint64(h + 0x18, BigInt(s.offset ?? offsets[i]), true);
    dv.setBigUint64(h + 0x20, BigInt(s.size ?? s.data?.length ?? 0), true);
    dv.setUint32(h + 0x28, s.link ?? 0, true);
    dv.setUint32(h + 0x2c, s.info ?? 0, true);
    dv.setBigUint64(h + 0x30, BigInt(s.align ?? 1), true);
    dv.setBigUint64(h + 0x38, BigInt(s.entsize ?? 0), true);
  });
  patch?.(dv, shoff);
  return out;
}

/** A symbol table of `n` entries (after the null one), each naming strtab offset `name`, global, undefined. */
function symtab(n: number, name: number): Uint8Array {
  const b = new Uint8Array((n + 1) * 24);
  const dv = new DataView(b.buffer);
  for (let i = 1; i <= n; i++) {
    dv.setUint32(i * 24, name, true);
    b[i * 24 + 4] = 0x10; // STB_GLOBAL, STT_NOTYPE
  }
  return b;
}

/** Runs `f`, which must throw a LinkError containing `first` (the file) and each of `parts`; bounds its time and heap. */
function rejects(f: () => unknown, first: string, parts: string[], inputBytes: number): string {
  global.gc?.();
  const m0 = process.memoryUsage();
  const t0 = performance.now();
  let err: unknown;
  let kept: unknown;
  try {
    kept = f();
  } catch (e) {
    err = e;
  }
  const ms = performance.now() - t0;
  const m1 = process.memoryUsage();
  const grew = m1.heapUsed + m1.arrayBuffers - (m0.heapUsed + m0.arrayBuffers);
  expect(kept, 'the input was accepted').to.equal(undefined);
  expect(err, `expected a LinkError, got ${String(err)}`).to.be.instanceOf(LinkError);
  const msg = (err as LinkError).message;
  expect(msg).to.contain(first);
  for (const p of parts) expect(msg).to.contain(p);
  expect(ms, `rejecting took ${ms.toFixed(0)} ms`).to.be.below(500);
  expect(grew, `rejecting grew the heap by ${grew} bytes for a ${inputBytes}-byte input`).to.be.below(16 * inputBytes + 32 * 2 ** 20);
  return msg;
}

describe('robustness: hostile counts and sizes are rejected, not allocated', function () {
  describe('ELF objects', function () {
    it('a header claiming 65535 sections in a small file', function () {
      const o = elf([], (dv) => dv.setUint16(0x3c, 0xffff, true));
      rejects(() => readElfObject('big.o', o), 'big.o', ['section header table (65535 entries)', 'at offset 0x'], o.length);
    });

    it('extended numbering claiming 4 billion sections (e_shnum 0, section 0 sh_size 2^32)', function () {
      const o = elf([], (dv, shoff) => {
        dv.setUint16(0x3c, 0, true);
        dv.setBigUint64(shoff + 0x20, 1n << 32n, true);
      });
      rejects(() => readElfObject('huge.o', o), 'huge.o', ['4294967296 entries', 'at offset 0x'], o.length);
    });

    it('a symbol table claiming a terabyte', function () {
      const o = elf([{ name: '.strtab', type: SHT.STRTAB, data: new Uint8Array(1) }, { name: '.symtab', type: SHT.SYMTAB, link: 2, info: 1, entsize: 24, data: symtab(1, 0), size: 1n << 40n }]);
      rejects(() => readElfObject('sym.o', o), 'sym.o', ['symbol table', 'extends past the end', 'at offset 0x'], o.length);
    });

    it('a relocation section claiming 96 GiB', function () {
      const o = elf([
        { name: '.text', type: SHT.PROGBITS, flags: 6, data: new Uint8Array(16) },
        { name: '.strtab', type: SHT.STRTAB, data: new Uint8Array(1) },
        { name: '.symtab', type: SHT.SYMTAB, link: 3, info: 1, entsize: 24, data: symtab(0, 0) },
        { name: '.rela.text', type: SHT.RELA, link: 4, info: 2, entsize: 24, data: new Uint8Array(24), size: 24n << 32n },
      ]);
      rejects(() => readElfObject('rela.o', o), 'rela.o', ["relocation section '.rela.text'", 'extends past the end', 'at offset 0x'], o.length);
    });

    it('2000 relocation sections over the same 24 KB: overlapping sections', function () {
      const relocs = new Uint8Array(24 * 1000);
      const secs: Sec[] = [
        { name: '.text', type: SHT.PROGBITS, flags: 6, data: new Uint8Array(4096) },
        { name: '.strtab', type: SHT.STRTAB, data: new Uint8Array(1) },
        { name: '.symtab', type: SHT.SYMTAB, link: 3, info: 1, entsize: 24, data: symtab(0, 0) },
        { name: '.rela.text', type: SHT.RELA, link: 4, info: 2, entsize: 24, data: relocs },
      ];
      const o0 = elf(secs);
      const at = new DataView(o0.buffer).getBigUint64(Number(new DataView(o0.buffer).getBigUint64(0x28, true)) + 5 * 64 + 0x18, true);
      for (let i = 0; i < 2000; i++) secs.push({ name: '.rela.text', type: SHT.RELA, link: 4, info: 2, entsize: 24, offset: Number(at), size: relocs.length });
      const o = elf(secs);
      rejects(() => readElfObject('overlap.o', o), 'overlap.o', ['overlaps other sections', 'at offset 0x'], o.length);
    });

    it('4000 symbols that all name the same 64 KB string: names bounded by the file size', function () {
      const str = new Uint8Array(65536 + 2).fill(0x61);
      str[0] = 0;
      str[str.length - 1] = 0;
      const o = elf([{ name: '.strtab', type: SHT.STRTAB, data: str }, { name: '.symtab', type: SHT.SYMTAB, link: 2, info: 1, entsize: 24, data: symtab(4000, 1) }]);
      rejects(() => readElfObject('names.o', o), 'names.o', ['add up to more than', 'at offset 0x'], o.length);
    });

    it('1000 group sections over the same bytes: overlapping sections', function () {
      const words = new Uint8Array(4 * 4096);
      new DataView(words.buffer).setUint32(0, 1, true); // GRP_COMDAT, then section 0 (skipped as out of range)
      const secs: Sec[] = [
        { name: '.strtab', type: SHT.STRTAB, data: new Uint8Array(1) },
        { name: '.symtab', type: SHT.SYMTAB, link: 2, info: 1, entsize: 24, data: symtab(1, 0) },
        { name: '.group', type: SHT.GROUP, link: 3, info: 1, entsize: 4, data: words },
      ];
      const o0 = elf(secs);
      const dv = new DataView(o0.buffer);
      const at = Number(dv.getBigUint64(Number(dv.getBigUint64(0x28, true)) + 4 * 64 + 0x18, true));
      // Every word names section 2 (.strtab, not an atom): read, skipped, no error before the whole table is walked.
      for (let k = 1; k < 4096; k++) new DataView(words.buffer).setUint32(4 * k, 2, true);
      for (let i = 0; i < 1000; i++) secs.push({ name: '.group', type: SHT.GROUP, link: 3, info: 1, entsize: 4, offset: at, size: words.length });
      const o = elf(secs);
      rejects(() => readElfObject('groups.o', o), 'groups.o', ['overlaps other sections', 'at offset 0x'], o.length);
    });
  });

  describe('archives', function () {
    const enc = new TextEncoder();
    const header = (name: string, size: number | string) =>
      enc.encode(name.padEnd(16) + '0'.padEnd(12) + '0'.padEnd(6) + '0'.padEnd(6) + '644'.padEnd(8) + String(size).padEnd(10) + '`\n');
    const cat = (parts: Uint8Array[]) => Uint8Array.from(parts.flatMap((p) => [...p]));

    it('a GNU symbol index claiming 2^32-1 symbols', function () {
      const idx = new Uint8Array(8);
      new DataView(idx.buffer).setUint32(0, 0xffffffff, false);
      const a = cat([enc.encode('!<arch>\n'), header('/', 8), idx]);
      rejects(() => readArchive('lib.a', a), 'lib.a', ['claims 4294967295 symbols', 'at offset 0x'], a.length);
    });

    it('a member claiming 9999999999 bytes', function () {
      const a = cat([enc.encode('!<arch>\n'), header('a.o/', 9999999999), new Uint8Array(4)]);
      rejects(() => readArchive('lib.a', a), 'lib.a', ['size 9999999999 extends past the end', 'at offset 0x'], a.length);
    });

    it('a BSD ranlib array claiming 2^32-8 bytes', function () {
      const idx = new Uint8Array(20 + 8);
      idx.set(enc.encode('__.SYMDEF'));
      new DataView(idx.buffer).setUint32(20, 0xfffffff8, true);
      const a = cat([enc.encode('!<arch>\n'), header('#1/20', idx.length), idx]);
      rejects(() => readArchive('lib.a', a), 'lib.a', ['ranlib array size', 'at offset 0x'], a.length);
    });

    it('5000 members whose names all point at one 32 KB long name: names bounded by the file size', function () {
      const long = new Uint8Array(32768 + 2).fill(0x62);
      long.set(enc.encode('/\n'), long.length - 2);
      const parts = [enc.encode('!<arch>\n'), header('//', long.length), long];
      for (let i = 0; i < 5000; i++) parts.push(header('/0', 0));
      const a = cat(parts);
      rejects(() => readArchive('lib.a', a), 'lib.a', ['add up to more than', 'at offset 0x'], a.length);
    });

    it('a symbol index naming one symbol once for each of 20000 members is read in linear time', function () {
      const n = 20000;
      const idxSize = 4 + 4 * n + 2 * n;
      const start = 8 + 60 + idxSize + (idxSize & 1);
      const idx = new Uint8Array(idxSize + (idxSize & 1));
      const dv = new DataView(idx.buffer);
      dv.setUint32(0, n, false);
      for (let i = 0; i < n; i++) {
        dv.setUint32(4 + 4 * i, start + 60 * i, false);
        idx.set([0x78, 0], 4 + 4 * n + 2 * i);
      }
      const parts = [enc.encode('!<arch>\n'), header('/', idxSize), idx];
      for (let i = 0; i < n; i++) parts.push(header(`m${i}.o/`, 0));
      const a = cat(parts);
      const t0 = performance.now();
      const ar = readArchive('lib.a', a);
      expect(performance.now() - t0).to.be.below(1000);
      expect(ar.index!.get('x')!.length).to.equal(n);
    });
  });

  describe('the incremental state', function () {
    /** A state whose payload is `payload`, with a valid checksum. */
    function signed(payload: (w: StateWriter) => void): Uint8Array {
      const p = new StateWriter();
      payload(p);
      const body = p.result();
      const w = new StateWriter();
      w.raw(new TextEncoder().encode('TSLINKST'));
      w.u32(STATE_VERSION);
      w.raw(hashBytes(body));
      w.bytes(body);
      return w.result();
    }

    it('a count claiming 2^32-1 chunk digests', function () {
      const s = signed((w) => {
        w.str('{}');
        w.str('x86_64');
        w.num(0);
        w.raw(new Uint8Array(32));
        w.u32(0xffffffff);
      });
      const msg = rejects(() => decodeState(s), 'record count 4294967295', ["exceeds the state's size"], s.length);
      expect(msg).to.match(/at offset \d+/);
    });

    it('a string claiming 4 GB', function () {
      const s = signed((w) => w.u32(0xfffffff0));
      rejects(() => decodeState(s), 'truncated at offset', [], s.length);
    });
  });
});
