// Type declarations for the `elfy` npm package (a small ELF parser without
// bundled types). Only what the tests use is described.
declare module 'elfy' {
  interface ElfyProgram {
    type: string | number;
    offset: number;
    vaddr: number;
    paddr: number;
    filesz: number;
    memsz: number;
    flags: Record<string, boolean>;
    align: number;
    data: Buffer;
  }

  interface ElfySection {
    name: string;
    type: string | number;
    flags: Record<string, boolean>;
    addr: number;
    off: number;
    size: number;
    link: number;
    info: number;
    addralign: number;
    entsize: number;
    data: Buffer;
  }

  interface ElfyFile {
    class: string;
    endian: string;
    osabi: string;
    type: string;
    machine: string;
    version: number;
    entry: number;
    phoff: number;
    shoff: number;
    flags: number;
    ehsize: number;
    phentsize: number;
    phnum: number;
    shentsize: number;
    shnum: number;
    shstrndx: number;
    body: { programs: ElfyProgram[]; sections: ElfySection[] };
  }

  const elfy: {
    parse(buf: Buffer): ElfyFile;
    constants: Record<string, Record<number, string>>;
  };
  export default elfy;
}
