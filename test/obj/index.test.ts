import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LinkError, LinkSession, VERSION } from '../../src/index.js';
import { repoRoot } from '../support/toolchain.js';

describe('the package entry point', function () {
  it("package.json's main is the compiled entry, and it exports the session, the error type and the version", function () {
    const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot(), 'package.json'), 'utf8')) as { main: string; version: string };
    expect(fs.existsSync(path.join(repoRoot(), pkg.main)), pkg.main).to.equal(true);
    expect(VERSION).to.equal(pkg.version);
    const s = new LinkSession({ format: 'elf', arch: 'x86_64', output: 'exe' });
    expect(() => s.image()).to.throw(LinkError, 'link() has not run');
  });
});
