import { describe, expect, it } from 'vitest';
import { parseServerTiming } from '@verdict/protocol';
import { chat, harness, KEY_B } from './harness.ts';
import { sseEvents } from './fake-backend.ts';

// Cache-as-draft through the whole gateway (auth, policy, lookup, join, draft, upstream, record, respond), against
// a fake backend that records every body it got.
const poem = (topic: string) => [{ role: 'user', content: `Write a poem about ${topic}` }];
const predictionOf = (body: unknown) => (body as { prediction?: unknown }).prediction ?? null;

async function primed(vars: Record<string, string> = {}) {
  const g = await harness({ 'a.test': { words: ['Roses', ' are', ' red'] } }, vars);
  const topic = crypto.randomUUID();
  const first = await g.request('/v1/chat/completions', { method: 'POST', json: chat({ messages: poem(topic), temperature: 0 }) });
  expect(first.headers.get('x-cache')).toBe('MISS');
  await first.text();
  await first.settled();
  return { g, topic };
}

describe('cache as draft, through the gateway', () => {
  it('a T = 0.7 regeneration after a T = 0 answer carries it as prediction and says X-Cache: DRAFT', async () => {
    const { g, topic } = await primed();
    const res = await g.request('/v1/chat/completions', { method: 'POST', json: chat({ messages: poem(topic), temperature: 0.7, stream: true, speculative: { mode: 'judge', k: 4 } }) });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-cache')).toBe('DRAFT');
    expect(parseServerTiming(res.headers.get('server-timing')).find((e) => e.name === 'cache')?.desc).toBe('draft');
    const events = await sseEvents(res);
    expect((JSON.parse(events.at(-2)!) as { timings: { cache: string } }).timings.cache).toBe('draft');
    const [primer, regen] = g.backends.generations();
    expect(predictionOf(primer.body)).toBeNull();
    expect(predictionOf(regen.body)).toEqual({ type: 'content', content: 'Roses are red' });
    // a second identical T = 0 request is still a plain cache hit
    const again = await g.request('/v1/chat/completions', { method: 'POST', json: chat({ messages: poem(topic), temperature: 0 }) });
    expect(again.headers.get('x-cache')).toBe('HIT');
  });

  it('another API key gets no draft from it', async () => {
    const { g, topic } = await primed();
    const res = await g.request('/v1/chat/completions', { method: 'POST', key: KEY_B, json: chat({ messages: poem(topic), temperature: 0.7 }) });
    expect(res.headers.get('x-cache')).toBe('BYPASS');
    expect(predictionOf(g.backends.generations().at(-1)!.body)).toBeNull();
  });

  it('an edited last user turn gets the earlier answer as its draft (cache;desc=draft-edit), at T = 0 in exact mode a miss too', async () => {
    const { g, topic } = await primed();
    const edited = chat({ messages: [{ role: 'user', content: `Write a short poem about ${topic}` }], temperature: 0, speculative: { mode: 'exact', k: 4 } });
    const res = await g.request('/v1/chat/completions', { method: 'POST', json: edited });
    expect(res.headers.get('x-cache')).toBe('DRAFT');
    expect(parseServerTiming(res.headers.get('server-timing')).find((e) => e.name === 'cache')?.desc).toBe('draft-edit');
    expect(predictionOf(g.backends.generations().at(-1)!.body)).toEqual({ type: 'content', content: 'Roses are red' });
    await res.text();
    await res.settled();
    // the answer was stored like any miss: the same request is now a hit
    const again = await g.request('/v1/chat/completions', { method: 'POST', json: edited });
    expect(again.headers.get('x-cache')).toBe('HIT');
    const sampled = await g.request('/v1/chat/completions', { method: 'POST', json: { ...edited, messages: [{ role: 'user', content: `Write a long poem about ${topic}` }], temperature: 0.7 } });
    expect(sampled.headers.get('x-cache')).toBe('DRAFT');
  });

  it('a deterministic request in a lenient mode gets no draft (its answer stays a function of the request)', async () => {
    const { g, topic } = await primed();
    const res = await g.request('/v1/chat/completions', { method: 'POST', json: chat({ messages: poem(topic), temperature: 0, stream: true, speculative: { mode: 'judge', k: 4 } }) });
    expect(res.headers.get('x-cache')).toBe('MISS');
    expect(predictionOf(g.backends.generations().at(-1)!.body)).toBeNull();
    await res.text();
  });

  it("the request's own prediction wins", async () => {
    const { g, topic } = await primed();
    const own = { type: 'content', content: [{ type: 'text', text: 'my own guess' }] };
    const res = await g.request('/v1/chat/completions', { method: 'POST', json: chat({ messages: poem(topic), temperature: 0.7, prediction: own }) });
    expect(res.headers.get('x-cache')).toBe('BYPASS');
    expect(predictionOf(g.backends.generations().at(-1)!.body)).toEqual(own);
  });

  it('CACHE_AS_DRAFT = "off": no prediction, no DRAFT', async () => {
    const { g, topic } = await primed({ CACHE_AS_DRAFT: 'off' });
    const res = await g.request('/v1/chat/completions', { method: 'POST', json: chat({ messages: poem(topic), temperature: 0.7 }) });
    expect(res.headers.get('x-cache')).toBe('BYPASS');
    expect(g.backends.generations().map((c) => predictionOf(c.body))).toEqual([null, null]);
  });

  it('a misspelt CACHE_AS_DRAFT is a 500 that names it', async () => {
    const g = await harness({ 'a.test': {} }, { CACHE_AS_DRAFT: 'yes' });
    const res = await g.request('/v1/chat/completions', { method: 'POST', json: chat() });
    expect(res.status).toBe(500);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/CACHE_AS_DRAFT: expected "on" or "off"/);
  });

  it('a backend that refuses prediction still answers (sent again without it), and X-Cache says BYPASS', async () => {
    const g = await harness({ 'a.test': { refusePrediction: true } });
    const topic = crypto.randomUUID();
    const first = await g.request('/v1/chat/completions', { method: 'POST', json: chat({ messages: poem(topic) }) });
    await first.text();
    await first.settled();
    const res = await g.request('/v1/chat/completions', { method: 'POST', json: chat({ messages: poem(topic), temperature: 0.7 }) });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-cache')).toBe('BYPASS');
    expect(g.backends.generations().map((c) => predictionOf(c.body) !== null)).toEqual([false, true, false]);
  });
});
