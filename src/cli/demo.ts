import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LinkError } from '../obj/LinkError.js';
import { LinkSession, type LinkReport } from '../session/LinkSession.js';
import { buildFixture, EXPECTED_STATUS, FIXTURE_EDITS, type FixtureArch, type FixtureEdit } from './fixture.js';

/**
 * `tslink demo`: builds the bundled fixture (fixture/, see its README) with
 * clang, links app_a with --incremental, then edits it three times and
 * relinks each time from the persisted state, the way a build system would
 * call tslink: an edit that fits its slot (patched in place), a function
 * that outgrows its slot (moved behind a jump island), and a weak-to-strong
 * flip that the gate refuses to patch (a full link, with the reason). Each
 * program is run and its exit status compared with what the fixture expects.
 */

interface Step {
  title: string;
  edit: FixtureEdit;
}

const STEPS: Step[] = [
  { title: 'cold link', edit: 'base' },
  { title: 'edit tbl_get (fits its slot)', edit: 'table.edit-inslack' },
  { title: 'grow tbl_sum by 8 KiB (outgrows its slot)', edit: 'table.edit-grow' },
  { title: 'make feature_level strong (not a local edit)', edit: 'weakdef.edit-strong' },
];

export async function runDemo(argv: readonly string[]): Promise<number> {
  let arch: FixtureArch = process.arch === 'arm64' ? 'aarch64' : 'x86_64';
  let keep = false;
  for (const a of argv) {
    if (a === '--arch=aarch64' || a === '--arch=x86_64') arch = a.slice(7) as FixtureArch;
    else if (a === '--keep') keep = true;
    else throw new LinkError(`demo: unknown argument '${a}' (use --arch=x86_64|aarch64, --keep)`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'tslink-demo-'));
  const out = join(dir, 'app_a');
  let state: Uint8Array | null = null;
  let failures = 0;
  const say = (s: string) => process.stdout.write(`${s}\n`);
  say(`tslink demo: the fixture's app_a, linked for ${arch} in ${dir}\n`);
  try {
    let before: Map<string, number> | null = null;
    for (const step of STEPS) {
      // The build system recompiles the edited unit and re-archives libcore.a, in place.
      const build = await buildFixture({ arch, outDir: join(dir, 'build'), variants: FIXTURE_EDITS[step.edit], debug: true });
      const session = new LinkSession({ format: 'elf', arch, output: 'exe', incremental: true, buildId: 'fast' });
      if (state) session.setPriorState(state, new Uint8Array(readFileSync(out)));
      session.addObject('app_a.o', readFileSync(build.apps.app_a));
      session.addArchive('libcore.a', readFileSync(build.libcore));
      const t = performance.now();
      const r = session.link();
      const ms = performance.now() - t;
      writeFileSync(out, session.image());
      chmodSync(out, 0o755);
      state = session.serializeState();

      const status = run(out, arch);
      const expected = EXPECTED_STATUS[step.edit].app_a;
      if (status !== expected) failures++;
      const symbols = symbolAddresses(session.image());
      say(`${step.title}  [${step.edit}]`);
      say(`  outcome: ${describe(r)}`);
      say(`  link: ${ms.toFixed(1)} ms, ${r.work.atomsPlaced} atoms placed, ${r.work.relocsApplied} relocations applied`);
      if (before) {
        const moved = [...symbols].filter(([n, a]) => before!.has(n) && before!.get(n) !== a);
        if (r.outcome === 'patched') {
          say(moved.length === 0
            ? '  every symbol kept its address'
            : `  moved: ${moved.map(([n, a]) => `${n} ${hex(before!.get(n)!)} -> ${hex(a)} (a jump island stays at ${hex(before!.get(n)!)})`).join(', ')}`);
        }
      }
      say(`  run: exit status ${status} (expected ${expected})${status === expected ? '' : '  <-- WRONG'}\n`);
      before = symbols;
    }
  } finally {
    if (!keep) rmSync(dir, { recursive: true, force: true });
  }
  say(failures === 0 ? 'demo: every program ran with the expected status' : `demo: ${failures} program(s) exited with the wrong status`);
  return failures === 0 ? 0 : 1;
}

function describe(r: LinkReport): string {
  const bytes = r.writes.reduce((n, w) => n + w.length, 0);
  if (r.outcome === 'patched') return `patched in place: ${bytes} bytes written in ${r.writes.length} ranges of a ${r.size}-byte image`;
  if (r.outcome === 'fell-back-full') return `fell back to a full link: ${r.reason}`;
  return `full link (${r.size} bytes)`;
}

function run(path: string, arch: FixtureArch): number | null {
  const native = (process.arch === 'x64' && arch === 'x86_64') || (process.arch === 'arm64' && arch === 'aarch64');
  const r = native ? spawnSync(path, { timeout: 10000 }) : spawnSync('qemu-aarch64', [path], { timeout: 10000 });
  if (r.error) throw new LinkError(`demo: cannot run ${path}: ${r.error.message}${native ? '' : ' (is qemu-user installed?)'}`);
  return r.status;
}

/** Function and object symbols of an ELF image's .symtab, by name. */
function symbolAddresses(image: Uint8Array): Map<string, number> {
  const dv = new DataView(image.buffer, image.byteOffset, image.byteLength);
  const shoff = Number(dv.getBigUint64(0x28, true));
  const shnum = dv.getUint16(0x3c, true);
  const out = new Map<string, number>();
  for (let i = 0; i < shnum; i++) {
    const sh = shoff + i * 64;
    if (dv.getUint32(sh + 4, true) !== 2) continue; // SHT_SYMTAB
    const off = Number(dv.getBigUint64(sh + 0x18, true));
    const size = Number(dv.getBigUint64(sh + 0x20, true));
    const strSh = shoff + dv.getUint32(sh + 0x28, true) * 64;
    const strOff = Number(dv.getBigUint64(strSh + 0x18, true));
    for (let at = off + 24; at < off + size; at += 24) {
      const type = image[at + 4] & 0xf;
      if (type !== 1 && type !== 2) continue;
      let end = strOff + dv.getUint32(at, true);
      const start = end;
      while (image[end] !== 0) end++;
      out.set(new TextDecoder().decode(image.subarray(start, end)), Number(dv.getBigUint64(at + 8, true)));
    }
  }
  return out;
}

function hex(n: number): string {
  return '0x' + n.toString(16);
}
