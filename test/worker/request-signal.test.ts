import { SELF } from 'cloudflare:test';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { FakeBackends, gate } from './fake-backend.ts';

// Through SELF the request enters the worker as a real request, so its `request.signal` is workerd's: it only
// fires on client disconnect with the `enable_request_signal` compatibility flag from wrangler.toml.
// The default export uses the global fetch for backends, so the fake backend is installed there.
describe('client disconnect through the real worker entry point (enable_request_signal)', () => {
  afterEach(() => vi.restoreAllMocks());

  it('aborting a streamed request cancels the upstream generation', async () => {
    // After one chunk the backend waits on a gate nobody opens: only the disconnect can end its generation.
    const never = gate();
    const fake = new FakeBackends({ '127.0.0.1:8080': { pause: { afterChunks: 1, until: never.promise }, words: Array.from({ length: 100 }, (_, i) => `w${i} `) } });
    vi.spyOn(globalThis, 'fetch').mockImplementation(fake.fetch);
    const controller = new AbortController();
    const res = await SELF.fetch('http://gateway/demo/v1/chat/completions', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'cf-connecting-ip': '10.1.1.1' },
      body: JSON.stringify({ model: 'tiny', messages: [{ role: 'user', content: 'hi' }], temperature: 1, stream: true }),
      signal: controller.signal,
    });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    await reader.read();
    const gen = fake.generations()[0];
    expect(gen.cancelled).toBe(false);
    controller.abort();
    await gen.whenCancelled; // times out (fails) if the disconnect never reaches the backend
    expect(gen.cancelled).toBe(true);
  });

  it('aborting before the backend has answered at all (no body yet) aborts the upstream fetch', async () => {
    const fake = new FakeBackends({ '127.0.0.1:8080': { failure: 'hang' } });
    vi.spyOn(globalThis, 'fetch').mockImplementation(fake.fetch);
    const controller = new AbortController();
    const pending = SELF.fetch('http://gateway/demo/v1/completions', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'cf-connecting-ip': '10.1.1.2' },
      body: JSON.stringify({ model: 'tiny', prompt: 'hi', temperature: 1 }),
      signal: controller.signal,
    });
    // abort only once the gateway's upstream fetch is out (the fake records the call as it arrives)
    // (a condition checked every 5 ms: awaiting a promise resolved when the call arrived timed out under SELF)
    await vi.waitFor(() => expect(fake.generations()).toHaveLength(1), { timeout: 10_000, interval: 5 });
    const gen = fake.generations()[0];
    expect(gen.signal?.aborted).toBe(false);
    controller.abort();
    await pending.catch(() => {});
    await gen.whenCancelled; // resolves when the upstream fetch's signal aborts
    expect(gen.signal?.aborted).toBe(true);
  });
});
