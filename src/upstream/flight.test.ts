import { describe, expect, it } from 'vitest';
import { chat, harness } from '../../test/worker/harness.ts';
import { gate, sseEvents } from '../../test/worker/fake-backend.ts';

/** Reads a body to its end, counting the chunks it arrived in. */
async function reads(res: Response): Promise<number> {
  const reader = res.body!.getReader();
  let n = 0;
  while (!(await reader.read()).done) n++;
  return n;
}

describe('single flight and cancellation', () => {
  it('coalesces identical concurrent deterministic requests into one generation', async () => {
    // The backend holds its first chunk until all three requests are in, so the later two can only join the flight.
    const held = gate();
    const g = await harness({ 'a.test': { pause: { afterChunks: 0, until: held.promise } } }, { STALL_TIMEOUT_MS: '2000' });
    const a = await g.request('/v1/chat/completions', { method: 'POST', json: chat({ stream: true }) });
    const [b, c] = await Promise.all([0, 1].map(() => g.request('/v1/chat/completions', { method: 'POST', json: chat({ stream: true }) })));
    held.open();
    const [ea, eb, ec] = await Promise.all([a, b, c].map((r) => sseEvents(r)));
    expect(g.backends.generations()).toHaveLength(1);
    expect([a, b, c].map((r) => r.headers.get('x-cache'))).toEqual(['MISS', 'HIT', 'HIT']);
    expect([a, b, c].filter((r) => r.headers.get('x-verdict-coalesced') === 'true')).toHaveLength(2);
    const content = (events: string[]) => events.filter((e) => e !== '[DONE]').map((e) => JSON.parse(e).choices[0].delta.content ?? '').join('');
    expect(content(ea)).toBe('Hello world!');
    expect(content(eb)).toBe(content(ea));
    expect(content(ec)).toBe(content(ea));
  });

  it('a client disconnect cancels the upstream generation', async () => {
    // After one chunk the backend waits for a gate that is never opened: only a cancellation can end it.
    const never = gate();
    const g = await harness({ 'a.test': { pause: { afterChunks: 1, until: never.promise }, words: Array.from({ length: 50 }, (_, i) => `w${i} `) } }, { STALL_TIMEOUT_MS: '60000' });
    const controller = new AbortController();
    const res = await g.request('/v1/chat/completions', { method: 'POST', json: chat({ stream: true, temperature: 1 }), signal: controller.signal });
    const reader = res.body!.getReader();
    await reader.read();
    const gen = g.backends.generations()[0];
    expect(gen.cancelled).toBe(false);
    controller.abort();
    await reader.cancel().catch(() => {});
    await gen.whenCancelled; // the test times out if the disconnect never reaches the backend
    expect(gen.cancelled).toBe(true);
    expect(gen.signal?.aborted).toBe(true);
  });

  it('one of two coalesced clients leaving does not cancel the generation for the other', async () => {
    // The backend sends one chunk, then waits until the leader has gone, so the leader leaves mid-stream.
    const leaderGone = gate();
    const g = await harness({ 'a.test': { pause: { afterChunks: 1, until: leaderGone.promise }, words: Array.from({ length: 10 }, (_, i) => `w${i} `) } }, { STALL_TIMEOUT_MS: '2000' });
    const leaving = new AbortController();
    const first = await g.request('/v1/chat/completions', { method: 'POST', json: chat({ stream: true }), signal: leaving.signal });
    const second = await g.request('/v1/chat/completions', { method: 'POST', json: chat({ stream: true }) });
    expect(second.headers.get('x-verdict-coalesced')).toBe('true');
    const r = first.body!.getReader();
    await r.read();
    leaving.abort();
    await r.cancel().catch(() => {});
    leaderGone.open();
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
    // A plain hit sends every chunk at once; a paced one sends them one at a time, each after its recorded
    // offset (the backend waited 40 ms before each of its 3 words, so the last offset is at least 120 ms).
    const fast = await g.request('/v1/chat/completions', { method: 'POST', json: chat({ stream: true }) });
    expect(fast.headers.get('x-cache')).toBe('HIT');
    expect(await reads(fast)).toBeLessThanOrEqual(2); // all events, then [DONE]
    const t = performance.now();
    const paced = await g.request('/v1/chat/completions', { method: 'POST', json: chat({ stream: true }), headers: { 'x-verdict-replay': 'recorded' } });
    expect(paced.headers.get('x-cache')).toBe('HIT');
    expect(await reads(paced)).toBe(4 + 1); // 3 words and the final chunk, one read each, then [DONE]
    expect(performance.now() - t).toBeGreaterThanOrEqual(100); // a lower bound only: timers never fire early
  });
});
