import { env } from 'cloudflare:test';
import { describe, expect, it, vi } from 'vitest';
import { ChatCompletionRequestSchema, parseServerTiming } from '@verdict/protocol';
import { cacheKey } from '../../src/cache/key.ts';
import type { CachedAnswer } from '../../src/cache/answer.ts';
import { sha256Hex } from '../../src/shared/sha256.ts';
import { AnswerStore, CACHE_NAME, KEY_ORIGIN, KV_MAX_VALUE_BYTES, KV_PREFIX } from '../../src/cache/store.ts';
import { sseEvents } from './fake-backend.ts';
import { chat, harness, KEY_A, KEY_B } from './harness.ts';

/** The test-only namespace declared in vitest.config.ts, handed to the gateway as its CACHE_KV binding. */
const kv = (env as unknown as { TEST_CACHE_KV: KVNamespace }).TEST_CACHE_KV;

/** The key the gateway uses for this chat request by KEY_A under `fingerprint`. */
async function keyOf(request: Record<string, unknown>, fingerprint: string, apiKey = KEY_A): Promise<string> {
  return cacheKey('chat', ChatCompletionRequestSchema.parse(request), fingerprint, `key:${await sha256Hex(apiKey)}`);
}

/** What another data centre sees: the same KV, an empty Cache API. */
async function forgetLocally(key: string): Promise<void> {
  expect(await (await caches.open(CACHE_NAME)).delete(KEY_ORIGIN + key)).toBe(true);
}

const cacheDesc = (res: Response) => parseServerTiming(res.headers.get('server-timing')).find((e) => e.name === 'cache')?.desc;

describe('the optional KV tier (CACHE_KV)', () => {
  it('writes complete answers to KV with the route TTL; a Cache API miss is a KV hit (hit-kv) that re-populates the Cache API', async () => {
    const fingerprint = `fp-${crypto.randomUUID()}`;
    const g = await harness({ 'a.test': { fingerprint } }, { CACHE_KV: kv, CACHE_TTLS: '{"default":120}' });
    const request = chat({ stream: true });
    const key = await keyOf(request, fingerprint);

    const first = await g.request('/v1/chat/completions', { method: 'POST', json: request });
    expect(first.headers.get('x-cache')).toBe('MISS');
    const firstEvents = await sseEvents(first);
    await first.settled();
    const listed = await kv.list({ prefix: KV_PREFIX + key });
    expect(listed.keys).toHaveLength(1);
    const expiration = listed.keys[0].expiration!;
    expect(expiration - Date.now() / 1000).toBeGreaterThan(100);
    expect(expiration - Date.now() / 1000).toBeLessThanOrEqual(121);
    expect(((await kv.get(KV_PREFIX + key, 'json')) as CachedAnswer).kind).toBe('sse');

    // Cache API hit: the local tier, as before.
    const local = await g.request('/v1/chat/completions', { method: 'POST', json: request });
    expect(local.headers.get('x-cache')).toBe('HIT');
    expect(cacheDesc(local)).toBe('hit');
    await local.text();

    // Another colo: nothing in its Cache API, the answer comes from KV, chunk for chunk.
    await forgetLocally(key);
    const global = await g.request('/v1/chat/completions', { method: 'POST', json: request });
    expect(global.headers.get('x-cache')).toBe('HIT');
    expect(cacheDesc(global)).toBe('hit-kv');
    const globalEvents = await sseEvents(global);
    const strip = (events: string[]) => events.map((e) => (e.includes('"timings"') ? JSON.parse(e).choices : e));
    expect(strip(globalEvents)).toEqual(strip(firstEvents));
    expect(JSON.parse(globalEvents.at(-2)!).timings.cache).toBe('hit');
    await global.settled();

    // ...which put it back in the Cache API.
    const again = await g.request('/v1/chat/completions', { method: 'POST', json: request });
    expect(cacheDesc(again)).toBe('hit');
    await again.text();
    expect(g.backends.generations()).toHaveLength(1);
  });

  it('keeps the scoping: another API key misses in both tiers; JSON answers go through KV too', async () => {
    const fingerprint = `fp-${crypto.randomUUID()}`;
    const g = await harness({ 'a.test': { fingerprint } }, { CACHE_KV: kv });
    const request = chat();
    const first = await g.request('/v1/chat/completions', { method: 'POST', json: request });
    await first.text();
    await first.settled();
    await forgetLocally(await keyOf(request, fingerprint));
    const other = await g.request('/v1/chat/completions', { method: 'POST', key: KEY_B, json: request });
    expect(other.headers.get('x-cache')).toBe('MISS');
    await other.text();
    await other.settled();
    const mine = await g.request('/v1/chat/completions', { method: 'POST', json: request });
    expect(mine.headers.get('x-cache')).toBe('HIT');
    expect(cacheDesc(mine)).toBe('hit-kv');
    expect(((await mine.json()) as { timings: { cache: string } }).timings.cache).toBe('hit');
    expect(g.backends.generations()).toHaveLength(2);
    expect(await kv.get(KV_PREFIX + (await keyOf(request, fingerprint, KEY_B)))).not.toBeNull();
  });

  it('never writes errors or truncated streams to KV', async () => {
    for (const how of ['error-event', 'truncate'] as const) {
      const fingerprint = `fp-${crypto.randomUUID()}`;
      const g = await harness({ 'a.test': { fingerprint, breakAfter: { chunks: 1, how } } }, { CACHE_KV: kv });
      const res = await g.request('/v1/chat/completions', { method: 'POST', json: chat({ stream: true }) });
      await res.text();
      await res.settled();
      expect(await kv.get(KV_PREFIX + (await keyOf(chat({ stream: true }), fingerprint)))).toBeNull();
    }
  });

  it('skips KV for a route TTL under 60 s (KV refuses such an expirationTtl); the Cache API still caches', async () => {
    const fingerprint = `fp-${crypto.randomUUID()}`;
    const g = await harness({ 'a.test': { fingerprint } }, { CACHE_KV: kv, CACHE_TTLS: '{"default":30}' });
    const first = await g.request('/v1/chat/completions', { method: 'POST', json: chat() });
    await first.text();
    await first.settled();
    expect(await kv.get(KV_PREFIX + (await keyOf(chat(), fingerprint)))).toBeNull();
    const second = await g.request('/v1/chat/completions', { method: 'POST', json: chat() });
    expect(cacheDesc(second)).toBe('hit');
    await second.text();
  });

  it('skips KV for an answer over 25 MiB', async () => {
    const put = vi.fn(async () => {});
    const fake = { put } as unknown as KVNamespace;
    const store = new AnswerStore();
    const record = (size: number): CachedAnswer => ({ v: 1, kind: 'json', body: 'x'.repeat(size), requestId: null, created: 0 });
    expect(await store.putGlobal(fake, 'k', record(KV_MAX_VALUE_BYTES), 3600)).toBe(false);
    expect(await store.putGlobal(fake, 'k', record(1000), 3600)).toBe(true);
    expect(put).toHaveBeenCalledTimes(1);
    expect(put).toHaveBeenCalledWith(KV_PREFIX + 'k', expect.any(String), expect.objectContaining({ expirationTtl: 3600 }));
  });

  it('without the binding, nothing is written to KV', async () => {
    const fingerprint = `fp-${crypto.randomUUID()}`;
    const g = await harness({ 'a.test': { fingerprint } });
    const first = await g.request('/v1/chat/completions', { method: 'POST', json: chat() });
    await first.text();
    await first.settled();
    expect(await kv.get(KV_PREFIX + (await keyOf(chat(), fingerprint)))).toBeNull();
  });
});
