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

// A comment ends at its first `*/` (the lazy `[\s\S]*?` could also end at a later one, and then
// `(\s|comment)*` had exponentially many ways to split a run of comments before it failed).
const KEYWORDS = /^(\s|\/\*[^*]*\*+(?:[^/*][^*]*\*+)*\/)*(GROUP|INPUT|OUTPUT_FORMAT|OUTPUT_ARCH|SEARCH_DIR|ENTRY|SECTIONS|MEMORY|PHDRS|VERSION|INCLUDE|TARGET)\b/;

/** Whether the bytes look like a linker script (text that starts with a command or a comment). */
export function isLinkerScript(bytes: Uint8Array): boolean {
  const head = bytes.subarray(0, Math.min(bytes.length, 4096));
  for (const b of head) if (b === 0) return false;
  return KEYWORDS.test(new TextDecoder().decode(head));
}

/**
 * Comments, quoted names, punctuation and words; anything else (white space, a quote that is never
 * closed) separates them. Linear in the text: a comment is looked for only where a comment end
 * still follows (each unterminated comment start used to scan to the end of the text, which made
 * many of them quadratic); without one it is an ordinary word, as before.
 */
function tokenize(text: string): string[] {
  const tokens: string[] = [];
  const re = /"[^"]*"|[(),;=]|[^\s(),;="]+/y;
  const lastClose = text.lastIndexOf('*/');
  let at = 0;
  while (at < text.length) {
    if (text.startsWith('/*', at) && at + 2 <= lastClose) {
      at = text.indexOf('*/', at + 2) + 2;
      continue;
    }
    re.lastIndex = at;
    const m = re.exec(text);
    if (!m) {
      at++;
      continue;
    }
    const t = m[0];
    tokens.push(t.startsWith('"') ? t.slice(1, -1) : t);
    at = re.lastIndex;
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
  /**
   * The operands of GROUP/INPUT, up to the closing parenthesis, with AS_NEEDED lists nested in
   * them to any depth. A loop, not recursion: AS_NEEDED nested 100,000 deep overflowed the stack.
   */
  const files = () => {
    expect('(');
    let asNeeded = 0; // AS_NEEDED lists open
    for (;;) {
      if (i >= tokens.length) expect(')');
      const t = tokens[i++];
      if (t === ')') {
        if (asNeeded === 0) return;
        asNeeded--;
        continue;
      }
      if (t === ',') continue;
      if (t === 'AS_NEEDED') {
        expect('(');
        asNeeded++;
        continue;
      }
      if (t.startsWith('-l')) out.inputs.push({ path: t.slice(2), isLibrary: true, asNeeded: asNeeded > 0 });
      else out.inputs.push({ path: t, isLibrary: false, asNeeded: asNeeded > 0 });
    }
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
        files();
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
