#!/usr/bin/env node
// The command line, bundled into one module and a chunk (npm run build): a fresh process loads two
// files rather than some sixty, which is most of what a relink in a fresh process spends before it starts.
import { main } from '../dist/bundle/main.js';

process.exitCode = await main(process.argv.slice(2));
