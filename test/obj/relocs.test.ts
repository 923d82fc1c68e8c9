import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readElfObject } from '../../src/obj/readElf.js';
import { ROW, RelocTable, Relocs } from '../../src/obj/relocs.js';

// Relocations are rows of a per-file table (see src/obj/relocs.ts); these
// tests hold the rows to what an independent reader (llvm-readobj) sees.

const SOURCE = `
extern int ext(int);
extern __thread int tls;
int counter = 5;
static const char *const names[] = { "a", "bb", "ccc" };
const char *name(int i) { return names[i & 1] + counter; }
int helper(int x) { return ext(x) + counter + tls; }
long far(void) { return (long)&counter + 0x7fff0000L; }
int entry(void) { return helper(3) + ext(counter) + name(2)[0]; }
`;

interface Row { section: string; offset: number; type: number; symbol: string; addend: number }

/** Every relocation llvm-readobj lists, in file order, with the section it applies to. */
function readobjRelocations(path: string): Row[] {
  const text = execFileSync('llvm-readobj', ['-r', '--expand-relocs', path], { encoding: 'utf8' });
  const rows: Row[] = [];
  let section = '';
  let row: Partial<Row> = {};
  for (const line of text.split('\n')) {
    let m = /^\s*Section \(\d+\) \.rela(\S+) \{/.exec(line);
    if (m) { section = m[1]; continue; }
    if ((m = /^\s*Offset: 0x([0-9A-F]+)/i.exec(line))) row = { section, offset: parseInt(m[1], 16) };
    else if ((m = /^\s*Type: \S+ \((\d+)\)/.exec(line))) row.type = Number(m[1]);
    else if ((m = /^\s*Symbol: (\S*) \(\d+\)/.exec(line))) row.symbol = m[1] === '-' ? '' : m[1];
    else if ((m = /^\s*Addend: 0x([0-9A-F]+)/i.exec(line))) {
      row.addend = Number(BigInt.asIntN(64, BigInt(`0x${m[1]}`)));
      rows.push(row as Row);
    }
  }
  return rows;
}

describe('relocations as rows of a table', () => {
  it('a row reads back as it was written, from any start in a shared table', () => {
    const t = RelocTable.ofRows(4);
    t.set(0, 0, 1, 2, 3);
    t.set(1, 0x10, 2, 7, -4);
    t.set(2, 2 ** 40, 0xffffffff, 9, -(2 ** 52));
    t.set(3, 8, 4, 1, 2 ** 31);
    const rs = new Relocs(t, ROW, 3); // from the second row (a start is a word index)
    expect(rs.length).to.equal(3);
    expect([rs.offset(0), rs.type(0), rs.sym(0), rs.addend(0)]).to.deep.equal([0x10, 2, 7, -4]);
    expect(rs.at(1)).to.deep.equal({ offset: 2 ** 40, type: 0xffffffff, sym: 9, addend: -(2 ** 52) });
    expect([...rs].map((r) => r.addend)).to.deep.equal([-4, -(2 ** 52), 2 ** 31]);
    expect(rs.toArray()).to.deep.equal([...rs]);
    expect(() => new Relocs(t, 2 * ROW, 3)).to.throw(RangeError);
    expect(() => new Relocs(t, 1, 4), 'four rows from word 1 end past the table').to.throw(RangeError);
  });

  it('of, concat and none keep order and never alias', () => {
    const a = Relocs.of([{ offset: 4, type: 2, sym: 1, addend: -4 }]);
    const b = Relocs.of([{ offset: 8, type: 1, sym: 3, addend: 0 }, { offset: 12, type: 1, sym: 2, addend: 16 }]);
    const ab = a.concat(b);
    expect(ab.toArray().map((r) => r.offset)).to.deep.equal([4, 8, 12]);
    expect(a.length).to.equal(1);
    expect(Relocs.of([])).to.equal(Relocs.none);
    expect(Relocs.none.concat(b)).to.equal(b);
    expect(b.concat(Relocs.none)).to.equal(b);
    expect([...Relocs.none]).to.deep.equal([]);
  });

  // The object's bytes at offset 0 of their buffer (the table is those bytes), and at offset 1 (not
  // 4-byte aligned: the rows are copied into a table of their own).
  for (const [arch, shift] of [['x86_64', 0], ['aarch64', 0], ['x86_64', 1]] as const) {
    it(`an ${arch} object's relocations equal llvm-readobj's, rows of one table ${shift ? 'copied from unaligned bytes' : 'over the file\'s bytes'}`, function () {
      this.timeout(60000);
      const dir = mkdtempSync(join(tmpdir(), 'tslink-relocs-'));
      try {
        writeFileSync(join(dir, 'r.c'), SOURCE);
        const obj = join(dir, 'r.o');
        execFileSync('clang', [`--target=${arch}-linux-gnu`, '-c', '-O1', '-g', '-fPIC', '-ffunction-sections', '-fdata-sections', '-o', obj, join(dir, 'r.c')]);
        const file = readFileSync(obj);
        const bytes = new Uint8Array(new ArrayBuffer(file.length + shift), shift, file.length);
        bytes.set(file);
        const o = readElfObject('r.o', bytes);
        const want = readobjRelocations(obj);
        expect(want.length).to.be.greaterThan(20);
        const got: Row[] = [];
        const tables = new Set<RelocTable>();
        for (const atom of o.atoms) {
          if (atom.relocs.length) tables.add(atom.relocs.table);
          for (const r of atom.relocs) {
            const s = o.symbols[r.sym];
            // llvm-readobj names a section symbol by its section.
            got.push({ section: atom.name, offset: r.offset, type: r.type, symbol: s.name || (s.atom >= 0 ? o.atoms[s.atom].name : ''), addend: r.addend });
          }
        }
        const key = (r: Row) => `${r.section} ${r.offset} ${r.type} ${r.symbol} ${r.addend}`;
        // Relocations of sections the reader drops (.llvm_addrsig) are not an atom's.
        const kept = new Set(o.atoms.map((a) => a.name));
        expect(got.map(key).sort()).to.deep.equal(want.filter((r) => kept.has(r.section)).map(key).sort());
        expect(tables.size, 'one table for the whole file').to.equal(1);
        const [table] = tables;
        if (shift === 0) {
          expect(table.words.buffer, 'read in place').to.equal(bytes.buffer);
          expect(table.words.byteLength).to.equal(bytes.length & ~3);
        } else {
          expect(table.words.buffer, 'a copy').to.not.equal(bytes.buffer);
          expect(table.words.length).to.equal(got.length * ROW);
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
