import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ARCHES, repoRoot, run, tmpDir } from '../support/toolchain.js';

const exec = promisify(execFile);

const PROGRAM = `
int g = 5;
static int f(int x) { return x * 8 + g; }
int twice(int x) { return 2 * x; }
void _start(void) {
  long st = f(2) + twice(10) + 1;
#if defined(__x86_64__)
  __asm__ volatile("mov $60, %%eax\\n syscall" :: "D"(st));
#else
  register long x0 __asm__("x0") = st; register long x8 __asm__("x8") = 93;
  __asm__ volatile("svc 0" :: "r"(x0), "r"(x8));
#endif
  __builtin_unreachable();
}
`;

/** tslink as the compiler driver's linker: clang passes its usual GNU ld options. */
describe('clang --ld-path=tslink', () => {
  for (const arch of ARCHES) {
    it(`links and runs a freestanding program on ${arch}`, async () => {
      const dir = tmpDir('tslink-driver-');
      const src = join(dir, 'm.c');
      writeFileSync(src, PROGRAM);
      const out = join(dir, 'm');
      await exec('clang', [`--target=${arch}-linux-gnu`, '-O1', '-ffreestanding', '-nostdlib', '-static', `--ld-path=${repoRoot()}/bin/tslink.js`, src, '-o', out]);
      const { status } = await run(out, arch);
      expect(status).to.equal(42);
    });
  }
});
