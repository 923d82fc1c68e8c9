// The benchmark's report: the Markdown table and the SVG plot, from the
// results bench/bench.mjs gathered (also written as results.json).
// `node bench/report.mjs [results.json]` re-renders results.md and results.svg.

import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export function stats(samples, key = 'wallMs') {
  const xs = samples.map((s) => s[key]).filter((x) => typeof x === 'number').sort((a, b) => a - b);
  if (!xs.length) return null;
  const q = (p) => {
    const i = (xs.length - 1) * p;
    const lo = Math.floor(i);
    return xs[lo] + (xs[Math.ceil(i)] - xs[lo]) * (i - lo);
  };
  return { median: q(0.5), min: xs[0], max: xs[xs.length - 1], n: xs.length };
}

function ms(x) {
  if (x === null || x === undefined || Number.isNaN(x)) return '–';
  if (x < 10) return x.toFixed(2);
  if (x < 100) return x.toFixed(1);
  return Math.round(x).toLocaleString('en-US');
}

function mb(kb) {
  if (!kb) return '–';
  return (kb / 1024).toFixed(kb < 10240 ? 1 : 0);
}

function bytes(n) {
  if (n === undefined || n === null) return '–';
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)} MB`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} kB`;
  return `${n} B`;
}

function ratio(a, b) {
  if (!a || !b) return '–';
  const r = a / b;
  return `${r >= 10 ? r.toFixed(0) : r >= 1 ? r.toFixed(1) : r.toFixed(2)}×`;
}

function median(row, key = 'wallMs') {
  return row && !row.failure ? stats(row.samples, key)?.median ?? null : null;
}

