import { ByteReader } from './ByteReader.js';
import { hex } from './LinkError.js';
import {
  AtomKind, SecFlag, SymBinding, SymPlace, SymType,
  type ArchName, type Atom, type InputSymbol, type ObjectFile, type Reloc,
} from './model.js';
import { Relocs } from './relocs.js';
import { IMAGE_REL_AMD64, IMAGE_REL_ARM64, IMAGE_SCN, coffMachineToArch } from './readCoff.js';

/**
 * A short import library member (Microsoft's "PE Format", section "Import
 * Library Format"): what lld-link, llvm-dlltool and Microsoft's LIB write
 * for each function or variable a DLL exports, in place of MinGW's
 * long-format stub objects. Its header names the DLL, the symbol, how the
 * DLL knows it (by name, a name derived from the symbol, or an ordinal), and
 * whether it is code, data or a constant:
 *
 *      0  u16  0 (IMAGE_FILE_MACHINE_UNKNOWN)      12  u32  size of the strings
 *      2  u16  0xffff                              16  u16  ordinal, or hint
 *      4  u16  version 0                           18  u16  type (bits 0-1), name type (bits 2-4)
 *      6  u16  machine                             20       symbol\0 dll\0 [name to import by\0]
 *      8  u32  time stamp
 *
 * The reader turns it into the same object a GNU import library's stub
 * member is, so the link treats both alike:
 *
 * - `.idata$5`, the import address table entry, defining `__imp_<symbol>`;
 * - `.idata$4`, the lookup table entry, the same 8 bytes: the RVA of the
 *   hint/name entry (an ADDR32NB relocation), or the ordinal with bit 63 set;
 * - `.idata$6`, the hint/name entry, when imported by name;
 * - for code, a `.text` thunk defining `<symbol>` that jumps through the
 *   entry, so that a call without `__declspec(dllimport)` reaches the DLL.
 *
 * What a GNU library's head and tail members give (the import descriptor,
 * the null entries that end the DLL's tables, the DLL's name), the link adds
 * for each DLL it imports from (src/link/pe/linkPe.ts); `ObjectFile.dllImport`
 * names the DLL.
 */

export const enum ImportType {
  Code = 0,
  Data = 1,
  Const = 2,
}

export const enum ImportNameType {
  Ordinal = 0,
  Name = 1,
  NoPrefix = 2,
  Undecorate = 3,
  ExportAs = 4,
}

const HEADER_SIZE = 20;

export function isShortImport(bytes: Uint8Array): boolean {
  return bytes.length >= 6 && bytes[0] === 0 && bytes[1] === 0 && bytes[2] === 0xff && bytes[3] === 0xff && bytes[4] === 0 && bytes[5] === 0;
}

