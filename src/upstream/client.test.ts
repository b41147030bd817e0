import { describe, expect, it } from 'vitest';
import type { BackendConfig, GatewayConfig } from '../config.ts';
import { chat, harness } from '../../test/worker/harness.ts';
import { sseEvents } from '../../test/worker/fake-backend.ts';
import { UpstreamClient } from './client.ts';
import { HealthTracker } from './health.ts';
import { weightedOrder } from './pool.ts';

const backend = (url: string, weight: number): BackendConfig => ({ url, weight, models: ['*'] });

describe('backend pool', () => {
  it('draws backends in proportion to their weights, each once', () => {
    const pool = [backend('a', 3), backend('b', 1)];
    // total weight 4: a draw below 0.75 lands on a (3/4), above on b
    const firsts = [0.1, 0.5, 0.74, 0.76, 0.99].map((r) => weightedOrder(pool, () => r)[0].url);
    expect(firsts).toEqual(['a', 'a', 'a', 'b', 'b']);
    expect(weightedOrder(pool).map((b) => b.url).sort()).toEqual(['a', 'b']);
  });

  it('puts a backend in cool-down after N failures, then probes /readyz', async () => {
    let now = 0;
    const h = new HealthTracker(2, 1000, () => now);
    const b = backend('http://x.test', 1);
    let probes = 0;
    let ready = false;
    const fetcher = (async (url: string) => {
      probes++;
      expect(url).toBe('http://x.test/readyz');
      return new Response(null, { status: ready ? 200 : 503 });
    }) as typeof fetch;
    const client = new UpstreamClient(h, fetcher, Math.random);
    const config = { upstreamTimeoutMs: 1000 } as GatewayConfig;
    const usable = async () => (await client.candidates({ ...config, backends: [b] }, undefined)).length === 1;
    h.recordFailure(b.url);
    expect(await usable()).toBe(true);
    h.recordFailure(b.url);
    expect(await usable()).toBe(false);
    expect(probes).toBe(0);
    now = 1500;
    expect(await usable()).toBe(false); // probe says not ready: new cool-down
    expect(probes).toBe(1);
    now = 3000;
    ready = true;
    expect(await usable()).toBe(true);
    expect(probes).toBe(2);
  });
});

describe('retry before the first byte', () => {
  for (const failure of ['down', '500', 'hang'] as const) {
    it(`retries once on another backend when the first is ${failure}`, async () => {
      // the random source is stubbed so that the failing backend a is drawn first every time: each request retries
      const g = await harness({ 'a.test': { failure }, 'b.test': {} }, { HEALTH_FAILURES: '100' }, { random: () => 0 });
      for (let i = 0; i < 4; i++) {
        const res = await g.request('/v1/chat/completions', { method: 'POST', json: chat({ temperature: 1 }) });
        expect(res.status).toBe(200);
        expect(res.headers.get('x-request-id')).toMatch(/^req-b\.test-/);
        await res.text();
      }
      expect(g.backends.generations('a.test')).toHaveLength(4);
      expect(g.backends.generations('b.test')).toHaveLength(4);
    });
  }

  it('returns 502 when both attempts fail, naming the backends', async () => {
    const g = await harness({ 'a.test': { failure: 'down' }, 'b.test': { failure: 'down' } });
    const res = await g.request('/v1/chat/completions', { method: 'POST', json: chat({ temperature: 1 }) });
    expect(res.status).toBe(502);
    const body = (await res.json()) as { error: { message: string; code: string } };
    expect(body.error.code).toBe('upstream_unavailable');
    expect(body.error.message).toContain('a.test');
    expect(body.error.message).toContain('b.test');
  });

  it('skips a backend in cool-down and answers 503 with Retry-After when none is healthy', async () => {
    const g = await harness({ 'a.test': { failure: 'down' } }, { HEALTH_FAILURES: '1', HEALTH_COOLDOWN_MS: '60000' });
    const first = await g.request('/v1/chat/completions', { method: 'POST', json: chat({ temperature: 1 }) });
    expect(first.status).toBe(502);
    const calls = g.backends.calls.length;
    const second = await g.request('/v1/chat/completions', { method: 'POST', json: chat({ temperature: 1 }) });
    expect(second.status).toBe(503);
    expect(second.headers.get('retry-after')).toBe('60');
    expect(g.backends.calls.length).toBe(calls);
  });

  it('never retries once streaming began: a stall ends the stream with an SSE error event and cancels upstream', async () => {
    const g = await harness({ 'a.test': { breakAfter: { chunks: 2, how: 'stall' } }, 'b.test': { breakAfter: { chunks: 2, how: 'stall' } } });
    const res = await g.request('/v1/chat/completions', { method: 'POST', json: chat({ stream: true, temperature: 1 }) });
    expect(res.status).toBe(200);
    const events = await sseEvents(res);
    expect(events).toHaveLength(3);
    expect(JSON.parse(events[2]).error).toMatchObject({ type: 'timeout_error', code: 'stream_stalled' });
    expect(g.backends.generations()).toHaveLength(1);
    expect(g.backends.generations()[0].cancelled).toBe(true);
  });
});
