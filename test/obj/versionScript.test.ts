import { expect } from 'chai';
import { LinkError } from '../../src/obj/LinkError.js';
import { parseVersionScript, versionMatcher } from '../../src/obj/versionScript.js';

describe('version scripts', function () {
  it('reads anonymous and named nodes, comments, inheritance', function () {
    const s = parseVersionScript(`
      # a comment
      LIB_1.0 { global: foo; "quoted"; local: *; };
      /* another */ LIB_2.0 { bar_*; } LIB_1.0;
    `, 'lib.map');
    expect(s.nodes).to.deep.equal([
      { name: 'LIB_1.0', parent: null, global: ['foo', 'quoted'], local: ['*'] },
      { name: 'LIB_2.0', parent: 'LIB_1.0', global: ['bar_*'], local: [] },
    ]);
    expect(parseVersionScript('{ global: a; local: *; };', 'x').nodes[0].name).to.equal(null);
  });

  it('matches exact names first, then globs in order, the catch-all last', function () {
    const m = versionMatcher(parseVersionScript('V1 { global: f*; local: *; }; V2 { global: foo; fo?; local: secret_[0-9]; };', 'x'));
    expect(m('foo')).to.deep.equal({ local: false, node: 1 });
    expect(m('fob')).to.deep.equal({ local: false, node: 0 });
    expect(m('secret_1')).to.deep.equal({ local: true, node: -1 });
    expect(m('other')).to.deep.equal({ local: true, node: -1 });
    expect(versionMatcher(parseVersionScript('{ global: a; };', 'x'))('b')).to.deep.equal({ local: false, node: -1 });
  });

  for (const [text, part] of [
    ['V1 { global: a; ', "expected '}'"],
    ['V1 { global: a; } V0;', 'inherits from V0'],
    ['V1 { extern "C++" { ns::*; }; };', 'extern "C++"'],
    ['V1 { a; }; V1 { b; };', 'defined twice'],
    ['/* open', 'unterminated comment'],
    ['{ a; }; { b; };', 'anonymous'],
  ] as const) {
    it(`is an error naming the script: ${part}`, function () {
      expect(() => parseVersionScript(text, 'bad.map')).to.throw(LinkError).with.property('message').that.includes('bad.map').and.includes(part);
    });
  }
});
