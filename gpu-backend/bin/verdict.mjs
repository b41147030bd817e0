#!/usr/bin/env node
// The `verdict` CLI. Sources are TypeScript run through tsx, so a clean `npm ci` is all it needs.
if (process.argv[2] === 'serve') {
  // The server starts through its own launcher (malloc settings, precompiled JavaScript): see src/server/launch.mjs.
  // tsx is imported only below: loading its API (and esbuild's with it) costs the server's thread ~3.5 MiB of heap.
  const { launchServe } = await import('../src/server/launch.mjs');
  await launchServe(process.argv.slice(3), 'verdict serve');
} else {
  const { register } = await import('tsx/esm/api');
  register();
  const { main } = await import('../src/cli/main.ts');
  await main(process.argv);
}
