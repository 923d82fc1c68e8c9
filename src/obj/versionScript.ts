import { LinkError } from './LinkError.js';

/**
 * Version scripts (--version-script), the basic form GNU ld and lld accept:
 *
 *   { global: foo; bar_*; local: *; };              an anonymous node
 *   LIB_1.0 { global: foo; local: *; };             a named version
 *   LIB_2.0 { global: bar; } LIB_1.0;               a version that inherits
 *
 * A pattern is a name or a shell glob (`*`, `?`, `[...]`). A symbol takes the
 * node of the first exact name that matches it; else of the first glob, in
 * script order, the catch-all `*` last (lld's precedence). `local:` hides a
 * definition from the dynamic symbol table. `extern "C++"` blocks are not
 * supported yet (an error says so).
 */

export interface VersionNode {
  /** The version's name; null for the anonymous node. */
  name: string | null;
  /** The version it inherits from (vd_aux's second entry), or null. */
  parent: string | null;
  global: string[];
  local: string[];
}

export interface VersionScript {
  nodes: VersionNode[];
}

/** What the script says of a symbol: hidden (local), or exported at a node (-1 when no node names it). */
export interface VersionAssignment {
  local: boolean;
  /** Index into `nodes`, or -1 when no pattern matched (exported, unversioned). */
  node: number;
}

export function parseVersionScript(text: string, file: string): VersionScript {
  const tokens = tokenize(text, file);
  let i = 0;
  const fail = (what: string): never => {
    throw new LinkError(`${file}: ${what}${i < tokens.length ? ` at '${tokens[i]}'` : ' at the end of the script'}`);
  };
  const take = (t?: string): string => {
    if (i >= tokens.length) fail(t ? `expected '${t}'` : 'unexpected end');
    if (t !== undefined && tokens[i] !== t) fail(`expected '${t}'`);
    return tokens[i++];
  };
  const nodes: VersionNode[] = [];
  while (i < tokens.length) {
    let name: string | null = null;
    if (tokens[i] !== '{') name = take();
    take('{');
    const node: VersionNode = { name, parent: null, global: [], local: [] };
    let scope: 'global' | 'local' = 'global';
    while (tokens[i] !== '}') {
      if (i >= tokens.length) fail("expected '}'");
      const t = take();
      if ((t === 'global' || t === 'local') && tokens[i] === ':') {
        take(':');
        scope = t;
        continue;
      }
      if (t === 'extern') fail('extern "C++" and extern "Java" blocks are not supported yet');
      node[scope].push(t);
      take(';');
    }
    take('}');
    if (tokens[i] !== ';') node.parent = take();
    take(';');
    if (name === null && nodes.length > 0) fail('an anonymous version node must be the only node');
    if (name !== null && nodes.some((n) => n.name === name)) fail(`version ${name} is defined twice`);
    nodes.push(node);
  }
  for (const n of nodes) {
    if (n.parent !== null && !nodes.some((m) => m.name === n.parent)) {
      throw new LinkError(`${file}: version ${n.name} inherits from ${n.parent}, which the script does not define`);
    }
  }
  return { nodes };
}

function tokenize(text: string, file: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (/\s/.test(c)) { i++; continue; }
    if (text.startsWith('/*', i)) {
      const end = text.indexOf('*/', i + 2);
      if (end < 0) throw new LinkError(`${file}: unterminated comment`);
      i = end + 2;
      continue;
    }
    if (c === '#') {
      while (i < text.length && text[i] !== '\n') i++;
      continue;
    }
    if ('{};:'.includes(c)) { out.push(c); i++; continue; }
    if (c === '"') {
      const end = text.indexOf('"', i + 1);
      if (end < 0) throw new LinkError(`${file}: unterminated string`);
      out.push(text.slice(i + 1, end));
      i = end + 1;
      continue;
    }
    let j = i;
    while (j < text.length && !/[\s{};:"]/.test(text[j])) j++;
    out.push(text.slice(i, j));
    i = j;
  }
  return out;
}

const isGlob = (p: string) => /[*?[]/.test(p);

function globToRegExp(p: string): RegExp {
  let re = '';
  for (let i = 0; i < p.length; i++) {
    const c = p[i];
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if (c === '[') {
      const end = p.indexOf(']', i + 1);
      if (end < 0) re += '\\[';
      else {
        re += `[${p.slice(i + 1, end).replace(/^!/, '^').replace(/\\/g, '\\\\')}]`;
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/** Resolves symbol names against a script: exact names first, then globs in order, `*` last. */
export function versionMatcher(script: VersionScript): (name: string) => VersionAssignment {
  const exact = new Map<string, VersionAssignment>();
  const globs: Array<{ re: RegExp; a: VersionAssignment }> = [];
  const catchAll: VersionAssignment[] = [];
  script.nodes.forEach((n, node) => {
    for (const [list, local] of [[n.global, false], [n.local, true]] as const) {
      for (const p of list) {
        const a = { local, node: local ? -1 : node };
        if (p === '*') catchAll.push(a);
        else if (isGlob(p)) globs.push({ re: globToRegExp(p), a });
        else if (!exact.has(p)) exact.set(p, a);
      }
    }
  });
  return (name) => exact.get(name) ?? globs.find((g) => g.re.test(name))?.a ?? catchAll[0] ?? { local: false, node: -1 };
}
