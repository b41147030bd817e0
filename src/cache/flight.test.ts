import { describe, expect, it } from 'vitest';
import { chat, harness } from '../../test/worker/harness.ts';
import { sseEvents } from '../../test/worker/fake-backend.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('single flight and cancellation', () => {
  it('coalesces identical concurrent deterministic requests into one generation', async () => {
    const g = await harness({ 'a.test': { chunkDelayMs: 20 } }, { STALL_TIMEOUT_MS: '2000' });
    const [a, b, c] = await Promise.all([0, 1, 2].map(() => g.request('/v1/chat/completions', { method: 'POST', json: chat({ stream: true }) })));
    const [ea, eb, ec] = await Promise.all([a, b, c].map((r) => sseEvents(r)));
    expect(g.backends.generations()).toHaveLength(1);
    expect([a, b, c].map((r) => r.headers.get('x-cache')).sort()).toEqual(['HIT', 'HIT', 'MISS']);
    expect([a, b, c].filter((r) => r.headers.get('x-verdict-coalesced') === 'true')).toHaveLength(2);
    const content = (events: string[]) => events.filter((e) => e !== '[DONE]').map((e) => JSON.parse(e).choices[0].delta.content ?? '').join('');
    expect(content(ea)).toBe('Hello world!');
    expect(content(eb)).toBe(content(ea));
    expect(content(ec)).toBe(content(ea));
  });

  it('a client disconnect cancels the upstream generation', async () => {
    const g = await harness({ 'a.test': { chunkDelayMs: 30, words: Array.from({ length: 50 }, (_, i) => `w${i} `) } }, { STALL_TIMEOUT_MS: '2000' });
    const controller = new AbortController();
    const res = await g.request('/v1/chat/completions', { method: 'POST', json: chat({ stream: true, temperature: 1 }), signal: controller.signal });
    const reader = res.body!.getReader();
    await reader.read();
    controller.abort();
    await reader.cancel().catch(() => {});
    await sleep(100);
    const gen = g.backends.generations()[0];
    expect(gen.cancelled).toBe(true);
    expect(gen.signal?.aborted).toBe(true);
  });

  it('one of two coalesced clients leaving does not cancel the generation for the other', async () => {
    const g = await harness({ 'a.test': { chunkDelayMs: 15, words: Array.from({ length: 10 }, (_, i) => `w${i} `) } }, { STALL_TIMEOUT_MS: '2000' });
    const leaving = new AbortController();
    const first = await g.request('/v1/chat/completions', { method: 'POST', json: chat({ stream: true }), signal: leaving.signal });
    const second = await g.request('/v1/chat/completions', { method: 'POST', json: chat({ stream: true }) });
    const r = first.body!.getReader();
    await r.read();
    leaving.abort();
    await r.cancel().catch(() => {});
    const events = await sseEvents(second);
    expect(events.at(-1)).toBe('[DONE]');
    expect(events.filter((e) => e !== '[DONE]').map((e) => JSON.parse(e).choices[0].delta.content ?? '').join('')).toBe(Array.from({ length: 10 }, (_, i) => `w${i} `).join(''));
    expect(g.backends.generations()).toHaveLength(1);
    expect(g.backends.generations()[0].cancelled).toBe(false);
  });

  it('replays a cached stream at the recorded pace when asked', async () => {
    const g = await harness({ 'a.test': { chunkDelayMs: 40 } }, { STALL_TIMEOUT_MS: '2000' });
    const first = await g.request('/v1/chat/completions', { method: 'POST', json: chat({ stream: true }) });
    await first.text();
    await first.settled();
    let t = performance.now();
    const fast = await g.request('/v1/chat/completions', { method: 'POST', json: chat({ stream: true }) });
    await fast.text();
    const fastMs = performance.now() - t;
    t = performance.now();
    const paced = await g.request('/v1/chat/completions', { method: 'POST', json: chat({ stream: true }), headers: { 'x-verdict-replay': 'recorded' } });
    expect(paced.headers.get('x-cache')).toBe('HIT');
    await paced.text();
    const pacedMs = performance.now() - t;
    expect(pacedMs).toBeGreaterThanOrEqual(100);
    expect(fastMs).toBeLessThan(pacedMs);
  });
});
