import { expect } from 'chai';
import { GlobalKind, GlobalTable, type GlobalRecord } from '../../src/session/state.js';
import { StateReader, StateWriter } from '../../src/session/stateCodec.js';

// The globals of a state, looked up by name over their encoded bytes (state.ts GlobalTable): kept in the
// state, or in the records file and read a block at a time.
describe('incremental state: the globals table', () => {
  const names = [
    'main', 'foo', 'foobar', 'fop', 'café', 'cafe', '名前', 'x\u{1F600}y', '_ZN3fooC2Ev', '',
    ...Array.from({ length: 3000 }, (_, i) => `sym_${i}`),
  ];
  const records: GlobalRecord[] = names.map((name, i) => ({
    name, kind: i % 7 === 0 ? GlobalKind.UndefWeak : GlobalKind.Defined, value: 0x1000 + i * 16, size: i, symtab: i + 1, object: i % 5, tls: i % 11 === 0,
  }));
  const plain = (g: GlobalRecord | undefined) => g && { ...g };

  /** The table as a later process sees it: encoded, then read back (`split`: its bytes in a records file). */
  function reread(split: boolean): { table: GlobalTable; blocksRead: () => number } {
    const w = new StateWriter();
    let file = new Uint8Array(0);
    let reads = 0;
    const store = {
      get size() { return file.length; },
      read(offset: number, length: number) {
        reads++;
        return file.slice(offset, offset + length);
      },
    };
    const sink = { store, fresh: true, add: (bytes: Uint8Array) => { file = bytes.slice(); return 0; } };
    GlobalTable.of(records).encode(w, split ? sink : null);
    const table = GlobalTable.read(new StateReader(w.view()), split ? store : null, () => undefined);
    return { table, blocksRead: () => reads };
  }

  for (const where of ['the state', 'a records file']) {
    it(`finds every name, ASCII or not, in ${where}`, () => {
      const { table } = reread(where !== 'the state');
      for (const g of records) expect(plain(table.get(g.name)), g.name).to.deep.equal(g);
    });

    it(`answers nothing for names it does not have, however near, in ${where}`, () => {
      const { table } = reread(where !== 'the state');
      for (const name of ['fo', 'fooba', 'foobarr', 'caf', 'cafè', '名', 'x\u{1F601}y', 'sym_3000', 'sym_', 'Main']) {
        expect(table.get(name), name).to.equal(undefined);
      }
    });
  }

  it('reads a few blocks of a records file for a few names', () => {
    const { table, blocksRead } = reread(true);
    for (const name of ['sym_10', 'café', 'sym_2999']) expect(table.get(name)?.name).to.equal(name);
    expect(blocksRead()).to.be.greaterThan(0).and.lessThan(12);
  });
});
