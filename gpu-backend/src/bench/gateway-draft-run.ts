/**
 * The cache-as-draft measurement (gateway-draft.ts) on a bundle, for `verdict bench --cache-draft`: one
 * `verdict serve` in this process and two gateways in front of it through scripts/gateway.mjs (the launcher
 * `npm start` uses), CACHE_AS_DRAFT on and off.
 */
import { randomBytes } from 'node:crypto';
import { startServer } from '../server/start.ts';
import { startGateway } from '../../../scripts/gateway.mjs';
import { BENCH_PROMPTS } from './prompts.ts';
import { formatDraftReport, measureCacheAsDraft, summariseDraftBench, type DraftBenchOptions } from './gateway-draft.ts';

export interface CacheDraftRunOptions {
  bundleDir: string;
  prompts?: number;
  regenerations?: number;
  maxTokens?: number;
  k?: number;
  onSample?: (done: number, total: number) => void;
}

export async function runCacheDraftBench(o: CacheDraftRunOptions): Promise<{ model: string; options: Omit<DraftBenchOptions, 'onSample'>; summary: ReturnType<typeof summariseDraftBench>; text: string }> {
  const opts: DraftBenchOptions = {
    prompts: BENCH_PROMPTS.slice(0, o.prompts ?? BENCH_PROMPTS.length),
    regenerations: o.regenerations ?? 4,
    maxTokens: o.maxTokens ?? 64,
    k: o.k ?? 8,
    temperature: 0.7,
  };
  const server = await startServer({ bundle: o.bundleDir, port: 0, logLevel: 'silent', workers: 1, concurrency: 4 });
  try {
    await server.ready;
    const model = server.state.bundle?.manifest.name;
    if (!model) throw new Error('the backend started without a bundle');
    const apiKey = `vbench-${randomBytes(12).toString('hex')}`;
    const common = { backends: [{ url: server.url, weight: 1, models: ['*'] }], port: 0, apiKeys: [apiKey], rateLimits: { KEY_LIMITER: { limit: 1_000_000_000 }, IP_LIMITER: { limit: 1_000_000_000 } }, logLevel: 'error' as const };
    const on = await startGateway({ ...common, vars: { CACHE_AS_DRAFT: 'on' } });
    try {
      const off = await startGateway({ ...common, vars: { CACHE_AS_DRAFT: 'off' }, build: false });
      try {
        let n = 0;
        const total = opts.prompts.length * opts.regenerations * 2;
        const samples = await measureCacheAsDraft({ on: on.url.origin, off: off.url.origin, apiKey, model }, { ...opts, onSample: () => o.onSample?.(++n, total) });
        const summary = summariseDraftBench(samples);
        return { model, options: opts, summary, text: `model ${model} (${o.bundleDir})\n${formatDraftReport(summary, opts)}` };
      } finally {
        await off.stop();
      }
    } finally {
      await on.stop();
    }
  } finally {
    await server.close();
  }
}
