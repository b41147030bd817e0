import { describe, expect, it } from 'vitest';
import { env } from 'cloudflare:test';
import { sha256Hex } from '../../shared/sha256.ts';
import { harness } from '../../../test/worker/harness.ts';

describe('rate limiting (Workers rate-limit bindings from wrangler.toml)', () => {
  it('limits each API key separately and answers 429 with Retry-After in OpenAI shape', async () => {
    const g = await harness({ 'a.test': {} }, { KEY_LIMITER: env.KEY_LIMITER });
    const key = `sk-rl-${crypto.randomUUID()}`;
    const other = `sk-rl-${crypto.randomUUID()}`;
    await env.API_KEYS.put(await sha256Hex(key), '{}');
    await env.API_KEYS.put(await sha256Hex(other), '{}');
    let limited: Response | undefined;
    // The limit is 120 per 60 s window. The loop takes about a second, so it crosses at most one
    // window boundary; 241 requests put at least 121 into one window (200 could split 100 + 100).
    for (let i = 0; i < 241 && !limited; i++) {
      const res = await g.request('/v1/models', { key });
      if (res.status === 429) limited = res;
      else expect(res.status).toBe(200);
    }
    expect(limited).toBeDefined();
    expect(limited!.headers.get('retry-after')).toBe('60');
    expect(((await limited!.json()) as { error: { type: string } }).error.type).toBe('rate_limit_error');
    expect((await g.request('/v1/models', { key: other })).status).toBe(200);
  });

  it('limits anonymous demo traffic per client IP', async () => {
    const g = await harness({ 'a.test': {} }, { IP_LIMITER: env.IP_LIMITER, PUBLIC_ROUTES: '/demo/v1/models' });
    const ip = `10.0.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}`;
    let status = 200;
    let n = 0;
    while (status === 200 && n < 200) {
      status = (await g.request('/demo/v1/models', { key: null, headers: { 'cf-connecting-ip': ip } })).status;
      n++;
    }
    expect(status).toBe(429);
    expect(n).toBeGreaterThan(1);
    expect((await g.request('/demo/v1/models', { key: null, headers: { 'cf-connecting-ip': '10.9.9.9' } })).status).toBe(200);
  });
});
