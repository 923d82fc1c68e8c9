import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isArchive, isThinArchive, readArchive } from '../../src/obj/archive.js';
import { LinkError } from '../../src/obj/LinkError.js';
import type { Archive } from '../../src/obj/model.js';

/** Runs `fn` and checks that it throws a LinkError whose message contains every string in `parts`. */
function expectLinkError(fn: () => unknown, ...parts: string[]): LinkError {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err, 'expected a LinkError to be thrown').to.not.equal(undefined);
  if (!(err instanceof LinkError)) {
    throw new Error(`expected a LinkError, got ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`);
  }
  for (const p of parts) expect(err.message).to.contain(p);
  return err;
}

/** Reads and returns either the archive or the LinkError; anything else escapes and fails the test. */
function readOrLinkError(name: string, bytes: Uint8Array, thin?: (p: string) => Uint8Array): Archive | LinkError {
  try {
    return readArchive(name, bytes, thin);
  } catch (e) {
    if (e instanceof LinkError) return e;
    throw new Error(`non-LinkError from readArchive: ${e instanceof Error ? e.stack : String(e)}`);
  }
}

const enc = new TextEncoder();

/** A 60-byte ar member header; fields are space padded, nothing is validated. */
function header(name: string, size: string | number, fmag = '`\n'): string {
  const f = (s: string, w: number) => (s + ' '.repeat(w)).slice(0, w);
  return f(name, 16) + f('0', 12) + f('0', 6) + f('0', 6) + f('644', 8) + f(String(size), 10) + fmag;
}

/** Builds an archive from raw strings (each character one byte). */
function raw(...parts: (string | Uint8Array)[]): Uint8Array {
  const chunks = parts.map((p) => (typeof p === 'string' ? Uint8Array.from(p, (c) => c.charCodeAt(0)) : p));
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}

function be32(n: number): string {
  return String.fromCharCode((n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
}
function le32(n: number): string {
  return String.fromCharCode(n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff);
}

/** Parses `llvm-nm --print-armap` into symbol -> member names. */
function armap(archive: string, cwd: string): Map<string, string[]> {
  const out = execFileSync('llvm-nm', ['--print-armap', archive], { cwd, encoding: 'utf8' });
  const map = new Map<string, string[]>();
  const lines = out.split('\n');
  const start = lines.indexOf('Archive map');
  expect(start, 'llvm-nm printed an archive map').to.be.at.least(0);
  for (let i = start + 1; i < lines.length && lines[i] !== ''; i++) {
    const m = / in (.*)$/.exec(lines[i]);
    if (!m) continue;
    const sym = lines[i].slice(0, m.index);
    const list = map.get(sym) ?? [];
    if (!list.includes(m[1])) list.push(m[1]);
    map.set(sym, list);
  }
  return map;
}

/** The archive's index with member indices replaced by member names. */
function indexByName(a: Archive): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const [sym, ms] of a.index ?? []) out.set(sym, ms.map((m) => a.members[m].name));
  return out;
}

function sortedEntries(m: Map<string, string[]>): [string, string[]][] {
  return [...m.entries()].map(([k, v]) => [k, [...v].sort()] as [string, string[]]).sort((a, b) => (a[0] < b[0] ? -1 : 1));
}

const LONG = 'a_very_long_member_name.o';

