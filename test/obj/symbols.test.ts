/**
 * An ELF object's symbols as readElf reads them (PackedSymbol: binding, type
 * and visibility in one small integer), against llvm-readelf's reading of
 * the same object.
 */
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PackedSymbol, SymBinding, SymPlace, type SymType, type Visibility } from '../../src/obj/model.js';
import { readElfObject } from '../../src/obj/readElf.js';
import { compile, requireToolsOrSkip, tmpDir, tool } from '../support/toolchain.js';

const SOURCE = `
int counter = 1;
static volatile int hidden_static __attribute__((used)) = 2;
__attribute__((visibility("hidden"))) int hidden_var = 3;
__attribute__((visibility("protected"))) int protected_fn(void) { return 4; }
__attribute__((visibility("internal"))) int internal_fn(void) { return 5; } // clang makes it hidden
__attribute__((weak)) int weak_fn(void) { return hidden_static; }
__thread int tls_var = 6;
extern int undefined_var;
__attribute__((weak)) extern int weak_undefined(void);
static int impl(void) { return 7; }
static int (*resolve(void))(void) { return impl; }
int ifunc_fn(void) __attribute__((ifunc("resolve")));
int use(void) { return undefined_var + (weak_undefined ? weak_undefined() : 0) + tls_var + ifunc_fn(); }
`;

const BINDINGS: Record<string, SymBinding> = { LOCAL: SymBinding.Local, GLOBAL: SymBinding.Global, WEAK: SymBinding.Weak };
const TYPES: Record<string, number> = { NOTYPE: 0, OBJECT: 1, FUNC: 2, SECTION: 3, FILE: 4, TLS: 6, IFUNC: 10 };
const VISIBILITIES: Record<string, number> = { DEFAULT: 0, INTERNAL: 1, HIDDEN: 2, PROTECTED: 3 };

describe('object symbols', function () {
  this.timeout(60_000);

  it('pack every binding, type and visibility and give them back', () => {
    for (const binding of [SymBinding.Local, SymBinding.Global, SymBinding.Weak]) {
      for (let type = 0; type < 16; type++) {
        for (let visibility = 0; visibility < 4; visibility++) {
          const s = new PackedSymbol('x', PackedSymbol.bits(binding, type as SymType, visibility as Visibility), 3, 0x1234_5678_9a, 17);
          expect([s.binding, s.type, s.visibility, s.atom, s.value, s.size]).to.deep.equal([binding, type, visibility, 3, 0x1234_5678_9a, 17]);
        }
      }
    }
  });

  for (const arch of ['x86_64', 'aarch64'] as const) {
    it(`${arch}: binding, type, visibility, value and size of every symbol as llvm-readelf reads them`, async function () {
      await requireToolsOrSkip(this, ['clang', 'llvm-readelf']);
      const dir = tmpDir('obj-symbols-');
      try {
        fs.writeFileSync(path.join(dir, 's.c'), SOURCE);
        const obj = path.join(dir, 's.o');
        await compile(path.join(dir, 's.c'), obj, arch);
        const file = readElfObject('s.o', fs.readFileSync(obj));
        // "   Num:    Value          Size Type    Bind   Vis       Ndx Name"
        const rows = (await tool('llvm-readelf', ['-s', '-W', obj])).split('\n')
          .map((l) => /^\s*(\d+): ([0-9a-f]+)\s+(\d+) (\w+)\s+(\w+)\s+(\w+)\s+(\w+)\s*(\S*)/.exec(l))
          .filter((m): m is RegExpExecArray => m !== null);
        expect(rows.length).to.equal(file.symbols.length);
        const seen = new Set<string>();
        for (const [, num, value, size, type, bind, vis, ndx, name] of rows) {
          const s = file.symbols[Number(num)];
          const where = `symbol ${num} (${name || type})`;
          expect(s.binding, where).to.equal(BINDINGS[bind]);
          expect(s.type, where).to.equal(TYPES[type]);
          expect(s.visibility, where).to.equal(VISIBILITIES[vis]);
          expect(s.value, where).to.equal(parseInt(value, 16));
          expect(s.size, where).to.equal(Number(size));
          if (ndx === 'UND') expect(s.atom, where).to.equal(SymPlace.Undefined);
          if (name && type !== 'SECTION') expect(s.name, where).to.equal(name);
          seen.add(`${type} ${bind} ${vis}`);
        }
        // The object has what the test means to cover.
        for (const kind of ['OBJECT GLOBAL DEFAULT', 'OBJECT LOCAL DEFAULT', 'OBJECT GLOBAL HIDDEN', 'FUNC GLOBAL PROTECTED',
          'FUNC WEAK DEFAULT', 'TLS GLOBAL DEFAULT', 'NOTYPE WEAK DEFAULT', 'IFUNC GLOBAL DEFAULT', 'SECTION LOCAL DEFAULT', 'FILE LOCAL DEFAULT']) {
          expect([...seen], kind).to.include(kind);
        }
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
