/**
 * The write pass reads relocation targets through `rememberingTargets`,
 * which answers a global from what it learnt at the first reference. It must
 * answer every relocation as `SymbolValues.target` does: here for globals of
 * each kind (defined, IFUNC, common, linker-defined, undefined weak, in a
 * discarded COMDAT copy), each referenced from several files with several
 * addends.
 */
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { link } from '../../src/link/pipeline.js';
import { rememberingTargets } from '../../src/link/symbols.js';
import { readElfObject } from '../../src/obj/readElf.js';
import type { LinkInput } from '../../src/link/resolve.js';
import { ARCHES, compile, requireTools, tmpDir } from '../support/toolchain.js';

const COMMON_H = `
extern int table[16];
extern int counter;
extern int missing __attribute__((weak));
extern void missing_fn(void) __attribute__((weak));
extern int pick(int);
extern char __start_items[], __stop_items[];
static inline int shared_inline(int x) { return x * 3 + table[2]; }
`;

const A = `${COMMON_H}
int table[16] = { 1, 2, 3 };
int counter;
static int impl_a(int x) { return x + 1; }
static int (*resolve_pick(void))(int) { return impl_a; }
int pick(int) __attribute__((ifunc("resolve_pick")));
__attribute__((section("items"), used)) static const int item_a = 7;
int use_a(int i) { return table[i] + table[3] + (&table[5])[i] + counter + shared_inline(i); }
`;

const B = `${COMMON_H}
__attribute__((section("items"), used)) static const int item_b = 9;
int use_a(int);
int use_b(int i) {
  int n = (int)(__stop_items - __start_items);
  if (&missing) n += missing;
  if (missing_fn) missing_fn();
  return use_a(i) + table[7] + (&table[1])[i] + pick(i) + n + shared_inline(i) + counter;
}
void _start(void) { use_b(1); for (;;) {} }
`;

describe('remembered relocation targets', function () {
  this.timeout(120000);
  before(async function () {
    await requireTools(['clang']);
  });

  for (const arch of ARCHES) {
    it(`${arch}: every relocation's target is the one SymbolValues gives`, async function () {
      const dir = tmpDir('targets');
      fs.writeFileSync(path.join(dir, 'a.c'), A);
      fs.writeFileSync(path.join(dir, 'b.c'), B);
      const flags = ['-fcommon', '-fno-pic', '-O1', '-ffunction-sections', '-fdata-sections', '-fno-inline'];
      await compile(path.join(dir, 'a.c'), path.join(dir, 'a.o'), arch, flags);
      await compile(path.join(dir, 'b.c'), path.join(dir, 'b.o'), arch, flags);
      const inputs: LinkInput[] = ['a.o', 'b.o'].map((n) => {
        const b = fs.readFileSync(path.join(dir, n));
        return { kind: 'object', file: readElfObject(n, new Uint8Array(b.buffer, b.byteOffset, b.byteLength)) };
      });
      const r = link(inputs, () => {
        throw new Error('no archives here');
      }, { arch, entry: '_start', buildId: { kind: 'none' }, undefinedRoots: [], keepChunkDigests: false, ehFrameHdr: false, dynamic: null, relro: true, gcSections: false });
      const remembered = rememberingTargets(r.values);
      let globals = 0;
      const seen = new Set<string>();
      for (const sec of r.plan.sections) {
        for (const ref of sec.atoms) {
          const file = r.plan.files[ref.file];
          const rs = file.atoms[ref.atom].relocs;
          for (let k = 0; k < rs.length; k++) {
            const sym = rs.sym(k), addend = rs.addend(k);
            const want = r.values.target(ref.file, sym, addend);
            const got = remembered(ref.file, sym, addend);
            const where = `${file.name}:${file.atoms[ref.atom].name}+${rs.offset(k)}`;
            expect({ state: got.state, S: got.S, A: got.A, Z: got.Z, name: got.name }, where)
              .to.deep.equal({ state: want.state, S: want.S, A: want.A, Z: want.Z, name: want.name });
            if (ref.file !== r.plan.internal && sym >= file.firstGlobal) {
              globals++;
              seen.add(file.symbols[sym].name);
            }
          }
        }
      }
      // The cases above were all reached, some more than once.
      expect(globals).to.be.greaterThan(seen.size);
      for (const name of ['table', 'counter', 'missing', 'missing_fn', 'pick', 'use_a', '__start_items', '__stop_items']) expect(seen, name).to.include(name);
    });
  }
});
