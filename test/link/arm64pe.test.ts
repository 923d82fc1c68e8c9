/**
 * ARM64 PE images (`/machine:arm64`, `-m arm64pe`), checked against
 * lld-link: Wine here runs only x86-64 programs, so the images are compared
 * instead of run. A freestanding program (compiled for aarch64-windows-msvc)
 * exercises every relocation clang emits for ARM64 COFF: ADRP with ADD and
 * with scaled loads (PAGEBASE_REL21, PAGEOFFSET_12A/L), calls (BRANCH26)
 * to a function and through an import thunk, thread-locals (SECREL_HIGH12A,
 * SECREL_LOW12L against _tls_index), pointers in data (ADDR64, with base
 * relocations), the exception table (ADDR32NB in .pdata, 8-byte entries),
 * and imports through a short import library made by llvm-dlltool.
 *
 * The disassembly of .text must be lld-link's instruction for instruction,
 * and the imports, base relocations, TLS directory and exception table the
 * same. A DLL with /export: and a .def file exports as lld-link's does.
 */
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { exec, repoRoot, requireToolsOrSkip, tmpDir, tool } from '../support/toolchain.js';

const TSLINK_LINK = path.join(repoRoot(), 'bin', 'tslink-link');

const MAIN_C = `typedef void *HANDLE;
__declspec(dllimport) HANDLE __stdcall GetStdHandle(unsigned long);
__declspec(dllimport) int __stdcall WriteFile(HANDLE, const void *, unsigned long, unsigned long *, void *);
void __stdcall ExitProcess(unsigned);
extern int table[];
extern int (*ops[])(int);
static const char msg[] = "hello arm64\\n";
__declspec(thread) int tcount = 5;
int global_counter = 3;
long long big = 0x123456789abcLL;
double scale = 2.5;
int apply(int i, int x) { return ops[i](x); }
void mainCRTStartup(void) {
  unsigned long w;
  tcount += table[2];
  WriteFile(GetStdHandle((unsigned long)-11), msg, sizeof msg - 1, &w, 0);
  ExitProcess(apply(1, global_counter) + tcount + (int)(big & 0xff) + (int)(scale * 2));
}
`;
const UNIT_C = `static int twice(int x) { return 2 * x; }
static int square(int x) { return x * x; }
int table[] = { 1, 2, 3, 4 };
int (*ops[])(int) = { twice, square };
unsigned int _tls_index;
`;
const KERNEL32_DEF = 'LIBRARY kernel32.dll\nEXPORTS\n  GetStdHandle\n  WriteFile\n  ExitProcess\n';
const LIB_C = 'int lib_add(int a, int b) { return a + b; }\nint lib_mul(int a, int b) { return a * b; }\nint lib_value = 7;\n';
const LIB_DEF = 'LIBRARY armlib\nEXPORTS\n  lib_add @3\n  lib_value DATA\n';

describe('ARM64 PE images: tslink-link against lld-link', function () {
  this.timeout(300_000);
  let dir = '';
  const w = (...p: string[]) => path.join(dir, ...p);

  before(async function () {
    await requireToolsOrSkip(this, ['clang', 'lld-link', 'llvm-dlltool', 'llvm-objdump', 'llvm-readobj']);
    dir = tmpDir('tslink-arm64pe-');
    const files: Record<string, string> = { 'main.c': MAIN_C, 'unit.c': UNIT_C, 'kernel32.def': KERNEL32_DEF, 'lib.c': LIB_C, 'lib.def': LIB_DEF };
    for (const [name, text] of Object.entries(files)) fs.writeFileSync(w(name), text);
    await Promise.all([
      ...['main', 'unit', 'lib'].map((c) => tool('clang', ['--target=aarch64-windows-msvc', '-O1', '-c', `${c}.c`, '-o', `${c}.obj`], { cwd: dir })),
      tool('llvm-dlltool', ['-m', 'arm64', '-d', 'kernel32.def', '-l', 'kernel32.lib'], { cwd: dir }),
    ]);
  });

  after(() => {
    if (dir && process.env.TSLINK_KEEP_TMP !== '1') fs.rmSync(dir, { recursive: true, force: true });
  });

  async function both(args: (out: string) => string[], out: string): Promise<void> {
    const rl = await exec('lld-link', args(`lld.${out}`), { cwd: dir });
    expect(rl.status, `lld-link: ${rl.stderr}`).to.equal(0);
    const rt = await exec(process.execPath, [TSLINK_LINK, ...args(`ts.${out}`)], { cwd: dir });
    expect(rt.stderr, 'a JavaScript stack trace').to.not.match(/^\s{4}at /m);
    expect(rt.status, `tslink-link: ${rt.stderr}`).to.equal(0);
  }

  const text = async (file: string) => (await tool('llvm-objdump', ['-d', w(file)])).split('\n').slice(3).join('\n');
  const readobj = async (opt: string, file: string) => (await tool('llvm-readobj', [opt, w(file)])).replace(/^File: .*$/m, '');

  it('a program: the same instructions as lld-link\'s, the same imports, base relocations, TLS directory and exception table', async () => {
    await both((out) => ['/machine:arm64', '/entry:mainCRTStartup', '/subsystem:console', '/nodefaultlib', `/out:${out}`, 'main.obj', 'unit.obj', 'kernel32.lib'], 'exe');
    expect(await text('ts.exe')).to.equal(await text('lld.exe'));
    for (const opt of ['--coff-imports', '--coff-basereloc', '--coff-tls-directory']) {
      expect(await readobj(opt, 'ts.exe'), opt).to.equal(await readobj(opt, 'lld.exe'));
    }
    const pdata = async (f: string) => (await tool('llvm-objdump', ['-s', '-j', '.pdata', w(f)])).split('\n').slice(3).join('\n');
    expect(await pdata('ts.exe')).to.equal(await pdata('lld.exe'));
    expect(await readobj('--file-headers', 'ts.exe')).to.match(/Machine: IMAGE_FILE_MACHINE_ARM64/);
  });

  it('a DLL: the same exports, and an import library for ARM64', async () => {
    await both((out) => ['/machine:arm64', '/dll', '/noentry', '/def:lib.def', '/export:lib_mul', `/out:${out}`, 'lib.obj'], 'dll');
    const exports = async (f: string) => (await readobj('--coff-exports', f)).split('Export {').slice(1)
      .map((e) => ({ ordinal: /Ordinal: (\d+)/.exec(e)![1], name: /Name: (\S*)/.exec(e)?.[1] ?? '', rva: /RVA: (0x[0-9A-F]+)/.exec(e)![1] }))
      .filter((e) => e.rva !== '0x0').map((e) => `${e.ordinal} ${e.name}`).sort();
    expect(await exports('ts.dll')).to.deep.equal(await exports('lld.dll'));
    const members = await tool('llvm-readobj', ['--file-headers', w('ts.lib')]);
    expect(members).to.match(/Machine: IMAGE_FILE_MACHINE_ARM64/);
  });
});
