#!/usr/bin/env node
// `verdict serve` alone, for the container: it loads only the server's modules, so the image
// needs no dependency of the other CLI subcommands. Flags as `verdict serve --help` lists them.
import { register } from 'tsx/esm/api';

register();
const { command } = await import('../cli/serve.ts');
try {
  await command().name('verdict-serve').parseAsync(process.argv);
} catch (err) {
  process.stderr.write(`verdict serve: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
