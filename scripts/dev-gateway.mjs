#!/usr/bin/env node
/**
 * The edge gateway running locally in Miniflare (through wrangler's unstable_startWorker, which bundles
 * src/index.ts with wrangler.toml's settings) in front of one or more local `verdict serve` backends.
 *
 *   node scripts/dev-gateway.mjs                      # backend http://127.0.0.1:8080, gateway :8787
 *   VERDICT_BACKEND_URL=http://127.0.0.1:9000 GATEWAY_PORT=8788 node scripts/dev-gateway.mjs
 *
 * Also imported by the end-to-end tests and the `npm start` stack: `startGateway({ backends, port })`.
 */
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { unstable_startWorker } from 'wrangler';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** A key that works against the local gateway (its SHA-256 is configured; the key itself is not secret). */
export const DEV_API_KEY = 'sk-verdict-dev';

export const sha256Hex = (text) => createHash('sha256').update(text).digest('hex');

/**
 * @param {{ backends?: { url: string, weight?: number, models?: string[] }[], port?: number, host?: string,
 *           apiKeys?: string[], vars?: Record<string, string>, logLevel?: 'none'|'error'|'warn'|'info'|'log'|'debug' }} options
 * @returns {Promise<{ url: URL, stop: () => Promise<void> }>}
 */
export async function startGateway(options = {}) {
  const backends = options.backends ?? [{ url: process.env.VERDICT_BACKEND_URL ?? 'http://127.0.0.1:8080', weight: 1, models: ['*'] }];
  const apiKeys = options.apiKeys ?? [DEV_API_KEY];
  const vars = {
    BACKENDS: JSON.stringify(backends),
    API_KEY_HASHES: apiKeys.map(sha256Hex).join(','),
    ...options.vars,
  };
  const worker = await unstable_startWorker({
    config: `${ROOT}/wrangler.toml`,
    bindings: Object.fromEntries(Object.entries(vars).map(([k, value]) => [k, { type: 'plain_text', value }])),
    dev: {
      server: { hostname: options.host ?? '127.0.0.1', port: options.port ?? 8787 },
      inspector: false,
      persist: false,
      watch: false,
      logLevel: options.logLevel ?? 'warn',
    },
  });
  await worker.ready;
  const url = await worker.url;
  return { url, stop: () => worker.dispose() };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const port = Number(process.env.GATEWAY_PORT ?? 8787);
  const gateway = await startGateway({ port, host: process.env.GATEWAY_HOST ?? '127.0.0.1', logLevel: 'info' });
  const base = gateway.url.href.replace(/\/$/, '');
  process.stdout.write(
    `gateway on ${base} → ${process.env.VERDICT_BACKEND_URL ?? 'http://127.0.0.1:8080'}\n` +
      `  curl -N ${base}/v1/chat/completions -H 'authorization: Bearer ${DEV_API_KEY}' -H 'content-type: application/json' \\\n` +
      `    -d '{"model":"synth-tiny","messages":[{"role":"user","content":"Hello"}],"temperature":0,"stream":true}'\n`,
  );
  let stopping = false;
  const stop = async () => {
    if (stopping) process.exit(1);
    stopping = true;
    setTimeout(() => process.exit(0), 5000).unref(); // wrangler's teardown can linger; never hang on Ctrl-C
    await gateway.stop();
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
