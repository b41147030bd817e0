import { Agent, request } from 'undici';
import { parseServerTiming } from '@verdict/protocol';
import type { GatewayStack } from './gateway-harness.ts';
import type { GatewayResult } from './schema.ts';
import { percentile } from './stats.ts';

export interface GatewayLoadOptions {
  /** Measured requests per series (after a few warm-ups). */
  samples: number;
  /** Seconds of the cache-hit throughput loop. */
  throughputSeconds: number;
  /** Concurrent connections in the throughput loop. */
  concurrency: number;
  /** Completion length of every request (short: the gateway's cost, not the model's, is measured). */
  maxTokens: number;
  onSample?: () => void;
}

const WARMUP = 5;

/** One request: latency to the last byte, time to the first body byte, and the gateway's X-Cache verdict. */
interface Timed {
  totalMs: number;
  ttfbMs: number;
  cache: string | null;
  /** The gateway's own `edge` Server-Timing entry: time in the worker, the wait for the backend excluded. */
  edgeMs: number | null;
  /** The gateway's `upstream` entry: its wait for the backend's first byte. */
  upstreamMs: number | null;
}

/**
 * The gateway's cost, measured on loopback with an undici keep-alive client:
 *  - cache hit: the same deterministic request repeated through the gateway (the answer comes from the edge cache);
 *  - cache miss: pairs of identical requests, one straight to the backend and one through the gateway, each pair
 *    with a seed never used before (temperature 0: same work, new cache key), in alternating order;
 *  - stream: the same, with stream=true, timing the first body byte;
 *  - throughput: `concurrency` loops of cache hits for `throughputSeconds`.
 * Every gateway answer's X-Cache header is checked, so a hit that was really a miss cannot pass unnoticed.
 */
