#!/usr/bin/env node
/**
 * The one way to run the edge gateway locally: `npm start` (scripts/start-stack.mjs), the end-to-end tests
 * (test/e2e/gateway-stack.ts) and the bench (gpu-backend/src/bench/gateway-harness.ts) all call `startGateway`.
 *
 *   node scripts/gateway.mjs                          # backend http://127.0.0.1:8080, gateway :8787
 *   VERDICT_BACKEND_URL=http://127.0.0.1:9000 GATEWAY_PORT=8788 node scripts/gateway.mjs
 *
 * wrangler.toml stays the single source of settings: wrangler's `unstable_getMiniflareWorkerOptions` turns it
 * into Miniflare's worker options (compatibility date and flags, vars, KV namespaces, rate limits, static
 * assets) exactly as `wrangler dev` would. The worker is bundled with esbuild (wrangler's own copy) and run by
 * Miniflare's API directly (wrangler's own copy of Miniflare, so workerd is the one `wrangler dev` runs), with
 * no dev proxy in front. Why Miniflare and not `unstable_startWorker`: the dev proxy is a second worker and a
 * second HTTP hop on every request (docs/gateway.md, "Measured"), and wrangler's dev server fetches the
 * `Request.cf` object from the internet at startup. Here `cf` is a fixed local object, so a local stack makes
 * no outside request.
 */
import { execSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { unstable_getMiniflareWorkerOptions, unstable_readConfig } from 'wrangler';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CONFIG = join(ROOT, 'wrangler.toml');
/** A key that works against the local gateway (its SHA-256 is configured; the key itself is not secret). */
export const DEV_API_KEY = 'sk-verdict-dev';

export const sha256Hex = (text) => createHash('sha256').update(text).digest('hex');

/** The request.cf object every local request carries (Miniflare would otherwise download one at startup). */
export const LOCAL_CF = { colo: 'LOCAL', country: 'XX', city: 'Loopback', asn: 0, asOrganization: 'local', clientTcpRtt: 0, httpProtocol: 'HTTP/1.1', tlsVersion: '' };

const fromWrangler = createRequire(join(ROOT, 'node_modules/wrangler/package.json'));
/** wrangler's own dependencies (not whichever versions another package hoisted to the root). */
async function wranglerDependency(name) {
  return import(pathToFileURL(fromWrangler.resolve(name)).href);
}

/** The build step wrangler.toml names ([build] command: the demo page's bundle in public/demo/), as `wrangler dev` runs it. */
function runBuildCommand(config) {
  const command = config.build?.command;
  if (command) execSync(command, { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
}

/** src/index.ts bundled as wrangler bundles it: ESM, workerd conditions; Node built-ins come from nodejs_compat. */
async function bundleWorker(main, define) {
  const esbuild = await wranglerDependency('esbuild');
  const result = await esbuild.build({
    entryPoints: [main],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    mainFields: ['module', 'main'],
    conditions: ['workerd', 'worker', 'browser', 'import'],
    external: ['node:*', 'cloudflare:*'],
    define,
    outfile: join(ROOT, '.gateway/index.js'),
    logLevel: 'silent',
  });
  return result.outputFiles[0].text;
}

const LOG_LEVELS = { none: 'NONE', error: 'ERROR', warn: 'WARN', info: 'INFO', log: 'INFO', debug: 'DEBUG' };

/**
 * @param {import('./gateway.d.mts').GatewayOptions} [options]
 * @returns {Promise<import('./gateway.d.mts').RunningGateway>}
 */
export async function startGateway(options = {}) {
  const config = unstable_readConfig({ config: CONFIG }, { hideWarnings: true });
  if (options.build !== false) runBuildCommand(config);
  const { workerOptions, define, main } = unstable_getMiniflareWorkerOptions(config);
  checkRateLimitPeriod(workerOptions.bindings, workerOptions.ratelimits);
  const backends = options.backends ?? [{ url: process.env.VERDICT_BACKEND_URL ?? 'http://127.0.0.1:8080', weight: 1, models: ['*'] }];
  const apiKeys = options.apiKeys ?? [DEV_API_KEY];
  const ratelimits = { ...workerOptions.ratelimits };
  for (const [name, simple] of Object.entries(options.rateLimits ?? {})) ratelimits[name] = { ...ratelimits[name], simple: { ...ratelimits[name]?.simple, ...simple } };
  const { Miniflare, Log, LogLevel } = await wranglerDependency('miniflare');
  const mf = new Miniflare({
    ...workerOptions,
    ...(options.assets === false ? { assets: undefined } : {}),
    name: config.name,
    modules: true,
    script: await bundleWorker(main ?? join(ROOT, 'src/index.ts'), define),
    scriptPath: join(ROOT, '.gateway/index.js'),
    bindings: { ...workerOptions.bindings, BACKENDS: JSON.stringify(backends), API_KEY_HASHES: apiKeys.map(sha256Hex).join(','), ...options.vars },
    ratelimits,
    host: options.host ?? '127.0.0.1',
    port: options.port ?? 8787,
    cf: LOCAL_CF,
    log: new Log(LogLevel[LOG_LEVELS[options.logLevel ?? 'warn']]),
  });
  const url = await mf.ready;
  return { url, miniflare: mf, stop: () => mf.dispose() };
}

/**
 * The simulator alone, for measurements: a worker that only forwards each request to `backendUrl`, in the same
 * Miniflare and workerd as the gateway (same compatibility date, same local cf object). What it adds to a request
 * is the share of the gateway's added latency that is Miniflare's and workerd's, not our code's.
 * @param {string} backendUrl
 * @returns {Promise<{ url: URL, stop: () => Promise<void> }>}
 */
export async function startForwardingWorker(backendUrl) {
  const config = unstable_readConfig({ config: CONFIG }, { hideWarnings: true });
  const { Miniflare, Log, LogLevel } = await wranglerDependency('miniflare');
  const mf = new Miniflare({
    modules: true,
    script: `export default { fetch(req) { const u = new URL(req.url); return fetch(${JSON.stringify(backendUrl)} + u.pathname + u.search, req); } };`,
    compatibilityDate: config.compatibility_date,
    compatibilityFlags: config.compatibility_flags,
    host: '127.0.0.1',
    port: 0,
    cf: LOCAL_CF,
    log: new Log(LogLevel.ERROR),
  });
  const url = await mf.ready;
  return { url, stop: () => mf.dispose() };
}

/** RATE_LIMIT_PERIOD_S is sent as Retry-After: it must be the period of the rate-limit bindings, checked here at startup. */
export function checkRateLimitPeriod(vars = {}, ratelimits = {}) {
  const declared = vars.RATE_LIMIT_PERIOD_S;
  for (const [name, binding] of Object.entries(ratelimits)) {
    const period = binding?.simple?.period;
    if (declared !== undefined && period !== undefined && Number(declared) !== period) {
      throw new Error(`wrangler.toml: RATE_LIMIT_PERIOD_S is ${declared} but the ${name} binding's period is ${period}; they must be equal (it is sent as Retry-After on a 429)`);
    }
  }
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
    setTimeout(() => process.exit(0), 5000).unref();
    await gateway.stop();
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
