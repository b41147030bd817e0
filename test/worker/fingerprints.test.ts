import { afterEach, describe, expect, it, vi } from 'vitest';
import { chat, harness } from './harness.ts';
import { sseEvents } from './fake-backend.ts';

/** The streamed text of an SSE answer. */
const content = (events: string[]) =>
  events
    .filter((e) => e !== '[DONE]')
    .map((e) => (JSON.parse(e) as { choices?: { delta: { content?: string } }[] }).choices?.[0].delta.content ?? '')
    .join('');

async function ask(g: Awaited<ReturnType<typeof harness>>) {
  const res = await g.request('/v1/chat/completions', { method: 'POST', json: chat({ stream: true }) });
  const text = content(await sseEvents(res));
  await res.settled();
  return { cache: res.headers.get('x-cache'), coalesced: res.headers.get('x-verdict-coalesced') === 'true', text };
}

describe('cache keys per backend fingerprint (two builds of one model id, as in a rolling deploy)', () => {
  afterEach(() => vi.restoreAllMocks());

  it("stores an answer under the fingerprint of the backend that produced it, and never replays it where only the other build is healthy", async () => {
    const fpA = `fp-a-${crypto.randomUUID()}`;
    const fpB = `fp-b-${crypto.randomUUID()}`;
    // One failure puts a backend in a long cool-down, so "healthy" is exactly what each phase sets up.
    const vars = { HEALTH_FAILURES: '1', HEALTH_COOLDOWN_MS: '600000' };

    // Gateway 1: b is down. Whichever backend is drawn first, the answer comes from a (build A).
    const g1 = await harness({ 'a.test': { fingerprint: fpA, words: ['from', ' A'] }, 'b.test': { fingerprint: fpB, words: ['from', ' B'], failure: 'down' } }, vars);
    expect(await ask(g1)).toMatchObject({ cache: 'MISS', text: 'from A' });
    expect(await ask(g1)).toMatchObject({ cache: 'HIT', text: 'from A' });
    expect(g1.backends.generations('a.test')).toHaveLength(1);

    // Gateway 2 (another isolate, same Cache API): a is down, only build B serves. A's answer is not B's.
    const g2 = await harness({ 'a.test': { fingerprint: fpA, words: ['from', ' A'], failure: 'down' }, 'b.test': { fingerprint: fpB, words: ['from', ' B'] } }, vars);
    expect(await ask(g2)).toMatchObject({ cache: 'MISS', text: 'from B' });
    expect(await ask(g2)).toMatchObject({ cache: 'HIT', text: 'from B' });
    expect(g2.backends.generations('b.test')).toHaveLength(1);

    // And B's answer never reaches gateway 1, whose only healthy backend is still build A.
    expect(await ask(g1)).toMatchObject({ cache: 'HIT', text: 'from A' });
    expect(g1.backends.generations('a.test')).toHaveLength(1);
  });

  it('after a retry onto the other build, stores under the build that answered, not the one drawn first', async () => {
    const fpA = `fp-a-${crypto.randomUUID()}`;
    const fpB = `fp-b-${crypto.randomUUID()}`;
    vi.spyOn(Math, 'random').mockReturnValue(0); // draw order: a, then b
    // a lists its models (so it has a fingerprint) but its generations fail with a 500: the retry goes to b.
    const g = await harness({ 'a.test': { fingerprint: fpA, words: ['from', ' A'] }, 'b.test': { fingerprint: fpB, words: ['from', ' B'] } }, { HEALTH_FAILURES: '100' });
    await ask(g); // the answer from a, stored under A; both backends' fingerprints are now known
    g.backends.hosts['a.test'].failure = '500';
    const first = await g.request('/v1/chat/completions', { method: 'POST', json: chat({ stream: true, max_tokens: 7 }) });
    expect(content(await sseEvents(first))).toBe('from B');
    await first.settled();
    expect(g.backends.generations('b.test')).toHaveLength(1);
    // A gateway whose only backend is build A must not get B's answer...
    const g1 = await harness({ 'a.test': { fingerprint: fpA, words: ['from', ' A'] } });
    const onlyA = await g1.request('/v1/chat/completions', { method: 'POST', json: chat({ stream: true, max_tokens: 7 }) });
    expect(onlyA.headers.get('x-cache')).toBe('MISS');
    expect(content(await sseEvents(onlyA))).toBe('from A');
    await onlyA.settled();
    // ...while a gateway whose only backend is build B does.
    const g2 = await harness({ 'b.test': { fingerprint: fpB, words: ['from', ' B'] } });
    const onlyB = await g2.request('/v1/chat/completions', { method: 'POST', json: chat({ stream: true, max_tokens: 7 }) });
    expect(onlyB.headers.get('x-cache')).toBe('HIT');
    expect(content(await sseEvents(onlyB))).toBe('from B');
  });

  it('joins a generation in flight only when the backend drawn serves the same build', async () => {
    const fpA = `fp-a-${crypto.randomUUID()}`;
    const fpB = `fp-b-${crypto.randomUUID()}`;
    const random = vi.spyOn(Math, 'random');
    const g = await harness({ 'a.test': { fingerprint: fpA, chunkDelayMs: 40, words: ['from', ' A'] }, 'b.test': { fingerprint: fpB, chunkDelayMs: 40, words: ['from', ' B'] } }, { STALL_TIMEOUT_MS: '2000' });
    const send = () => g.request('/v1/chat/completions', { method: 'POST', json: chat({ stream: true }) });
    random.mockReturnValue(0); // a first
    const leader = await send();
    const sameBuild = await send();
    random.mockReturnValue(0.99); // b first
    const otherBuild = await send();
    const [el, es, eo] = await Promise.all([leader, sameBuild, otherBuild].map((r) => sseEvents(r)));
    expect(sameBuild.headers.get('x-verdict-coalesced')).toBe('true');
    expect(otherBuild.headers.get('x-verdict-coalesced')).toBeNull();
    expect(otherBuild.headers.get('x-cache')).toBe('MISS');
    expect([content(el), content(es), content(eo)]).toEqual(['from A', 'from A', 'from B']);
    expect(g.backends.generations('a.test')).toHaveLength(1);
    expect(g.backends.generations('b.test')).toHaveLength(1);
  });

  it('with both backends on the same build, behaves as one: either answers, every repeat is a hit, flights are shared', async () => {
    const fingerprint = `fp-${crypto.randomUUID()}`;
    const random = vi.spyOn(Math, 'random');
    const g = await harness({ 'a.test': { fingerprint, chunkDelayMs: 40 }, 'b.test': { fingerprint, chunkDelayMs: 40 } }, { STALL_TIMEOUT_MS: '2000' });
    const send = () => g.request('/v1/chat/completions', { method: 'POST', json: chat({ stream: true }) });
    random.mockReturnValue(0); // a first
    const leader = await send();
    random.mockReturnValue(0.99); // b first: the same fingerprint, so it joins
    const follower = await send();
    await Promise.all([leader, follower].map((r) => sseEvents(r)));
    await leader.settled();
    expect(follower.headers.get('x-verdict-coalesced')).toBe('true');
    expect(g.backends.generations()).toHaveLength(1);
    for (const r of [0, 0.99]) {
      random.mockReturnValue(r);
      expect(await ask(g)).toMatchObject({ cache: 'HIT', text: 'Hello world!' });
    }
    expect(g.backends.generations()).toHaveLength(1);
  });
});