export async function measureGateway(stack: GatewayStack, opts: GatewayLoadOptions): Promise<GatewayResult> {
  const agent = new Agent({ keepAliveTimeout: 30_000, connections: Math.max(4, opts.concurrency) });
  let seed = Math.floor(Math.random() * 1e9);
  const body = (s: number, stream: boolean) =>
    JSON.stringify({
      model: stack.model,
      messages: [{ role: 'user', content: 'Measure the gateway, please.' }],
      max_tokens: opts.maxTokens,
      temperature: 0,
      seed: s,
      stream,
      speculative: { mode: 'target' },
    });
  const portkeyHeaders = stack.portkey ? { ...stack.portkey.headers, authorization: 'Bearer unused' } : {};
  const send = async (base: string, payload: string | null, extra: Record<string, string> = {}): Promise<Timed> => {
    const headers: Record<string, string> = { authorization: `Bearer ${stack.apiKey}`, ...(base === stack.portkey?.url ? portkeyHeaders : {}), ...extra };
    if (payload) headers['content-type'] = 'application/json';
    const t0 = performance.now();
    const res = await request(`${base}${payload ? '/v1/chat/completions' : '/healthz'}`, {
      method: payload ? 'POST' : 'GET',
      headers,
      body: payload ?? undefined,
      dispatcher: agent,
    });
    let ttfbMs = Number.NaN;
    for await (const _chunk of res.body) if (Number.isNaN(ttfbMs)) ttfbMs = performance.now() - t0;
    const totalMs = performance.now() - t0;
    if (res.statusCode !== 200) throw new Error(`gateway bench: ${base} answered HTTP ${res.statusCode}`);
    const cache = res.headers['x-cache'];
    const timing = res.headers['server-timing'];
    const entries = parseServerTiming(typeof timing === 'string' ? timing : null);
    const dur = (name: string) => entries.findLast((e) => e.name === name)?.dur ?? null;
    return { totalMs, ttfbMs: Number.isNaN(ttfbMs) ? totalMs : ttfbMs, cache: typeof cache === 'string' ? cache.toUpperCase() : null, edgeMs: dur('edge'), upstreamMs: dur('upstream') };
  };
  const expectCache = (t: Timed, want: string, what: string) => {
    if (t.cache !== want) throw new Error(`gateway bench: expected X-Cache ${want} on ${what}, got ${t.cache ?? 'no X-Cache header'}`);
  };

  try {
    const floor: number[] = [];
    for (let i = 0; i < WARMUP + opts.samples; i++) {
      const t = await send(stack.backendUrl, null);
      if (i >= WARMUP) floor.push(t.totalMs);
    }

    // Misses and stream first bytes: fresh seeds, direct and via the gateway in alternating order.
    const missDirect: number[] = [];
    const missGateway: number[] = [];
    const ttfbDirect: number[] = [];
    const ttfbGateway: number[] = [];
    const missEdge: number[] = [];
    const hitEdge: number[] = [];
    const streamUpstream: number[] = [];
    // Pass-through (no-store) through our gateway and through Portkey's: same payloads, same rotation.
    const pass: Record<'json' | 'stream', { verdict: number[]; portkey: number[]; simulator: number[] }> = {
      json: { verdict: [], portkey: [], simulator: [] },
      stream: { verdict: [], portkey: [], simulator: [] },
    };
    for (const stream of [false, true]) {
      for (let i = 0; i < WARMUP + opts.samples; i++) {
        const payload = body(seed++, stream);
        // Direct, the gateway (a miss), the gateway with no-store, and Portkey, in a rotating order.
        const legs = [
          { name: 'direct', run: () => send(stack.backendUrl, payload) },
          { name: 'via', run: () => send(stack.gatewayUrl, payload) },
          { name: 'nostore', run: () => send(stack.gatewayUrl, payload, { 'cache-control': 'no-store' }) },
          { name: 'simulator', run: () => send(stack.forwardingUrl, payload) },
          ...(stack.portkey ? [{ name: 'portkey', run: () => send(stack.portkey!.url, payload) }] : []),
        ];
        const got: Record<string, Timed> = {};
        for (let k = 0; k < legs.length; k++) {
          const leg = legs[(k + i) % legs.length];
          got[leg.name] = await leg.run();
        }
        const { via, direct, nostore, portkey, simulator } = got;
        expectCache(via, 'MISS', `a ${stream ? 'stream' : 'request'} with a new seed`);
        expectCache(nostore, 'BYPASS', `a ${stream ? 'stream' : 'request'} sent with cache-control: no-store`);
        if (i < WARMUP) continue;
        const p = pass[stream ? 'stream' : 'json'];
        p.verdict.push(stream ? nostore.ttfbMs : nostore.totalMs);
        if (portkey) p.portkey.push(stream ? portkey.ttfbMs : portkey.totalMs);
        p.simulator.push(stream ? simulator.ttfbMs : simulator.totalMs);
        if (stream) {
          ttfbDirect.push(direct.ttfbMs);
          ttfbGateway.push(via.ttfbMs);
          if (via.upstreamMs != null) streamUpstream.push(via.upstreamMs);
        } else {
          missDirect.push(direct.totalMs);
          missGateway.push(via.totalMs);
          if (via.edgeMs != null) missEdge.push(via.edgeMs);
        }
        opts.onSample?.();
      }
    }

    // Cache hits: prime one answer (the store may finish just after the response), then repeat it.
    const hitPayload = body(seed++, false);
    let primed = false;
    for (let i = 0; i < 50 && !primed; i++) {
      primed = (await send(stack.gatewayUrl, hitPayload)).cache === 'HIT';
      if (!primed) await new Promise((r) => setTimeout(r, 20));
    }
    if (!primed) throw new Error('gateway bench: a repeated deterministic request never became a cache HIT');
    const hit: number[] = [];
    for (let i = 0; i < WARMUP + opts.samples; i++) {
      const t = await send(stack.gatewayUrl, hitPayload);
      expectCache(t, 'HIT', 'a repeated request');
      if (i >= WARMUP) {
        hit.push(t.totalMs);
        if (t.edgeMs != null) hitEdge.push(t.edgeMs);
        opts.onSample?.();
      }
    }

    let done = 0;
    const until = performance.now() + opts.throughputSeconds * 1000;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: opts.concurrency }, async () => {
        while (performance.now() < until) {
          expectCache(await send(stack.gatewayUrl, hitPayload), 'HIT', 'a repeated request under load');
          done++;
        }
      }),
    );
    const throughput = done / ((performance.now() - started) / 1000);

    const p50 = (s: number[]) => percentile(s, 50);
    return {
      hit_p50_ms: p50(hit),
      hit_p99_ms: percentile(hit, 99),
      miss_overhead_p50_ms: p50(missGateway) - p50(missDirect),
      miss_overhead_p99_ms: percentile(missGateway, 99) - percentile(missDirect, 99),
      stream_ttfb_overhead_p50_ms: p50(ttfbGateway) - p50(ttfbDirect),
      hit_throughput_rps: throughput,
      loopback_floor_p50_ms: p50(floor),
      hit_edge_p50_ms: hitEdge.length ? p50(hitEdge) : null,
      miss_edge_p50_ms: missEdge.length ? p50(missEdge) : null,
      stream_ttfb_direct_p50_ms: p50(ttfbDirect),
      stream_upstream_p50_ms: streamUpstream.length ? p50(streamUpstream) : null,
      concurrency: opts.concurrency,
      passthrough_overhead_p50_ms: p50(pass.json.verdict) - p50(missDirect),
      passthrough_stream_ttfb_overhead_p50_ms: p50(pass.stream.verdict) - p50(ttfbDirect),
      simulator_overhead_p50_ms: p50(pass.json.simulator) - p50(missDirect),
      simulator_stream_ttfb_overhead_p50_ms: p50(pass.stream.simulator) - p50(ttfbDirect),
      portkey_overhead_p50_ms: stack.portkey ? p50(pass.json.portkey) - p50(missDirect) : null,
      portkey_stream_ttfb_overhead_p50_ms: stack.portkey ? p50(pass.stream.portkey) - p50(ttfbDirect) : null,
      portkey: stack.portkey ? `@portkey-ai/gateway ${stack.portkey.version}` : `not measured: ${stack.portkeyError ?? 'unknown'}`,
      samples_ms: {
        'loopback floor (GET /healthz, backend)': floor,
        'cache hit, via gateway': hit,
        'miss, direct to backend': missDirect,
        'miss, via gateway': missGateway,
        'stream first byte, direct': ttfbDirect,
        'stream first byte, via gateway': ttfbGateway,
        'pass-through (no-store), via gateway': pass.json.verdict,
        'pass-through stream first byte (no-store), via gateway': pass.stream.verdict,
        ...(stack.portkey ? { 'via Portkey': pass.json.portkey, 'stream first byte, via Portkey': pass.stream.portkey } : {}),
      },
    };
  } finally {
    await agent.close();
  }
}
