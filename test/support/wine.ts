/**
 * Running PE programs under Wine, and finding MinGW's GCC runtime: what the
 * PE tests share.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { exec, type ExecResult } from './toolchain.js';

/**
 * Runs a PE program under Wine (`WINEDEBUG=-all`), in its own directory
 * unless `cwd` says otherwise. The first run on a machine creates the Wine
 * prefix, which takes a while: the timeout is generous.
 */
export function wine(exe: string, args: readonly string[] = [], opts: { env?: Record<string, string>; cwd?: string } = {}): Promise<ExecResult> {
  return exec('wine', [exe, ...args], {
    cwd: opts.cwd ?? path.dirname(exe), env: { ...process.env, WINEDEBUG: '-all', ...opts.env }, timeoutMs: 300_000,
  });
}

/**
 * MinGW's GCC runtime directory (libgcc, libstdc++), which clang 14 does
 * not find by itself: a win32-threads one first, the newest; null without.
 */
export function mingwGccLibDir(): string | null {
  const base = '/usr/lib/gcc/x86_64-w64-mingw32';
  if (!fs.existsSync(base)) return null;
  const dirs = fs.readdirSync(base).sort((a, b) => Number(b.endsWith('-win32')) - Number(a.endsWith('-win32')) || b.localeCompare(a));
  return dirs.map((d) => path.join(base, d)).find((d) => fs.existsSync(path.join(d, 'libgcc.a'))) ?? null;
}
