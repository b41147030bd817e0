/**
 * worker-configuration.d.ts holds only the Env bindings that `wrangler types` generates from wrangler.toml (the runtime
 * types come from @cloudflare/workers-types). It must match wrangler.toml: `npm run types` regenerates it.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const WRANGLER = fileURLToPath(new URL('../../node_modules/wrangler/bin/wrangler.js', import.meta.url));

describe('generated worker types', () => {
  it('worker-configuration.d.ts is fresh for wrangler.toml (else: npm run types)', async () => {
    const run = promisify(execFile)(process.execPath, [WRANGLER, 'types', '--include-runtime=false', '--strict-vars=false', '--check'], { cwd: ROOT, env: { ...process.env, WRANGLER_SEND_METRICS: 'false' } });
    const { stdout, stderr } = await run.catch((err: { stdout: string; stderr: string; code: number }) => {
      throw new Error(`worker-configuration.d.ts is out of date with wrangler.toml; run \`npm run types\`\n${err.stdout}\n${err.stderr}`);
    });
    expect(`${stdout}${stderr}`).not.toMatch(/out of date/i);
  });
});
