/**
 * COFF linker directives (`.drectve`, from `#pragma comment(linker, ...)`
 * and `__declspec(dllexport)`), linked by tslink-link and lld-link, run
 * under Wine:
 *
 * - `/alternatename:FROM=TO`: FROM, which nothing defines, is TO; TO is
 *   loaded from a library for it; the command line's `/alternatename:` too;
 * - `/include:NAME`: pulls a library member nothing refers to;
 * - a changed directive is a full relink, not a patch.
 *
 * gcc's `-aligncomm:` is checked by test/link/mingw.test.ts (misc.c).
 */
import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describeExit, exec, repoRoot, requireToolsOrSkip, tmpDir, tool } from '../support/toolchain.js';
import { wine } from '../support/wine.js';

const TSLINK_LINK = path.join(repoRoot(), 'bin', 'tslink-link');

const MAIN_C = `#pragma comment(linker, "/alternatename:hook=default_hook")
#pragma comment(linker, "/include:forced_marker")
int hook(void);
int other(void);
__declspec(dllimport) void __stdcall ExitProcess(unsigned);
void mainCRTStartup(void) { ExitProcess(hook() * 10 + other()); }
`;
/** In a library: nothing refers to either but the directives and the command line. */
const DEFAULT_HOOK_C = 'int default_hook(void) { return 3; }\n';
const OTHER_DEFAULT_C = 'int other_default(void) { return 4; }\n';
const FORCED_C = 'const char forced_marker[] = "FORCED-MEMBER-MARKER";\n';
const KERNEL32_DEF = 'LIBRARY kernel32.dll\nEXPORTS\n  ExitProcess\n';

describe('COFF linker directives (tslink-link vs lld-link), run under Wine', function () {
  this.timeout(600_000);
  let dir = '';
  const w = (...p: string[]) => path.join(dir, ...p);

  before(async function () {
    await requireToolsOrSkip(this, ['clang', 'lld-link', 'llvm-lib', 'llvm-dlltool', 'wine']);
    dir = tmpDir('tslink-directives-');
    const files: Record<string, string> = {
      'main.c': MAIN_C, 'default_hook.c': DEFAULT_HOOK_C, 'other_default.c': OTHER_DEFAULT_C, 'forced.c': FORCED_C, 'kernel32.def': KERNEL32_DEF,
    };
    for (const [name, text] of Object.entries(files)) fs.writeFileSync(w(name), text);
    await Promise.all(['main', 'default_hook', 'other_default', 'forced'].map((c) =>
      tool('clang', ['--target=x86_64-windows-msvc', '-O1', '-c', `${c}.c`, '-o', `${c}.obj`], { cwd: dir })));
    await tool('llvm-lib', ['/out:helpers.lib', 'default_hook.obj', 'other_default.obj', 'forced.obj'], { cwd: dir });
    await tool('llvm-dlltool', ['-m', 'i386:x86-64', '-d', 'kernel32.def', '-l', 'kernel32.lib'], { cwd: dir });
  });

  after(() => {
    if (dir && process.env.TSLINK_KEEP_TMP !== '1') fs.rmSync(dir, { recursive: true, force: true });
  });

  const args = (out: string, extra: string[] = []) =>
    [`/out:${out}`, '/entry:mainCRTStartup', '/subsystem:console', '/opt:noref', '/alternatename:other=other_default', ...extra, 'main.obj', 'helpers.lib', 'kernel32.lib'];

  it('/alternatename (directive and command line) and /include pull library members, as lld-link does', async () => {
    const rl = await exec('lld-link', args('lld.exe'), { cwd: dir });
    expect(rl.status, rl.stderr).to.equal(0);
    const rt = await exec(process.execPath, [TSLINK_LINK, ...args('ts.exe')], { cwd: dir });
    expect(rt.status, rt.stderr).to.equal(0);
    for (const exe of ['lld.exe', 'ts.exe']) {
      expect(fs.readFileSync(w(exe)).includes(Buffer.from('FORCED-MEMBER-MARKER')), `${exe}: the /include'd member`).to.equal(true);
      const r = await wine(w(exe));
      expect(r.status, `${exe}: ${describeExit(r)} ${r.stderr}`).to.equal(34);
    }
  });

  it('a changed directive falls back to a full link', async () => {
    const inc = [...args('inc.exe'), '/incremental', '--explain'];
    const first = await exec(process.execPath, [TSLINK_LINK, ...inc], { cwd: dir });
    expect(first.status, first.stderr).to.equal(0);
    fs.writeFileSync(w('main.c'), MAIN_C.replace('/alternatename:hook=default_hook', '/alternatename:hook=other_default'));
    await tool('clang', ['--target=x86_64-windows-msvc', '-O1', '-c', 'main.c', '-o', 'main.obj'], { cwd: dir });
    const second = await exec(process.execPath, [TSLINK_LINK, ...inc], { cwd: dir });
    expect(second.status, second.stderr).to.equal(0);
    expect(second.stdout).to.match(/fell-back-full: the linker directives of main\.obj changed/);
    const r = await wine(w('inc.exe'));
    expect(r.status, describeExit(r)).to.equal(44);
  });
});
