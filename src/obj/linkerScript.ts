import { LinkError } from './LinkError.js';

/**
 * GNU ld scripts as Debian ships them in place of libraries: `libc.so`,
 * `libm.a` and friends are text files that name the real inputs, e.g.
 *
 *   OUTPUT_FORMAT(elf64-x86-64)
 *   GROUP ( /usr/lib/x86_64-linux-gnu/libm-2.36.a /usr/lib/x86_64-linux-gnu/libmvec.a )
 *
 * Only the input-naming commands are understood: GROUP, INPUT, AS_NEEDED
 * (inside them), and OUTPUT_FORMAT, OUTPUT_ARCH and SEARCH_DIR. A script
 * that lays out sections (SECTIONS, MEMORY, ...) is an error saying so.
 */

export interface ScriptInput {
  /** A path, or a library name when it was written `-lNAME`. */
  path: string;
  isLibrary: boolean;
  asNeeded: boolean;
}

export interface InputScript {
  inputs: ScriptInput[];
  searchDirs: string[];
}

const KEYWORDS = /^(\s|\/\*[\s\S]*?\*\/)*(GROUP|INPUT|OUTPUT_FORMAT|OUTPUT_ARCH|SEARCH_DIR|ENTRY|SECTIONS|MEMORY|PHDRS|VERSION|INCLUDE|TARGET)\b/;

/** Whether the bytes look like a linker script (text that starts with a command or a comment). */
export function isLinkerScript(bytes: Uint8Array): boolean {
  const head = bytes.subarray(0, Math.min(bytes.length, 4096));
  for (const b of head) if (b === 0) return false;
  return KEYWORDS.test(new TextDecoder().decode(head));
}

function tokenize(text: string): string[] {
  const tokens: string[] = [];
  const re = /\/\*[\s\S]*?\*\/|"[^"]*"|[(),;=]|[^\s(),;="]+/g;
  for (const m of text.matchAll(re)) {
    const t = m[0];
    if (t.startsWith('/*')) continue;
    tokens.push(t.startsWith('"') ? t.slice(1, -1) : t);
  }
  return tokens;
}

export function parseInputScript(name: string, text: string): InputScript {
  const tokens = tokenize(text);
  const out: InputScript = { inputs: [], searchDirs: [] };
  let i = 0;
  const expect = (t: string) => {
    if (tokens[i] !== t) throw new LinkError(`${name}: linker script: expected '${t}' but found '${tokens[i] ?? 'end of file'}'`);
    i++;
  };
  /** The operands of GROUP/INPUT/AS_NEEDED, up to the closing parenthesis. */
  const files = (asNeeded: boolean) => {
    expect('(');
    while (i < tokens.length && tokens[i] !== ')') {
      const t = tokens[i++];
      if (t === ',') continue;
      if (t === 'AS_NEEDED') {
        files(true);
        continue;
      }
      if (t.startsWith('-l')) out.inputs.push({ path: t.slice(2), isLibrary: true, asNeeded });
      else out.inputs.push({ path: t, isLibrary: false, asNeeded });
    }
    expect(')');
  };
  const skipArgs = () => {
    expect('(');
    let depth = 1;
    while (i < tokens.length && depth > 0) {
      if (tokens[i] === '(') depth++;
      else if (tokens[i] === ')') depth--;
      i++;
    }
    if (depth > 0) throw new LinkError(`${name}: linker script: unbalanced parentheses`);
  };
  while (i < tokens.length) {
    const t = tokens[i++];
    switch (t) {
      case ';':
        break;
      case 'GROUP': case 'INPUT':
        files(false);
        break;
      case 'OUTPUT_FORMAT': case 'OUTPUT_ARCH': case 'TARGET':
        skipArgs();
        break;
      case 'SEARCH_DIR':
        expect('(');
        out.searchDirs.push(tokens[i++]);
        expect(')');
        break;
      default:
        throw new LinkError(`${name}: linker script command '${t}' is not supported yet (tslink reads scripts that name inputs: GROUP, INPUT, AS_NEEDED)`);
    }
  }
  return out;
}
