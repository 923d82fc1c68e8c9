// Injected into the command line's CommonJS bundle (package.json's build): `import.meta.url` there is
// the bundle's own URL, as it was the module's in the ES module build (fixture.ts finds the fixture by it).
export const importMetaUrl = require('node:url').pathToFileURL(__filename).href;
