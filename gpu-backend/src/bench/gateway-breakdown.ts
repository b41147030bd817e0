/**
 * Where the gateway's added latency goes, measured side by side in one run on one machine (docs/gateway.md,
 * "Measured"): one `verdict serve` on a tiny bundle, and in front of it, all running at once —
 *   - `wrangler`:     our worker through wrangler's `unstable_startWorker` (its dev proxy in front; how `npm start` ran before)
 *   - `launcher`:     our worker through scripts/gateway.mjs (Miniflare's API directly; what `npm start`, e2e and the bench run)
 *   - `no-assets`:    the same without the static-assets router worker in front of ours
 *   - `bare-proxy`:   a three-line worker that only forwards the request, in the same Miniflare: the simulator's own share
 *   - `portkey`:      Portkey's open-source gateway on Node (@portkey-ai/gateway)
 * Requests rotate over the targets (and straight to the backend) so load hits them alike. Usage:
 *   node --import tsx gpu-backend/src/bench/gateway-breakdown.ts BUNDLE_DIR [SAMPLES] [--json FILE]
 */
import { createHash, randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import { parseServerTiming } from '@verdict/protocol';
import { unstable_startWorker } from 'wrangler';
import { startServer } from '../server/start.ts';
import { startForwardingWorker, startGateway } from '../../../scripts/gateway.mjs';
import { startPortkey } from './gateway-harness.ts';
import { percentile } from './stats.ts';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const [bundleDir, samplesArg] = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const jsonOut = process.argv.includes('--json') ? process.argv[process.argv.indexOf('--json') + 1] : null;
const SAMPLES = Number(samplesArg ?? 60);
const WARMUP = 8;
const MAX_TOKENS = 8;
if (!bundleDir) throw new Error('usage: gateway-breakdown.ts BUNDLE_DIR [SAMPLES]');

interface Target {
  name: string;
  url: string;
  headers: Record<string, string>;
  /** Our worker: it has a cache (hits and lookups are measured too). */
  verdict: boolean;
  agent: Agent;
  close: () => Promise<unknown>;
}

const server = await startServer({ bundle: bundleDir, port: 0, logLevel: 'silent', workers: 1, concurrency: 4 });
await server.ready;
const model = server.state.bundle!.manifest.name;
// wrangler's dev server keeps wrangler.toml's rate limits (120 a minute per key): misses rotate over many keys,
// and hits (one scope) use the first, well under its limit. The launcher's targets get the same keys.
const apiKeys = Array.from({ length: 64 }, () => `vbench-${randomBytes(8).toString('hex')}`);
const apiKey = apiKeys[0];
let sent = 0;
const backends = [{ url: server.url, weight: 1, models: ['*'] }];
const highLimits = { KEY_LIMITER: { limit: 1_000_000_000 }, IP_LIMITER: { limit: 1_000_000_000 } };
const auth = {};
const targets: Target[] = [];
const add = (name: string, url: string, headers: Record<string, string>, verdict: boolean, close: () => Promise<unknown>) =>
  targets.push({ name, url: url.replace(/\/$/, ''), headers, verdict, agent: new Agent({ keepAliveTimeout: 30_000, connections: 4 }), close });

const launcher = await startGateway({ backends, port: 0, apiKeys, rateLimits: highLimits, logLevel: 'error' });
add('launcher', launcher.url.href, auth, true, launcher.stop);
const noAssets = await startGateway({ backends, port: 0, apiKeys, rateLimits: highLimits, assets: false, build: false, logLevel: 'error' });
add('no-assets', noAssets.url.href, auth, true, noAssets.stop);

// The way `npm start` ran before scripts/gateway.mjs: wrangler's dev server (a proxy worker in front of ours).
const wrangler = await unstable_startWorker({
  config: join(ROOT, 'wrangler.toml'),
  bindings: {
    BACKENDS: { type: 'plain_text', value: JSON.stringify(backends) },
    API_KEY_HASHES: { type: 'plain_text', value: apiKeys.map((k) => createHash('sha256').update(k).digest('hex')).join(',') },
  },
  dev: { server: { hostname: '127.0.0.1', port: 0 }, inspector: false, persist: false, watch: false, logLevel: 'none' },
});
await wrangler.ready;
add('wrangler', (await wrangler.url).href, auth, true, () => wrangler.dispose());

// The simulator alone: a worker that only forwards, in the same Miniflare (scripts/gateway.mjs).
const bare = await startForwardingWorker(server.url);
add('bare-proxy', bare.url.href, {}, false, bare.stop);

const portkey = await startPortkey(server.url);
add(`portkey ${portkey.version}`, portkey.url, { ...portkey.headers, authorization: 'Bearer unused' }, false, portkey.close);
const direct: Target = { name: 'direct', url: server.url, headers: {}, verdict: false, agent: new Agent({ keepAliveTimeout: 30_000, connections: 4 }), close: async () => {} };

let seed = Math.floor(Math.random() * 1e9);
const body = (s: number, stream: boolean) =>
  JSON.stringify({ model, messages: [{ role: 'user', content: 'Measure the gateway, please.' }], max_tokens: MAX_TOKENS, temperature: 0, seed: s, stream, speculative: { mode: 'target' } });

async function send(t: Target, payload: string, extra: Record<string, string> = {}, key?: string): Promise<{ total: number; ttfb: number; cache: string | null; edge: number | null }> {
  const authorization = t.verdict ? { authorization: `Bearer ${key ?? apiKeys[1 + (Math.floor(sent++ / 50) % (apiKeys.length - 1))]}` } : {};
  const t0 = performance.now();
  const res = await request(`${t.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', ...t.headers, ...authorization, ...extra }, body: payload, dispatcher: t.agent });
  let ttfb = Number.NaN;
  for await (const _ of res.body) if (Number.isNaN(ttfb)) ttfb = performance.now() - t0;
  const total = performance.now() - t0;
  if (res.statusCode !== 200) throw new Error(`${t.name}: HTTP ${res.statusCode}`);
  const cache = res.headers['x-cache'];
  const timing = res.headers['server-timing'];
  const edge = parseServerTiming(typeof timing === 'string' ? timing : null).findLast((e) => e.name === 'edge')?.dur ?? null;
  return { total, ttfb: Number.isNaN(ttfb) ? total : ttfb, cache: typeof cache === 'string' ? cache : null, edge };
}

type Series = Record<string, number[]>;
const series: Record<string, Series> = {};
const push = (target: string, what: string, v: number) => ((series[target] ??= {})[what] ??= []).push(v);

// Pass-through (no-store: no cache at all) and misses (a new seed: lookup, then generate and store), JSON and SSE.
for (const mode of ['no-store', 'miss'] as const) {
  for (const stream of [false, true]) {
    for (let i = 0; i < WARMUP + SAMPLES; i++) {
      const payload = body(seed++, stream);
      const all = [direct, ...targets.filter((t) => mode === 'no-store' || t.verdict)];
      const order = all.map((_, k) => all[(k + i) % all.length]);
      for (const t of order) {
        const r = await send(t, payload, mode === 'no-store' && t.verdict ? { 'cache-control': 'no-store' } : {});
        if (t.verdict && r.cache !== (mode === 'no-store' ? 'BYPASS' : 'MISS')) throw new Error(`${t.name}: X-Cache ${r.cache} on a ${mode} request`);
        if (i >= WARMUP) push(t.name, `${mode} ${stream ? 'first byte' : 'total'}`, stream ? r.ttfb : r.total);
        if (i >= WARMUP && r.edge !== null) push(t.name, `${mode} ${stream ? 'stream' : 'json'} edge`, r.edge);
      }
    }
  }
}
// Hits: one primed answer per target, repeated.
const hitPayload = body(seed++, false);
for (const t of targets.filter((x) => x.verdict)) {
  for (let k = 0; k < 50 && (await send(t, hitPayload, {}, apiKey)).cache !== 'HIT'; k++) await new Promise((r) => setTimeout(r, 20));
}
for (let i = 0; i < WARMUP + SAMPLES; i++) {
  for (const t of targets.filter((x) => x.verdict)) {
    const r = await send(t, hitPayload, {}, apiKey);
    if (r.cache !== 'HIT') throw new Error(`${t.name}: X-Cache ${r.cache} on a repeat`);
    if (i >= WARMUP) push(t.name, 'hit total', r.total);
    if (i >= WARMUP && r.edge !== null) push(t.name, 'hit edge', r.edge);
  }
}

const p50 = (xs: number[] | undefined) => (xs?.length ? percentile(xs, 50) : null);
const d = series.direct;
const rows = targets.map((t) => {
  const s = series[t.name] ?? {};
  const over = (what: string) => {
    const a = p50(s[what]);
    const b = p50(d[what.startsWith('miss') ? what.replace('miss', 'no-store') : what]);
    return a === null || b === null ? null : a - b;
  };
  return {
    target: t.name,
    passthrough_added_ms: over('no-store total'),
    first_byte_added_ms: over('no-store first byte'),
    miss_added_ms: over('miss total'),
    miss_first_byte_added_ms: over('miss first byte'),
    hit_ms: p50(s['hit total']),
    // The worker's own Server-Timing `edge`: awaited work inside it (Cache API, KV, crypto, rate limit), the backend wait excluded.
    edge_ms: { passthrough: p50(s['no-store json edge']), miss: p50(s['miss json edge']), hit: p50(s['hit edge']) },
  };
});
const fmt = (x: number | null) => (x === null ? '—' : x.toFixed(2));
process.stdout.write(
  `direct p50: ${fmt(p50(d['no-store total']))} ms total, ${fmt(p50(d['no-store first byte']))} ms first byte; ${SAMPLES} samples per series, ${MAX_TOKENS}-token answers\n` +
    `| target | pass-through added | first byte added | miss added | miss first byte added | hit | edge: pass-through / miss / hit |\n|---|---|---|---|---|---|---|\n` +
    rows
      .map((r) => `| ${r.target} | ${fmt(r.passthrough_added_ms)} | ${fmt(r.first_byte_added_ms)} | ${fmt(r.miss_added_ms)} | ${fmt(r.miss_first_byte_added_ms)} | ${fmt(r.hit_ms)} | ${fmt(r.edge_ms.passthrough)} / ${fmt(r.edge_ms.miss)} / ${fmt(r.edge_ms.hit)} |`)
      .join('\n') +
    '\n',
);
if (jsonOut) await writeFile(jsonOut, JSON.stringify({ samples: SAMPLES, rows, series }, null, 1));
for (const t of [...targets, direct]) {
  await t.agent.close();
  await t.close().catch(() => {});
}
await server.close();
process.exit(0);
