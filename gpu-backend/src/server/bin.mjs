#!/usr/bin/env node
// `verdict serve` alone, for the container: it loads only the server's modules, so the image
// needs no dependency of the other CLI subcommands. Flags as `verdict serve --help` lists them.
// launch.mjs decides how the server runs (malloc settings, precompiled or through tsx).
import { launchServe } from './launch.mjs';

await launchServe(process.argv.slice(2), 'verdict-serve');