export function readShortImport(name: string, bytes: Uint8Array): ObjectFile {
  const r: ByteReader = new ByteReader(bytes, name);
  r.need(0, HEADER_SIZE, 'short import header');
  const machine = r.u16(6);
  const arch = coffMachineToArch(machine);
  if (!arch) r.fail(6, `short import member for unsupported machine ${hex(machine)}: tslink links AMD64 (0x8664) and ARM64 (0xaa64)`);
  const dataSize = r.u32(12);
  r.need(HEADER_SIZE, dataSize, `short import names (${dataSize} bytes)`);
  const end = HEADER_SIZE + dataSize;
  const hint = r.u16(16);
  const info = r.u16(18);
  const type = info & 3;
  const nameType = (info >> 2) & 7;
  const symbol = r.cstring(HEADER_SIZE, end, 'imported symbol name');
  const dllAt = bytes.indexOf(0, HEADER_SIZE) + 1;
  const dll = r.cstring(dllAt, end, 'DLL name');
  if (type > ImportType.Const) r.fail(18, `short import member '${symbol}' from '${dll}' has unknown import type ${type}`);
  if (nameType > ImportNameType.ExportAs) r.fail(18, `short import member '${symbol}' from '${dll}' has unknown name type ${nameType}`);
  if (symbol === '' || dll === '') r.fail(HEADER_SIZE, 'short import member with an empty symbol or DLL name');

  let importName: string | null;
  switch (nameType) {
    case ImportNameType.Ordinal: importName = null; break;
    case ImportNameType.Name: importName = symbol; break;
    // One leading decoration character (`?`, `@` or `_`) is not part of the DLL's name; nor, undecorated, is `@...`.
    case ImportNameType.NoPrefix: importName = stripPrefix(symbol); break;
    case ImportNameType.Undecorate: importName = stripPrefix(symbol).split('@')[0]; break;
    default: {
      const at = bytes.indexOf(0, dllAt) + 1;
      importName = r.cstring(at, end, `export-as name of '${symbol}'`);
    }
  }

  const atoms: Atom[] = [];
  const symbols: InputSymbol[] = [local('')];
  const atom = (a: Omit<Atom, 'index' | 'relocs' | 'entSize' | 'group'>, relocs: Reloc[] = []): number => {
    atoms.push({ ...a, index: atoms.length, relocs: Relocs.of(relocs), entSize: 0, group: -1 });
    return atoms.length - 1;
  };
  const DATA = IMAGE_SCN.CNT_INITIALIZED_DATA | IMAGE_SCN.MEM_READ | IMAGE_SCN.MEM_WRITE;

  // The lookup and address table entries: an ordinal, or the RVA of the hint/name entry.
  const entry = new Uint8Array(8);
  const entryRelocs: Reloc[] = [];
  if (importName === null) {
    new DataView(entry.buffer).setBigUint64(0, 0x8000000000000000n | BigInt(hint), true);
  } else {
    const nameBytes = new TextEncoder().encode(importName);
    const hintName = new Uint8Array((2 + nameBytes.length + 1 + 1) & ~1);
    hintName[0] = hint & 0xff;
    hintName[1] = hint >> 8;
    hintName.set(nameBytes, 2);
    const a = atom({ name: '.idata$6', kind: AtomKind.ROData, flags: SecFlag.Alloc | SecFlag.Write | SecFlag.Retain, align: 2, size: hintName.length, data: hintName, rawType: DATA });
    symbols.push({ ...local('.idata$6'), type: SymType.Section, atom: a });
    entryRelocs.push({ offset: 0, type: addr32nb(arch), sym: symbols.length - 1, addend: 0 });
  }
  const iat = atom({ name: '.idata$5', kind: AtomKind.ROData, flags: SecFlag.Alloc | SecFlag.Write | SecFlag.Retain, align: 8, size: 8, data: entry.slice(), rawType: DATA }, entryRelocs.map((x) => ({ ...x })));
  atom({ name: '.idata$4', kind: AtomKind.ROData, flags: SecFlag.Alloc | SecFlag.Write | SecFlag.Retain, align: 8, size: 8, data: entry.slice(), rawType: DATA }, entryRelocs);

  const firstGlobal = symbols.length;
  symbols.push(global(`__imp_${symbol}`, iat, SymType.Object));
  if (type === ImportType.Const) symbols.push(global(symbol, iat, SymType.Object));
  if (type === ImportType.Code) {
    const thunk = THUNKS[arch];
    const a = atom({
      name: '.text', kind: AtomKind.Code, flags: SecFlag.Alloc | SecFlag.Exec | SecFlag.Retain, align: thunk.align, size: thunk.code.length,
      data: thunk.code.slice(), rawType: IMAGE_SCN.CNT_CODE | IMAGE_SCN.MEM_EXECUTE | IMAGE_SCN.MEM_READ,
    }, thunk.relocs.map((x) => ({ ...x, sym: firstGlobal })));
    symbols.push(global(symbol, a, SymType.Func));
  }
  return {
    name, format: 'coff', arch, atoms, symbols, firstGlobal, groups: [], bytes,
    dllImport: { dll, symbol, importName, ordinal: importName === null ? hint : null, type },
  };
}

/** What a call to an imported function lands on: a jump through its address table entry (`__imp_<symbol>`). */
const THUNKS: Record<ArchName, { code: Uint8Array; align: number; relocs: Omit<Reloc, 'sym'>[] }> = {
  // jmp *__imp_f(%rip)
  x86_64: { code: Uint8Array.of(0xff, 0x25, 0, 0, 0, 0), align: 2, relocs: [{ offset: 2, type: IMAGE_REL_AMD64.REL32, addend: 0 }] },
  // adrp x16, __imp_f; ldr x16, [x16, :lo12:__imp_f]; br x16
  aarch64: {
    code: Uint8Array.of(0x10, 0x00, 0x00, 0x90, 0x10, 0x02, 0x40, 0xf9, 0x00, 0x02, 0x1f, 0xd6), align: 4,
    relocs: [{ offset: 0, type: IMAGE_REL_ARM64.PAGEBASE_REL21, addend: 0 }, { offset: 4, type: IMAGE_REL_ARM64.PAGEOFFSET_12L, addend: 0 }],
  },
};

function addr32nb(arch: ArchName): number {
  return arch === 'x86_64' ? IMAGE_REL_AMD64.ADDR32NB : IMAGE_REL_ARM64.ADDR32NB;
}

function stripPrefix(s: string): string {
  return s.length > 0 && '?@_'.includes(s[0]) ? s.slice(1) : s;
}

function local(name: string): InputSymbol {
  return { name, binding: SymBinding.Local, type: SymType.NoType, visibility: 0, atom: SymPlace.Undefined, value: 0, size: 0 };
}

function global(name: string, atom: number, type: SymType): InputSymbol {
  return { name, binding: SymBinding.Global, type, visibility: 0, atom, value: 0, size: 0 };
}
