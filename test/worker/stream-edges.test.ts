import { describe, expect, it } from 'vitest';
import { chat, harness } from './harness.ts';
import { gate, sseEvents } from './fake-backend.ts';

const content = (events: string[]) =>
  events
    .filter((e) => e !== '[DONE]')
    .map((e) => (JSON.parse(e) as { choices: { delta?: { content?: string } }[] }).choices[0]?.delta?.content ?? '')
    .join('');

describe('the gateway over awkward backend streams', () => {
  it('UTF-8 characters and events split across network reads (one byte per read) arrive whole, and are cached whole', async () => {
    const words = ['héllo', ' wörld ', '😀', ' 日本語'];
    const g = await harness({ 'a.test': { words, byteSplit: 1 } });
    const res = await g.request('/v1/chat/completions', { method: 'POST', json: chat({ stream: true }) });
    const events = await sseEvents(res);
    expect(events.at(-1)).toBe('[DONE]');
    expect(content(events)).toBe(words.join(''));
    expect(events.join('')).not.toContain('\uFFFD');
    await res.settled();
    const hit = await g.request('/v1/chat/completions', { method: 'POST', json: chat({ stream: true }) });
    expect(hit.headers.get('x-cache')).toBe('HIT');
    expect(content(await sseEvents(hit))).toBe(words.join(''));
    expect(g.backends.generations()).toHaveLength(1);
  });

  it('a backend closing mid-event: the half event is dropped, the stream ends with an error event (no [DONE]), nothing is cached', async () => {
    const g = await harness({ 'a.test': { words: ['Hello', ' world'], closeWith: 'data: {"id":"x","object":"chat.completion.chunk","choi' } });
    const res = await g.request('/v1/chat/completions', { method: 'POST', json: chat({ stream: true }) });
    expect(res.status).toBe(200);
    const events = await sseEvents(res);
    expect(events).not.toContain('[DONE]');
    const last = JSON.parse(events.at(-1)!) as { error: { code: string; type: string } };
    expect(last.error).toMatchObject({ code: 'stream_truncated', type: 'server_error' });
    // every event the client got is whole JSON; the half event never reached it
    for (const e of events) expect(() => JSON.parse(e)).not.toThrow();
    expect(content(events.slice(0, -1))).toBe('Hello world');
    await res.settled();
    const again = await g.request('/v1/chat/completions', { method: 'POST', json: chat({ stream: true }) });
    expect(again.headers.get('x-cache')).toBe('MISS');
    await again.text();
    expect(g.backends.generations()).toHaveLength(2);
  });

  it('single flight: the leader leaves first, then the follower; the upstream is cancelled only when the last one leaves', async () => {
    // The backend sends one chunk, waits until the leader has gone, then streams slowly: 40 words, 50 ms apart.
    const leaderGone = gate();
    const words = Array.from({ length: 40 }, (_, i) => `w${i} `);
    const g = await harness({ 'a.test': { pause: { afterChunks: 1, until: leaderGone.promise }, chunkDelayMs: 50, words } }, { STALL_TIMEOUT_MS: '5000' });
    const leaderCtl = new AbortController();
    const followerCtl = new AbortController();
    const leader = await g.request('/v1/chat/completions', { method: 'POST', json: chat({ stream: true }), signal: leaderCtl.signal });
    const follower = await g.request('/v1/chat/completions', { method: 'POST', json: chat({ stream: true }), signal: followerCtl.signal });
    expect(follower.headers.get('x-verdict-coalesced')).toBe('true');
    const gen = g.backends.generations()[0];
    expect(g.backends.generations()).toHaveLength(1);

    const lr = leader.body!.getReader();
    await lr.read();
    leaderCtl.abort();
    await lr.cancel().catch(() => {});
    leaderGone.open();

    // The follower keeps receiving the generation after the leader left: it was not cancelled.
    const fr = follower.body!.getReader();
    const dec = new TextDecoder();
    let seen = '';
    while (!seen.includes('w2 ')) {
      const r = await fr.read();
      expect(r.done).toBe(false);
      seen += dec.decode(r.value, { stream: true });
    }
    expect(seen).not.toContain('"error"');
    expect(gen.cancelled).toBe(false);
    expect(gen.signal?.aborted).toBe(false);

    // The last one (the follower) leaving cancels the upstream; the test times out if it never does.
    followerCtl.abort();
    await fr.cancel().catch(() => {});
    await gen.whenCancelled;
    expect(gen.signal?.aborted).toBe(true);
    expect(g.backends.generations()).toHaveLength(1);
  });
});