describe('archive reader', function () {
  let dir: string;
  const obj = (f: string) => readFileSync(join(dir, 'obj', f));
  const lib = (f: string) => readFileSync(join(dir, 'lib', f));

  before(function () {
    dir = mkdtempSync(join(tmpdir(), 'tslink-archive-'));
    mkdirSync(join(dir, 'obj'));
    mkdirSync(join(dir, 'lib'));
    const sources: Record<string, string> = {
      'a.c': 'int foo(void) { return 1; }\nint g = 3;\n__attribute__((weak)) int dup(void) { return 0; }\n',
      [LONG.replace(/\.o$/, '.c')]:
        'static const char s[] = "hi";\nconst char *bar(void) { return s; }\nint verylongsymbolname_in_long_member;\n',
      'c.c': 'int c1;\nextern int foo(void);\nint callfoo(void) { return foo(); }\n__attribute__((weak)) int dup(void) { return 2; }\n',
    };
    for (const [file, text] of Object.entries(sources)) {
      writeFileSync(join(dir, 'obj', file), text);
      execFileSync('clang', ['--target=x86_64-linux-gnu', '-c', file, '-o', file.replace(/\.c$/, '.o')], {
        cwd: join(dir, 'obj'),
      });
    }
    writeFileSync(join(dir, 'obj', 'odd.dat'), 'hello'); // 5 bytes: needs a padding byte
    const members = ['a.o', 'odd.dat', LONG, 'c.o'];
    const ar = (args: string[], env?: NodeJS.ProcessEnv) =>
      execFileSync('llvm-ar', args, { cwd: join(dir, 'obj'), env: { ...process.env, ...env } });
    ar(['rcs', '../lib/gnu.a', ...members]);
    ar(['rcs', '--format=bsd', '../lib/bsd.a', ...members]);
    ar(['rcS', '../lib/noindex.a', ...members]);
    ar(['rcs', '../lib/sym64.a', ...members], { SYM64_THRESHOLD: '0' });
    ar(['rcsT', '../lib/thin.a', ...members]);
  });

  after(function () {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('recognises archive magic', function () {
    expect(isArchive(lib('gnu.a'))).to.equal(true);
    expect(isArchive(lib('bsd.a'))).to.equal(true);
    expect(isArchive(lib('thin.a'))).to.equal(true);
    expect(isArchive(obj('a.o'))).to.equal(false);
    expect(isArchive(enc.encode('!<arch>'))).to.equal(false);
    expect(isArchive(new Uint8Array(0))).to.equal(false);
    expect(isThinArchive(lib('thin.a'))).to.equal(true);
    for (const other of [lib('gnu.a'), lib('bsd.a'), obj('a.o'), enc.encode('!<thin>'), new Uint8Array(0)]) expect(isThinArchive(other)).to.equal(false);
  });

  for (const kind of ['gnu', 'bsd', 'sym64'] as const) {
    it(`reads a ${kind} archive: names, bytes and index`, function () {
      const bytes = lib(`${kind}.a`);
      const a = readArchive(`${kind}.a`, bytes);
      expect(a.name).to.equal(`${kind}.a`);
      expect(a.thin).to.equal(false);
      expect(a.members.map((m) => m.name)).to.deep.equal(['a.o', 'odd.dat', LONG, 'c.o']);
      for (const m of a.members) {
        expect(Buffer.from(m.bytes).equals(obj(m.name)), `bytes of ${m.name}`).to.equal(true);
        // A view into the archive, not a copy.
        expect(m.bytes.buffer).to.equal(bytes.buffer);
        // `offset` is the member's header offset: the header's size field matches.
        const size = Number(Buffer.from(bytes.subarray(m.offset + 48, m.offset + 58)).toString('latin1').trim());
        expect(size).to.be.at.least(m.bytes.length);
        expect(bytes[m.offset + 58]).to.equal(0x60);
      }
      expect(a.index).to.not.equal(null);
      expect(sortedEntries(indexByName(a))).to.deep.equal(sortedEntries(armap(`lib/${kind}.a`, dir)));
      // What the sources define, independently of llvm-nm.
      const idx = indexByName(a);
      expect(idx.get('foo')).to.deep.equal(['a.o']);
      expect(idx.get('g')).to.deep.equal(['a.o']);
      expect(idx.get('bar')).to.deep.equal([LONG]);
      expect(idx.get('verylongsymbolname_in_long_member')).to.deep.equal([LONG]);
      expect(idx.get('c1')).to.deep.equal(['c.o']);
      expect(idx.get('callfoo')).to.deep.equal(['c.o']);
      expect([...(idx.get('dup') ?? [])].sort()).to.deep.equal(['a.o', 'c.o']);
      expect(idx.has('s'), 'static symbols are not indexed').to.equal(false);
    });
  }

  it('pads after an odd-sized member', function () {
    const bytes = lib('gnu.a');
    const a = readArchive('gnu.a', bytes);
    const odd = a.members[1];
    expect(odd.bytes.length).to.equal(5);
    expect(Buffer.from(odd.bytes).toString()).to.equal('hello');
    const next = a.members[2];
    expect(next.offset).to.equal(odd.offset + 60 + 6);
    expect(bytes[odd.offset + 60 + 5]).to.equal(0x0a);
  });

  it('reads an archive without a symbol index', function () {
    const a = readArchive('noindex.a', lib('noindex.a'));
    expect(a.index).to.equal(null);
    expect(a.members.map((m) => m.name)).to.deep.equal(['a.o', 'odd.dat', LONG, 'c.o']);
    for (const m of a.members) expect(Buffer.from(m.bytes).equals(obj(m.name))).to.equal(true);
  });

  it('reads an empty archive', function () {
    const a = readArchive('empty.a', enc.encode('!<arch>\n'));
    expect(a.members).to.deep.equal([]);
    expect(a.index).to.equal(null);
  });

  it('reads a thin archive through the callback, resolving paths against the archive directory', function () {
    const archivePath = join(dir, 'lib', 'thin.a');
    const requested: string[] = [];
    const a = readArchive(archivePath, readFileSync(archivePath), (p) => {
      requested.push(p);
      return readFileSync(p);
    });
    expect(a.thin).to.equal(true);
    expect(a.members.map((m) => m.name)).to.deep.equal(['a.o', 'odd.dat', LONG, 'c.o'].map((f) => `../obj/${f}`));
    expect(requested).to.deep.equal(['a.o', 'odd.dat', LONG, 'c.o'].map((f) => join(dir, 'obj', f)));
    for (const m of a.members) {
      expect(Buffer.from(m.bytes).equals(readFileSync(join(dir, 'lib', m.name)))).to.equal(true);
    }
    expect(sortedEntries(indexByName(a))).to.deep.equal(sortedEntries(armap('lib/thin.a', dir)));
  });

  describe('malformed archives', function () {
    it('rejects a truncated magic', function () {
      expectLinkError(() => readArchive('libcore.a', enc.encode('!<ar')), 'libcore.a', 'offset 0x0', 'magic');
      expectLinkError(() => readArchive('libcore.a', new Uint8Array(0)), 'libcore.a', 'offset 0x0');
    });

    it('rejects a file that is not an archive', function () {
      expectLinkError(() => readArchive('a.o', obj('a.o')), 'a.o', 'bad magic', 'offset 0x0');
    });

    it('rejects a truncated member header', function () {
      const bytes = lib('gnu.a').subarray(0, 8 + 30);
      expectLinkError(() => readArchive('libcore.a', bytes), 'libcore.a', 'offset 0x8', 'truncated');
      const a = readArchive('gnu.a', lib('gnu.a'));
      const last = a.members[a.members.length - 1];
      expectLinkError(
        () => readArchive('libcore.a', lib('gnu.a').subarray(0, last.offset + 59)),
        'libcore.a',
        `offset 0x${last.offset.toString(16)}`,
        'truncated',
      );
    });

    it('rejects a bad header terminator', function () {
      const bytes = Uint8Array.from(lib('gnu.a'));
      bytes[8 + 58] = 0x21;
      const err = expectLinkError(() => readArchive('libcore.a', bytes), 'libcore.a', 'offset 0x8', 'bad terminator');
      expect(err.message).to.match(/^libcore\.a: malformed archive: member header at offset 0x8 has bad terminator/);
    });

    it('rejects a non-decimal size', function () {
      const bytes = Uint8Array.from(lib('gnu.a'));
      bytes.set(enc.encode('12a'), 8 + 48);
      expectLinkError(() => readArchive('libcore.a', bytes), 'libcore.a', 'offset 0x8', 'non-decimal size');
      const blank = raw('!<arch>\n', header('x.o/', ''), '');
      expectLinkError(() => readArchive('libcore.a', blank), 'libcore.a', 'offset 0x8', 'non-decimal size');
      const negative = raw('!<arch>\n', header('x.o/', '-4'), 'abcd');
      expectLinkError(() => readArchive('libcore.a', negative), 'libcore.a', 'offset 0x8', 'non-decimal size');
    });

    it('rejects a size past the end of the file', function () {
      const bytes = raw('!<arch>\n', header('x.o/', 9999), 'short');
      const err = expectLinkError(() => readArchive('libcore.a', bytes), 'libcore.a', 'offset 0x8');
      expect(err.message).to.match(/^libcore\.a: member 'x\.o' at offset 0x8: size 9999 extends past the end of the file/);
      // The largest value the field can hold must not be allocated or sliced.
      const huge = raw('!<arch>\n', header('x.o/', 9999999999), 'short');
      expectLinkError(() => readArchive('libcore.a', huge), 'libcore.a', 'offset 0x8', 'extends past the end');
      // The same for the index and the long-name table.
      const bigIndex = raw('!<arch>\n', header('/', 1000), be32(0));
      expectLinkError(() => readArchive('libcore.a', bigIndex), 'libcore.a', 'offset 0x8', 'extends past the end');
      const bigNames = raw('!<arch>\n', header('//', 1000), 'x.o/\n');
      expectLinkError(() => readArchive('libcore.a', bigNames), 'libcore.a', 'offset 0x8', 'extends past the end');
    });

    it('rejects a symbol index entry that does not point at a member header', function () {
      const good = lib('gnu.a');
      // The first offset of the GNU index: after the magic, the header and the count.
      const at = 8 + 60 + 4;
      const outside = Uint8Array.from(good);
      new DataView(outside.buffer).setUint32(at, 0x7fffff00, false);
      expectLinkError(() => readArchive('libcore.a', outside), 'libcore.a', 'offset 0x7fffff00', 'not a member header', "'foo'");
      // Inside the file but in the middle of a member.
      const a = readArchive('gnu.a', good);
      const middle = Uint8Array.from(good);
      new DataView(middle.buffer).setUint32(at, a.members[0].offset + 61, false);
      expectLinkError(() => readArchive('libcore.a', middle), 'libcore.a', `offset 0x${(a.members[0].offset + 61).toString(16)}`);
      // At a header, but of the long-name table, which is not a member.
      const tableHeader = Buffer.from(good).indexOf('//              ', 8, 'latin1');
      expect(tableHeader).to.be.greaterThan(0);
      const special = Uint8Array.from(good);
      new DataView(special.buffer).setUint32(at, tableHeader, false);
      expectLinkError(() => readArchive('libcore.a', special), 'libcore.a', `offset 0x${tableHeader.toString(16)}`);
    });

    it('rejects a symbol index whose count exceeds its size', function () {
      const bytes = raw('!<arch>\n', header('/', 8), be32(0xffffffff), be32(8));
      expectLinkError(() => readArchive('libcore.a', bytes), 'libcore.a', 'symbol index at offset 0x8', '4294967295');
      const noNames = raw('!<arch>\n', header('/', 8), be32(1), be32(76), header('x.o/', 2), 'ab');
      expectLinkError(() => readArchive('libcore.a', noNames), 'libcore.a', 'offset');
      const tiny = raw('!<arch>\n', header('/', 2), 'ab');
      expectLinkError(() => readArchive('libcore.a', tiny), 'libcore.a', 'offset 0x8', 'too small');
    });

    it('rejects a long-name reference past the table', function () {
      const good = lib('gnu.a');
      const a = readArchive('gnu.a', good);
      const long = a.members.find((m) => m.name === LONG)!;
      expect(Buffer.from(good.subarray(long.offset, long.offset + 1)).toString()).to.equal('/');
      const bytes = Uint8Array.from(good);
      bytes.set(enc.encode('/9999           '), long.offset);
      expectLinkError(() => readArchive('libcore.a', bytes), 'libcore.a', `offset 0x${long.offset.toString(16)}`, 'long-name table');
    });

    it('rejects a long-name reference without a table, and an unterminated long name', function () {
      const noTable = raw('!<arch>\n', header('/0', 2), 'ab');
      expectLinkError(() => readArchive('libcore.a', noTable), 'libcore.a', 'offset 0x8', 'long-name table');
      const unterminated = raw('!<arch>\n', header('//', 4), 'abcd', header('/0', 2), 'ab');
      expectLinkError(() => readArchive('libcore.a', unterminated), 'libcore.a', 'offset 0x48', 'not terminated');
    });

    it('rejects bad BSD names and indices', function () {
      const longName = raw('!<arch>\n', header('#1/20', 4), 'abcd');
      expectLinkError(() => readArchive('libcore.a', longName), 'libcore.a', 'offset 0x8', 'name length');
      const symdef = (body: string) => raw('!<arch>\n', header('#1/12', 12 + body.length), '__.SYMDEF\0\0\0', body);
      // Ranlib array larger than the member.
      expectLinkError(() => readArchive('libcore.a', symdef(le32(0xfffffff8) + le32(0))), 'libcore.a', 'offset 0x8', 'ranlib');
      // String table size past the member.
      expectLinkError(() => readArchive('libcore.a', symdef(le32(0) + le32(100))), 'libcore.a', 'offset 0x8', 'string table');
      // Name offset past the string table.
      expectLinkError(
        () => readArchive('libcore.a', symdef(le32(8) + le32(50) + le32(8) + le32(4) + 'foo\0')),
        'libcore.a',
        'offset',
        'past the string table',
      );
      // Member offset that is not a header.
      expectLinkError(
        () => readArchive('libcore.a', symdef(le32(8) + le32(0) + le32(0x1234) + le32(4) + 'foo\0')),
        'libcore.a',
        'offset 0x1234',
        'not a member header',
      );
      // The real BSD archive, with its first ranlib entry redirected.
      const good = Uint8Array.from(lib('bsd.a'));
      const at = 8 + 60 + 12 + 4 + 4; // magic, header, "#1/12" name, ranlib size, strx
      new DataView(good.buffer).setUint32(at, 0xabcdef, true);
      expectLinkError(() => readArchive('libcore.a', good), 'libcore.a', 'offset 0xabcdef');
    });

    it('requires a callback for thin archives', function () {
      const err = expectLinkError(() => readArchive('libthin.a', lib('thin.a')), 'libthin.a', 'thin archives need file access', 'offset');
      expect(err.message).to.contain("member '../obj/a.o' at offset 0x");
    });

    it('reports a thin member that cannot be read or is out of date', function () {
      const bytes = lib('thin.a');
      expectLinkError(
        () =>
          readArchive(join(dir, 'lib', 'thin.a'), bytes, (p) => {
            throw Object.assign(new Error(`ENOENT: no such file or directory, open '${p}'`), { code: 'ENOENT' });
          }),
        'thin.a',
        'offset',
        'ENOENT',
      );
      expectLinkError(() => readArchive('libthin.a', bytes, () => new Uint8Array(3)), 'libthin.a', 'offset', 'out of date');
    });

    it('yields only archives or LinkErrors for every truncation', function () {
      for (const f of ['gnu.a', 'bsd.a', 'thin.a']) {
        const bytes = lib(f);
        for (let n = 0; n < bytes.length; n++) {
          const r = readOrLinkError(join(dir, 'lib', f), bytes.subarray(0, n), (p) => readFileSync(p));
          if (r instanceof LinkError) expect(r.message).to.contain(f);
          else expect(n === 8 || n >= bytes.length - 1, `prefix of ${n} bytes accepted`).to.equal(true);
        }
      }
    });

    it('yields only archives or LinkErrors under random byte corruption', function () {
      let seed = 0x1234567;
      const rand = () => {
        seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
        return seed >>> 8;
      };
      for (const f of ['gnu.a', 'bsd.a', 'sym64.a']) {
        const good = lib(f);
        // Concentrate on the headers and the index, where the structure is.
        const hot = Math.min(good.length, 400);
        for (let iter = 0; iter < 400; iter++) {
          const bytes = Uint8Array.from(good);
          const flips = 1 + (rand() % 4);
          for (let k = 0; k < flips; k++) {
            const pos = iter % 2 === 0 ? rand() % hot : rand() % bytes.length;
            bytes[pos] = rand() & 0xff;
          }
          const r = readOrLinkError(f, bytes);
          if (r instanceof LinkError) expect(r.message).to.contain(f);
        }
      }
    });
  });
});
