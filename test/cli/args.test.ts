import { expect } from 'chai';
import { parseArgs } from '../../src/cli/args.js';

// Input files are told from options by their first character; every option's value is taken with it.
describe('command line: input files among options', () => {
  it('takes each option\'s value with it, and the rest as inputs with the modes in force', () => {
    const o = parseArgs([
      '-m', 'elf_x86_64', '-o', 'out', '-L', 'lib', '--entry', 'main', '-soname', 'libx.so', '-dynamic-linker', '/lib/ld.so',
      'a.o', '--whole-archive', 'b.a', '--no-whole-archive', '--as-needed', 'c.so', '-lm', '-Bstatic', 'd.a', '-', 'e.o',
    ]);
    expect(o.output).to.equal('out');
    expect(o.libraryPaths).to.deep.equal(['lib']);
    expect(o.entry).to.equal('main');
    expect(o.soname).to.equal('libx.so');
    expect(o.dynamicLinker).to.equal('/lib/ld.so');
    expect(o.inputs).to.deep.equal([
      { kind: 'file', path: 'a.o', wholeArchive: false, staticOnly: false, asNeeded: false },
      { kind: 'file', path: 'b.a', wholeArchive: true, staticOnly: false, asNeeded: false },
      { kind: 'file', path: 'c.so', wholeArchive: false, staticOnly: false, asNeeded: true },
      { kind: 'library', name: 'm', wholeArchive: false, staticOnly: false, asNeeded: true },
      { kind: 'file', path: 'd.a', wholeArchive: false, staticOnly: true, asNeeded: true },
      { kind: 'file', path: '-', wholeArchive: false, staticOnly: true, asNeeded: true },
      { kind: 'file', path: 'e.o', wholeArchive: false, staticOnly: true, asNeeded: true },
    ]);
  });

  it('still refuses response files and unknown options', () => {
    expect(() => parseArgs(['a.o', '@args.txt'])).to.throw(/response files are not supported yet: @args.txt/);
    expect(() => parseArgs(['a.o', '--frobnicate'])).to.throw(/unknown argument '--frobnicate'/);
  });

  it('takes thousands of inputs in order', () => {
    const names = Array.from({ length: 5000 }, (_, i) => `obj/u${i}.o`);
    expect(parseArgs(['-o', 'prog', ...names]).inputs.map((i) => (i.kind === 'file' ? i.path : ''))).to.deep.equal(names);
  });
});
