#!/usr/bin/env node
// The `verdict` CLI. Sources are TypeScript run through tsx, so a clean `npm ci` is all it needs.
import { register } from 'tsx/esm/api';

if (process.argv[2] === 'serve') {
  // The server starts through its own launcher (malloc settings, precompiled JavaScript): see src/server/launch.mjs.
  const { launchServe } = await import('../src/server/launch.mjs');
  await launchServe(process.argv.slice(3), 'verdict serve');
} else {
  register();
  const { main } = await import('../src/cli/main.ts');
  await main(process.argv);
}
