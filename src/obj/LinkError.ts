/**
 * The one error type a link reports to its user. Its message is complete and
 * user-facing: it names the file (and archive member), and where it applies
 * the section, offset, symbol and relocation type, the way lld's messages do.
 * The command line prints it as `tslink: error: <message>` and exits with 1.
 */
export class LinkError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LinkError';
  }
}

/** Formats a number as lld does in its messages: lower-case hex with 0x. */
export function hex(n: number | bigint): string {
  return '0x' + n.toString(16);
}

/** A place in an input section, as lld names it in messages: `file:(section+0x...)`. */
export function placeName(file: string, section: string, offset: number): string {
  return `${file}:(${section}+${hex(offset)})`;
}
