#!/usr/bin/env node
// The `verdict` CLI. Sources are TypeScript run through tsx, so a clean `npm ci` is all it needs.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
await main(process.argv);
