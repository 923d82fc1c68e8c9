#!/usr/bin/env node
// The command line. It runs the bundle (npm run build) through load.js, which keeps V8's compiled code
// between runs: a fresh process loads one file, and compiles little of it.
require('./load.js').runTslink(process.argv.slice(2));
