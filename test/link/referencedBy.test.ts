/**
 * Which files a global is referenced by while undefined (GlobalSymbol's
 * referencedBy, for messages and for whether anything refers to it): the
 * first 8 files in load order; a symbol nothing refers to shares one
 * frozen empty list.
 */
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { NO_REFERENCES, resolveSymbols } from '../../src/link/resolve.js';
import { readElfObject } from '../../src/obj/readElf.js';
import { compile, requireToolsOrSkip, tmpDir } from '../support/toolchain.js';

describe('the files a symbol is referenced by', function () {
  this.timeout(60_000);

  it('lists the first 8 files that refer to an undefined symbol, in load order; the others share the empty list', async function () {
    await requireToolsOrSkip(this, ['clang']);
    const dir = tmpDir('referenced-by-');
    try {
      const sources: Record<string, string> = { 'def.c': 'int defined_fn(void) { return 1; }\nint lonely(void) { return 2; }\n' };
      for (let i = 0; i < 10; i++) sources[`use${i}.c`] = `extern int missing(void); extern int defined_fn(void);\nint use${i}(void) { return missing() + defined_fn(); }\n`;
      const names = Object.keys(sources);
      for (const name of names) {
        fs.writeFileSync(path.join(dir, name), sources[name]);
        await compile(path.join(dir, name), path.join(dir, name.replace(/\.c$/, '.o')), 'x86_64');
      }
      const res = resolveSymbols(names.map((n) => {
        const o = n.replace(/\.c$/, '.o');
        return { kind: 'object' as const, file: readElfObject(o, fs.readFileSync(path.join(dir, o))) };
      }), () => {
        throw new Error('no archives here');
      }, () => false);
      const refs = (name: string) => res.symbols[res.byName.get(name)!].referencedBy.map((f) => res.files[f].name);

      expect(refs('missing')).to.deep.equal(['use0.o', 'use1.o', 'use2.o', 'use3.o', 'use4.o', 'use5.o', 'use6.o', 'use7.o']);
      // Defined before anyone referred to it, and never referred to: no list of its own.
      expect(refs('defined_fn')).to.deep.equal([]);
      expect(res.symbols[res.byName.get('lonely')!].referencedBy).to.equal(NO_REFERENCES);
      expect(Object.isFrozen(NO_REFERENCES)).to.equal(true);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
