/**
 * Runs the cache-as-draft measurement (gateway-draft.ts) on a bundle: one `verdict serve` in this process and two
 * gateways in front of it through scripts/gateway.mjs (the launcher `npm start` uses), CACHE_AS_DRAFT on and off.
 *   node --import tsx gpu-backend/src/bench/gateway-draft-run.ts BUNDLE_DIR [--regenerations 4] [--max-tokens 64] [--k 8] [--json FILE]
 */
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { startServer } from '../server/start.ts';
import { startGateway } from '../../../scripts/gateway.mjs';
import { BENCH_PROMPTS } from './prompts.ts';
import { formatDraftReport, measureCacheAsDraft, summariseDraftBench, type DraftBenchOptions } from './gateway-draft.ts';

const args = process.argv.slice(2);
const flag = (name: string, fallback: string | null = null) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
const bundleDir = args.find((a, i) => !a.startsWith('--') && !args[i - 1]?.startsWith('--'));
if (!bundleDir) throw new Error('usage: gateway-draft-run.ts BUNDLE_DIR [--regenerations N] [--max-tokens N] [--k N] [--prompts N] [--json FILE]');
const opts: DraftBenchOptions = {
  prompts: BENCH_PROMPTS.slice(0, Number(flag('--prompts', String(BENCH_PROMPTS.length)))),
  regenerations: Number(flag('--regenerations', '4')),
  maxTokens: Number(flag('--max-tokens', '64')),
  k: Number(flag('--k', '8')),
  temperature: 0.7,
};

const server = await startServer({ bundle: bundleDir, port: 0, logLevel: 'silent', workers: 1, concurrency: 4 });
await server.ready;
const model = server.state.bundle?.manifest.name;
if (!model) throw new Error('the backend started without a bundle');
const apiKey = `vbench-${randomBytes(12).toString('hex')}`;
const common = { backends: [{ url: server.url, weight: 1, models: ['*'] }], port: 0, apiKeys: [apiKey], rateLimits: { KEY_LIMITER: { limit: 1_000_000_000 }, IP_LIMITER: { limit: 1_000_000_000 } }, logLevel: 'error' as const };
const on = await startGateway({ ...common, vars: { CACHE_AS_DRAFT: 'on' } });
const off = await startGateway({ ...common, vars: { CACHE_AS_DRAFT: 'off' }, build: false });
try {
  let n = 0;
  const total = opts.prompts.length * opts.regenerations * 2;
  const samples = await measureCacheAsDraft({ on: on.url.origin, off: off.url.origin, apiKey, model }, { ...opts, onSample: () => process.stderr.write(`\r${++n}/${total}`) });
  process.stderr.write('\n');
  const summary = summariseDraftBench(samples);
  process.stdout.write(`model ${model} (${bundleDir})\n${formatDraftReport(summary, opts)}\n`);
  const json = flag('--json');
  if (json) await writeFile(json, JSON.stringify({ model, bundle: bundleDir, options: { ...opts, onSample: undefined }, summary, samples }, null, 1));
} finally {
  await on.stop();
  await off.stop();
  await server.close();
}
process.exit(0);