/** An incremental row's outcome(s), in words, e.g. "patched, moved (612 B in 9 ranges)". */
function outcomeWords(row) {
  if (row.failure) return `failed: ${row.failure}`;
  const words = row.outcomes.map((o) => {
    if (o.outcome === 'patched') {
      const where = o.moved === true ? 'moved' : o.moved === false ? 'in place' : '';
      const detail = o.bytesWritten === null || o.bytesWritten === undefined ? '' : ` (${bytes(o.bytesWritten)} in ${o.ranges} ranges)`;
      return `patched${where ? `, ${where}` : ''}${detail}`;
    }
    if (o.outcome === 'fell-back-full') return `**fell back to a full link**: ${o.reason}`;
    return o.outcome === 'full' ? 'full link' : String(o.outcome);
  });
  // Byte counts vary a little between repetitions of a grow (different functions): group by the words before them.
  const groups = new Map();
  for (const w of words) {
    const k = w.replace(/ \(.*$/, '');
    const g = groups.get(k) ?? { first: w, n: 0 };
    g.n++;
    groups.set(k, g);
  }
  return [...groups.values()].map((g) => (groups.size > 1 || g.n !== words.length ? `${g.first} ×${g.n}` : g.first)).join('; ');
}

/** The medians of the phases `tslink --explain` timed, in words. */
function phaseWords(row) {
  const names = [...new Set(row.outcomes.flatMap((o) => Object.keys(o.phases ?? {})))];
  if (!names.length) return null;
  const parts = names.map((k) => `${k} ${ms(stats(row.outcomes.map((o) => ({ v: o.phases?.[k] ?? 0 })), 'v')?.median)}`);
  return `${row.label}: its own phases (\`--explain\`, medians, ms): ${parts.join(', ')}; the rest of its wall time is Node start-up, loading tslink, reading the input files (before \`--explain\`'s read phase starts) and exit`;
}

function cell(s) {
  return String(s).replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function rowLine(row, extra = []) {
  if (row.failure) return `| ${row.label} | failed: ${cell(row.failure)} | | | | ${extra.map(() => '').join(' | ')}${extra.length ? ' |' : ''}`;
  const w = stats(row.samples);
  const c = stats(row.samples, 'cpuMs');
  const r = stats(row.samples, 'rssKb');
  return `| ${row.label} | ${ms(w?.median)} | ${ms(w?.min)}–${ms(w?.max)} | ${ms(c?.median)} | ${mb(r?.median)} |${extra.map((e) => ` ${e} |`).join('')}`;
}

const REFERENCE_IDS = ['lld', 'lld1', 'mold', 'bfd'];

export function renderMarkdown(res) {
  const out = [];
  const m = res.machine;
  out.push('# tslink benchmark results');
  out.push('');
  out.push('Written by `npm run bench` (how to run it and what each number means: [doc/benchmarks.md](../../doc/benchmarks.md)).');
  out.push(`Every program here is ${res.config.linkWords}. Wall time is what a build waits for;`);
  out.push('CPU time is user + system of the linker process and anything it forked; peak RSS is its largest resident set.');
  out.push('Medians over the repetitions, with the fastest and slowest; linkers ran interleaved, one of each per repetition.');
  out.push('');
  out.push('## Machine');
  out.push('');
  out.push(`- CPU: ${m.cpu}, ${m.cores} cores available, ${m.memoryGiB} GiB memory; Linux ${m.kernel}`);
  out.push(`- ${m.node.startsWith('v') ? `Node ${m.node}` : m.node}; ${m.clang}; ${m.libc}`);
  for (const [k, v] of Object.entries(m.linkers)) out.push(`- ${k}: ${v}`);
  out.push(`- load average (1, 5, 15 min) before the run ${m.loadBefore.join(', ')}, after ${m.loadAfter.join(', ')}`);
  if (res.config.note) out.push(`- note: ${res.config.note}`);
  out.push(`- objects compiled with \`clang ${res.config.cflags.join(' ')}\`; generated program v${res.generatorVersion}, ${res.functionsPerUnit} functions per unit`);
  const compiled = res.compileSeconds ? `, of which ${Math.floor(res.compileSeconds / 60)} min ${res.compileSeconds % 60} s compiling the programs` : ' (the compiled programs came from the cache)';
  out.push(`- the whole run took ${Math.floor(res.totalSeconds / 60)} min ${res.totalSeconds % 60} s${compiled}`);
  if (m.tslinkSource) out.push(`- tslink measured: ${m.tslinkSource}`);
  for (const s of res.skipped) out.push(`- skipped: ${s}`);
  out.push('');

  const gen = res.workloads.filter((w) => w.kind === 'generated');
  if (gen.length) {
    out.push('## Summary: the generated program');
    out.push('');
    out.push('Wall time, median, in milliseconds. "fresh" is `tslink --incremental` as a new process; "live" is a relink in a');
    out.push('LinkSession that stays in memory. (a) edits one function within its slack, (b) grows one past it, (c) changes nothing.');
    out.push('');
    out.push('| functions | objects | ld.lld | ld.lld --threads=1 | mold | ld.bfd | tslink | tslink ÷ lld -t1, wall | tslink ÷ lld -t1, CPU | tslink --incremental, cold | (a) fresh | (a) live | (b) fresh | (b) live | (c) fresh | (c) live | `node -e 0` |');
    out.push('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
    for (const w of gen) {
      const full = (id) => median(w.rows.find((r) => r.id === id));
      const fullCpu = (id) => median(w.rows.find((r) => r.id === id), 'cpuMs');
      const inc = (e, id) => median(w.incremental.find((x) => x.id === e)?.rows.find((r) => r.id === id));
      out.push(`| ${w.functions.toLocaleString('en-US')} | ${bytes(w.objectBytes)} | ${ms(full('lld'))} | ${ms(full('lld1'))} | ${ms(full('mold'))} | ${ms(full('bfd'))} | ${ms(full('tslink'))} | ${ratio(full('tslink'), full('lld1'))} | ${ratio(fullCpu('tslink'), fullCpu('lld1'))} | ${ms(full('tsinc'))} | ${ms(inc('const', 'fresh'))} | ${ms(inc('const', 'live'))} | ${ms(inc('grow', 'fresh'))} | ${ms(inc('grow', 'live'))} | ${ms(inc('noop', 'fresh'))} | ${ms(inc('noop', 'live'))} | ${ms(full('node'))} |`);
    }
    out.push('');
    out.push('![time against program size](results.svg)');
    out.push('');
  }

  for (const w of res.workloads) {
    out.push(`## ${w.kind === 'generated' ? `Generated program, ${w.title}` : w.title}`);
    out.push('');
    const outs = Object.entries(w.outputBytes).map(([id, n]) => `${id} ${bytes(n)}`).join(', ');
    if (w.kind === 'generated') out.push(`${w.units} objects, ${bytes(w.objectBytes)}; outputs: ${outs}. ${w.reps} repetitions.`);
    else out.push(`The program's object ${bytes(w.objectBytes)}${w.lib ? `, ${w.lib} ${bytes(w.libBytes)}` : ''}; outputs: ${outs}. ${w.reps} repetitions.`);
    if (w.programOutput) {
      const first = cell(w.programOutput.trim().split('\n')[0].slice(0, 80));
      out.push(`Every output was run; ${w.programReference}'s printed \`${first}\`${w.programOutput.trim().includes('\n') ? ' …' : ''}, and any output that printed something else is noted below.`);
    }
    out.push('');
    out.push('### Full link');
    out.push('');
    const ts = median(w.rows.find((r) => r.id === 'tslink'));
    const tsi = median(w.rows.find((r) => r.id === 'tsinc'));
    const tsCpu = median(w.rows.find((r) => r.id === 'tslink'), 'cpuMs');
    out.push('| linker | wall ms | min–max | CPU ms | peak RSS MB | tslink ÷ this, wall | tslink ÷ this, CPU | tslink --incremental, cold ÷ this, wall |');
    out.push('|---|---|---|---|---|---|---|---|');
    for (const r of w.rows) {
      const ref = REFERENCE_IDS.includes(r.id);
      const extra = ref ? [ratio(ts, median(r)), ratio(tsCpu, median(r, 'cpuMs')), ratio(tsi, median(r))] : ['', '', ''];
      out.push(rowLine(r, extra));
    }
    const notes = w.rows.flatMap((r) => r.notes.map((n) => `${r.label}: ${n}`));
    for (const r of w.rows) {
      const p = !r.failure && phaseWords(r);
      if (p) notes.push(p);
    }
    const tsincOutcomes = w.rows.find((r) => r.id === 'tsinc')?.outcomes ?? [];
    if (tsincOutcomes.some((o) => o.outcome !== 'full')) notes.push(`tslink --incremental, cold: ${outcomeWords(w.rows.find((r) => r.id === 'tsinc'))}`);
    if (notes.length) {
      out.push('');
      for (const n of notes) out.push(`- ${cell(n)}`);
    }
    out.push('');
    if (w.incremental.length) {
      out.push('### Incremental relink');
      out.push('');
      out.push('Each repetition starts from the base program\'s inputs, the previous edit undone by an untimed relink, as in an edit loop; the edited');
      out.push('object is renamed over the old one, as a compiler writes it, and every reference linker links the same edited inputs in full.');
      out.push('The live session was loaded once (one full link)');
      out.push('and its time covers reading the changed object, `replaceInput`, `link()` and writing the changed ranges into the output file;');
      out.push('its peak RSS is the session process\'s since it loaded.');
      out.push('');
      for (const e of w.incremental) {
        out.push(`**${e.label}**${e.target ? ` (\`${e.target}\`${e.id === 'grow' ? ' and others, one per repetition' : ''})` : ''}`);
        out.push('');
        const fresh = median(e.rows.find((r) => r.id === 'fresh'));
        const live = median(e.rows.find((r) => r.id === 'live'));
        out.push('| linker, mode | wall ms | min–max | CPU ms | peak RSS MB | outcome | fresh ÷ this, wall | live ÷ this, wall |');
        out.push('|---|---|---|---|---|---|---|---|');
        for (const r of e.rows) {
          const ref = REFERENCE_IDS.includes(r.id);
          if (r.failure) out.push(rowLine(r, ['', '', '']));
          else out.push(rowLine(r, [ref ? 'full link' : cell(outcomeWords(r)), ref ? ratio(fresh, median(r)) : '', ref ? ratio(live, median(r)) : '']));
        }
        const liveRow = e.rows.find((r) => r.id === 'live');
        const extra = [];
        if (liveRow && !liveRow.failure && liveRow.samples.length) {
          extra.push(`live session: \`link()\` alone ${ms(median(liveRow, 'linkMs'))} ms, writing the changed ranges ${ms(median(liveRow, 'writeMs'))} ms (medians)`);
        }
        for (const r of e.rows) {
          const p = !r.failure && phaseWords(r);
          if (p) extra.push(p);
          for (const n of r.notes) extra.push(`${r.label}: ${n}`);
        }
        if (extra.length) {
          out.push('');
          for (const n of extra) out.push(`- ${cell(n)}`);
        }
        out.push('');
      }
    }
    if (w.liveLoad) out.push(`Live session load (read every input, full link, write): ${ms(w.liveLoad.wallMs)} ms, of which \`link()\` ${ms(w.liveLoad.linkMs)} ms.`);
    if (w.liveFirst?.length) {
      const [edit, undo] = w.liveFirst;
      const said = (m) => (m.outcome === 'error' ? `failed (${m.error})` : `${m.outcome}, ${ms(m.wallMs)} ms`);
      out.push(`Its first relink, untimed (an edit within slack, which also compiles the patch path): ${said(edit)}; the undo: ${said(undo)}.`);
    }
    for (const c of w.checks) out.push(`- ${c}`);
    out.push('');
  }
  return out.join('\n').replace(/\n{3,}/g, '\n\n') + (out.at(-1) === '' ? '' : '\n');
}

// ---------------------------------------------------------------------------
// The plot: wall time (median) against program size, log-log, one line per linker and mode.

const SERIES = [
  { key: 'full:lld', label: 'ld.lld', color: '#7f7f7f', dash: '' },
  { key: 'full:lld1', label: 'ld.lld --threads=1', color: '#17becf', dash: '' },
  { key: 'full:mold', label: 'mold', color: '#bcbd22', dash: '' },
  { key: 'full:bfd', label: 'ld.bfd', color: '#8c564b', dash: '' },
  { key: 'full:tslink', label: 'tslink (full link)', color: '#d62728', dash: '' },
  { key: 'full:tsinc', label: 'tslink --incremental, cold', color: '#d62728', dash: '6 4' },
  { key: 'const:fresh', label: '(a) in-slack edit, fresh process', color: '#1f77b4', dash: '' },
  { key: 'grow:fresh', label: '(b) grow, fresh process', color: '#9467bd', dash: '' },
  { key: 'noop:fresh', label: '(c) no-op, fresh process', color: '#ff7f0e', dash: '' },
  { key: 'const:live', label: '(a) in-slack edit, live session', color: '#1f77b4', dash: '6 4' },
  { key: 'grow:live', label: '(b) grow, live session', color: '#9467bd', dash: '6 4' },
  { key: 'noop:live', label: '(c) no-op, live session', color: '#ff7f0e', dash: '6 4' },
  { key: 'full:node', label: 'node -e 0 (start-up)', color: '#000000', dash: '2 3' },
];

function esc(s) {
  return String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function renderSvg(res) {
  const gen = res.workloads.filter((w) => w.kind === 'generated').sort((a, b) => a.functions - b.functions);
  const lines = SERIES.map((s) => {
    const [group, id] = s.key.split(':');
    const points = [];
    for (const w of gen) {
      const row = group === 'full' ? w.rows.find((r) => r.id === id) : w.incremental.find((e) => e.id === group)?.rows.find((r) => r.id === id);
      const y = median(row);
      if (y) points.push([w.functions, y]);
    }
    return { ...s, points };
  }).filter((s) => s.points.length);
  const W = 960;
  const H = 560;
  const L = 70;
  const R = 300;
  const T = 40;
  const B = 60;
  const xs = gen.map((w) => w.functions);
  const ys = lines.flatMap((s) => s.points.map((p) => p[1]));
  if (!xs.length || !ys.length) {
    return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="80"><text x="10" y="40" font-family="sans-serif">no generated-program results to plot</text></svg>\n`;
  }
  let x0 = Math.log10(Math.min(...xs));
  let x1 = Math.log10(Math.max(...xs));
  if (x1 - x0 < 0.5) { x0 -= 0.5; x1 += 0.5; }
  x0 -= 0.15;
  x1 += 0.15;
  const y0 = Math.floor(Math.log10(Math.min(...ys)));
  const y1 = Math.ceil(Math.log10(Math.max(...ys)));
  const px = (x) => L + ((Math.log10(x) - x0) / (x1 - x0)) * (W - L - R);
  const py = (y) => H - B - ((Math.log10(y) - y0) / Math.max(1, y1 - y0)) * (H - T - B);
  const o = [];
  o.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  o.push(`<rect width="${W}" height="${H}" fill="#ffffff"/>`);
  o.push(`<text x="${L}" y="22" font-size="15" font-weight="bold">tslink and reference linkers: wall time (median) against program size</text>`);
  // Grid: decades on y (with 2 and 5), the measured sizes on x.
  for (let d = y0; d <= y1; d++) {
    for (const f of [1, 2, 5]) {
      const v = f * 10 ** d;
      if (Math.log10(v) > y1 + 1e-9) continue;
      const y = py(v).toFixed(1);
      o.push(`<line x1="${L}" x2="${W - R}" y1="${y}" y2="${y}" stroke="${f === 1 ? '#cccccc' : '#eeeeee'}"/>`);
      o.push(`<text x="${L - 6}" y="${(Number(y) + 4).toFixed(1)}" text-anchor="end" fill="#444">${v >= 1000 ? `${v / 1000} s` : `${v} ms`}</text>`);
    }
  }
  for (const x of xs) {
    const X = px(x).toFixed(1);
    o.push(`<line x1="${X}" x2="${X}" y1="${T}" y2="${H - B}" stroke="#eeeeee"/>`);
    o.push(`<text x="${X}" y="${H - B + 18}" text-anchor="middle" fill="#444">${x.toLocaleString('en-US')}</text>`);
  }
  o.push(`<text x="${(L + W - R) / 2}" y="${H - 18}" text-anchor="middle">functions in the generated program (log scale)</text>`);
  o.push(`<text transform="translate(16 ${(T + H - B) / 2}) rotate(-90)" text-anchor="middle">wall time (log scale)</text>`);
  o.push(`<rect x="${L}" y="${T}" width="${W - L - R}" height="${H - T - B}" fill="none" stroke="#888"/>`);
  for (const s of lines) {
    const d = s.points.map((p, i) => `${i ? 'L' : 'M'}${px(p[0]).toFixed(1)} ${py(p[1]).toFixed(1)}`).join(' ');
    o.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''}/>`);
    for (const p of s.points) o.push(`<circle cx="${px(p[0]).toFixed(1)}" cy="${py(p[1]).toFixed(1)}" r="3" fill="${s.color}"><title>${esc(s.label)}: ${ms(p[1])} ms at ${p[0]} functions</title></circle>`);
  }
  lines.forEach((s, i) => {
    const y = T + 10 + i * 20;
    const x = W - R + 20;
    o.push(`<line x1="${x}" x2="${x + 30}" y1="${y}" y2="${y}" stroke="${s.color}" stroke-width="2"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''}/>`);
    o.push(`<text x="${x + 38}" y="${y + 4}">${esc(s.label)}</text>`);
  });
  const note = `${res.config.link === 'static' ? 'static glibc' : res.config.link}; ${res.machine.cpu}, ${res.machine.cores} cores; ${res.machine.node}`;
  o.push(`<text x="${W - R + 20}" y="${T + 10 + lines.length * 20 + 16}" fill="#666" font-size="11">${esc(note)}</text>`);
  o.push('</svg>');
  return o.join('\n') + '\n';
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const file = process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), 'results', 'results.json');
  const res = JSON.parse(readFileSync(file, 'utf8'));
  writeFileSync(join(dirname(file), 'results.md'), renderMarkdown(res));
  writeFileSync(join(dirname(file), 'results.svg'), renderSvg(res));
}
