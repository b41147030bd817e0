import { SELF } from 'cloudflare:test';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { FakeBackends, sseEvents } from './fake-backend.ts';

// Coalescing across two real requests (two request contexts in one isolate): workerd forbids sharing I/O
// objects between requests, so the follower must only ever see plain data from the leader's generation.
describe('single flight across real requests', () => {
  afterEach(() => vi.restoreAllMocks());

  it('two concurrent identical temperature-0 streams cost one generation and get the same chunks', async () => {
    const fake = new FakeBackends({ '127.0.0.1:8080': { chunkDelayMs: 25, fingerprint: `fp-${crypto.randomUUID()}` } });
    vi.spyOn(globalThis, 'fetch').mockImplementation(fake.fetch);
    const body = JSON.stringify({ model: 'tiny', messages: [{ role: 'user', content: `sf ${crypto.randomUUID()}` }], temperature: 0, stream: true });
    const send = () => SELF.fetch('http://gateway/demo/v1/chat/completions', { method: 'POST', headers: { 'content-type': 'application/json', 'cf-connecting-ip': '10.2.2.2' }, body });
    const [a, b] = await Promise.all([send(), send()]);
    const [ea, eb] = await Promise.all([sseEvents(a), sseEvents(b)]);
    expect(fake.generations()).toHaveLength(1);
    const content = (events: string[]) => events.filter((e) => e !== '[DONE]').map((e) => JSON.parse(e).choices[0].delta.content ?? '').join('');
    expect(content(ea)).toBe('Hello world!');
    expect(content(eb)).toBe('Hello world!');
    expect([a.headers.get('x-cache'), b.headers.get('x-cache')].sort()).toEqual(['HIT', 'MISS']);
  });
});
