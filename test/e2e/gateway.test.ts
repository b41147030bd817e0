import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contentOf, scrape, sseEvents, startBackend, startGatewayFor, synthSlowBundle, synthTinyBundle, total, waitFor, withoutTimings, type Backend, type Gateway } from './gateway-stack.ts';

// The real stack: two `verdict serve` processes on the tiny synthetic bundle (CPU) and the worker in
// Miniflare (scripts/gateway.mjs: wrangler.toml's settings, the launcher npm start and the bench use too) in front of them.
const KEY_A = 'sk-e2e-alice';
const KEY_B = 'sk-e2e-bob';
const MODEL = 'synth-tiny';

let bundle: { dir: string; cleanup: () => Promise<void> };
let a: Backend;
let b: Backend;
let gw: Gateway;

const chat = (content: string, extra: Record<string, unknown> = {}) => ({ model: MODEL, messages: [{ role: 'user', content }], temperature: 0, max_tokens: 24, ...extra });

function post(base: string, path: string, body: unknown, init: { key?: string | null; headers?: Record<string, string>; signal?: AbortSignal } = {}) {
  const headers: Record<string, string> = { 'content-type': 'application/json', ...init.headers };
  const key = init.key === undefined ? KEY_A : init.key;
  if (key) headers.authorization = `Bearer ${key}`;
  return fetch(`${base}${path}`, { method: 'POST', headers, body: typeof body === 'string' ? body : JSON.stringify(body), signal: init.signal });
}

const generations = async (be: Backend) => total(await scrape(be.url), 'verdict_requests_total{route="/v1/chat/completions"');

beforeAll(async () => {
  bundle = await synthTinyBundle();
  [a, b] = await Promise.all([startBackend(bundle.dir), startBackend(bundle.dir)]);
  gw = await startGatewayFor([a, b], [KEY_A, KEY_B], { STALL_TIMEOUT_MS: '10000' });
}, 180_000);

afterAll(async () => {
  await gw?.stop();
  await Promise.all([a?.kill(), b?.kill()]);
  await bundle?.cleanup();
});

describe('gateway in Miniflare in front of real verdict serve backends', () => {
  it('streams the same content as the backend answering directly, with SSE headers and gateway timings', async () => {
    const body = chat('same content please', { stream: true });
    const direct = await sseEvents(await post(a.url, '/v1/chat/completions', body, { key: null }));
    const res = await post(gw.url, '/v1/chat/completions', body);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    expect(res.headers.get('x-cache')).toBe('MISS');
    const serverTiming = res.headers.get('server-timing') ?? '';
    expect(serverTiming).toMatch(/prefill;dur=/); // the backend's entries are kept
    expect(serverTiming).toMatch(/edge;dur=.*upstream;dur=.*cache;desc=miss/);
    const viaGateway = await sseEvents(res);
    expect(contentOf(viaGateway).length).toBeGreaterThan(0);
    expect(contentOf(viaGateway)).toBe(contentOf(direct));
    expect(viaGateway.at(-1)).toBe('[DONE]');
    const timings = JSON.parse(viaGateway.at(-2)!).timings;
    expect(timings).toMatchObject({ cache: 'miss' });
    expect(typeof timings.edge_ms).toBe('number');
    expect(typeof timings.upstream_ms).toBe('number');
    expect(typeof timings.verify_ms).toBe('number');
  });

  it('answers a second identical temperature-0 request from the edge cache with identical chunks', async () => {
    const body = chat('cache me', { stream: true });
    const first = await post(gw.url, '/v1/chat/completions', body);
    const firstEvents = await sseEvents(first);
    const before = (await generations(a)) + (await generations(b));
    // the cache write happens after the last chunk (waitUntil); give it a moment
    let second!: Response;
    const hit = await waitFor(async () => {
      second = await post(gw.url, '/v1/chat/completions', body);
      if (second.headers.get('x-cache') === 'HIT') return true;
      await second.text();
      return false;
    }, 5000);
    expect(hit).toBe(true);
    expect(second.headers.get('x-cache')).toBe('HIT');
    const secondEvents = await sseEvents(second);
    expect(withoutTimings(secondEvents)).toEqual(withoutTimings(firstEvents));
    expect(JSON.parse(secondEvents.at(-2)!).timings.cache).toBe('hit');
    // a non-streamed request is a different entry: answered as JSON
    const json = await post(gw.url, '/v1/chat/completions', chat('cache me'));
    expect(json.headers.get('content-type')).toContain('application/json');
    expect(((await json.json()) as { choices: { message: { content: string } }[] }).choices[0].message.content).toBe(contentOf(firstEvents));
    // the backend counts a request when it has finished it, which can be just after the client read the end
    expect(await waitFor(async () => (await generations(a)) + (await generations(b)) === before + 1, 5000)).toBe(true);
  });

  it("does not let one API key read another key's cached answer", async () => {
    const body = chat('private to alice', { stream: true });
    const alice = await post(gw.url, '/v1/chat/completions', body, { key: KEY_A });
    await alice.text();
    const aliceHit = await waitFor(async () => {
      const again = await post(gw.url, '/v1/chat/completions', body, { key: KEY_A });
      await again.text();
      return again.headers.get('x-cache') === 'HIT';
    }, 5000);
    expect(aliceHit).toBe(true); // the entry exists: bob's MISS below is the scoping, not a missing entry
    const bob = await post(gw.url, '/v1/chat/completions', body, { key: KEY_B });
    expect(bob.headers.get('x-cache')).toBe('MISS');
    await bob.text();
  });

  it('when the first of two coalesced clients leaves, the other still gets the whole answer', async () => {
    const body = chat('leader leaves', { stream: true, max_tokens: 120 });
    const direct = contentOf(await sseEvents(await post(a.url, '/v1/chat/completions', body, { key: null })));
    const leaving = new AbortController();
    const leader = await post(gw.url, '/v1/chat/completions', body, { signal: leaving.signal });
    const follower = await post(gw.url, '/v1/chat/completions', body);
    expect(follower.headers.get('x-verdict-coalesced')).toBe('true');
    const reader = leader.body!.getReader();
    await reader.read();
    leaving.abort();
    const events = await sseEvents(follower);
    expect(events.at(-1)).toBe('[DONE]');
    expect(contentOf(events)).toBe(direct);
  });

  it('refuses a malformed body at the edge: it never reaches a backend', async () => {
    const before = [await scrape(a.url), await scrape(b.url)].map((m) => total(m, 'verdict_requests_total{route="/v1/'));
    const res = await post(gw.url, '/v1/chat/completions', { model: MODEL, messages: 'not a list' });
    expect(res.status).toBe(400);
    const err = (await res.json()) as { error: { type: string; param: string } };
    expect(err.error).toMatchObject({ type: 'invalid_request_error', param: 'messages' });
    const broken = await post(gw.url, '/v1/completions', '{"model": "synth-tiny", "prompt": ');
    expect(broken.status).toBe(400);
    const after = [await scrape(a.url), await scrape(b.url)].map((m) => total(m, 'verdict_requests_total{route="/v1/'));
    expect(after).toEqual(before);
  });

  it('with two backends, killing one mid-test sends the next requests to the other', async () => {
    const send = async (i: number) => {
      const res = await post(gw.url, '/v1/chat/completions', chat(`failover ${i}`, { temperature: 1, max_tokens: 4 }));
      await res.text();
      return res.status;
    };
    for (let i = 0; i < 4; i++) expect(await send(i)).toBe(200);
    await a.kill();
    const servedByB = await generations(b);
    const statuses: number[] = [];
    for (let i = 4; i < 10; i++) statuses.push(await send(i));
    expect(statuses).toEqual([200, 200, 200, 200, 200, 200]);
    // b counts each request once it has finished it (just after the client read the end): wait for the sixth
    expect(await waitFor(async () => (await generations(b)) - servedByB >= 6, 5000)).toBe(true);
    expect((await generations(b)) - servedByB).toBe(6);
  });
});

// A disconnect can only be seen to stop a generation that outlasts the abort's trip through Miniflare, so this
// test runs its own backend on a slower synthetic target (12 layers at d=512: a few ms per token on this CPU,
// seconds for 450 tokens) instead of the tiny one, which can finish 450 tokens before the cancel lands. The
// streaming and single-flight tests use it for the same reason: what they check happens while a generation is
// still running, which on the slow target is seconds, not a race against the clock.
describe('client disconnect through the gateway', () => {
  let slowBundle: { dir: string; cleanup: () => Promise<void> };
  let slow: Backend;
  let slowGw: Gateway;

  beforeAll(async () => {
    slowBundle = await synthSlowBundle();
    slow = await startBackend(slowBundle.dir);
    slowGw = await startGatewayFor([slow], [KEY_A]);
  }, 180_000);

  afterAll(async () => {
    await slowGw?.stop();
    await slow?.kill();
    await slowBundle?.cleanup();
  });

  it('passes SSE through as it is generated, uncompressed: content arrives while the backend is still generating', async () => {
    const res = await post(slowGw.url, '/v1/chat/completions', chat('stream as you go', { stream: true, max_tokens: 80, speculative: { mode: 'target' } }), { headers: { 'cache-control': 'no-store', 'accept-encoding': 'gzip, br' } });
    expect(res.headers.get('content-encoding')).toBe('identity');
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = '';
    while (!/"content":"[^"]/.test(text)) {
      const { value, done } = await reader.read();
      expect(done).toBe(false);
      text += value;
    }
    // the event: first content is in our hands and the backend still reports the generation as running
    expect(total(await scrape(slow.url), 'verdict_requests_running')).toBe(1);
    expect(text).not.toContain('[DONE]');
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
    }
    expect(text.trimEnd().endsWith('data: [DONE]')).toBe(true);
  });

  it('coalesces an identical temperature-0 request into the generation in flight: one backend generation', async () => {
    const body = chat('coalesce these', { stream: true, max_tokens: 60, speculative: { mode: 'target' } });
    const count = async () => total(await scrape(slow.url), 'verdict_requests_total{route="/v1/chat/completions"');
    const before = await count();
    // the first request's flight is registered before its headers come back, and the slow target is still
    // generating when the second arrives, so the second can only join it
    const r1 = await post(slowGw.url, '/v1/chat/completions', body);
    const r2 = await post(slowGw.url, '/v1/chat/completions', body);
    expect(r1.headers.get('x-cache')).toBe('MISS');
    expect(r2.headers.get('x-verdict-coalesced')).toBe('true');
    const [e1, e2] = await Promise.all([sseEvents(r1), sseEvents(r2)]);
    expect(contentOf(e1).length).toBeGreaterThan(0);
    expect(contentOf(e2)).toBe(contentOf(e1));
    expect(e2.at(-1)).toBe('[DONE]');
    expect(await waitFor(async () => (await count()) >= before + 1, 5000)).toBe(true);
    expect(total(await scrape(slow.url), 'verdict_requests_running')).toBe(0);
    expect(await count()).toBe(before + 1);
  });

  it("a client disconnect cancels the backend's generation", async () => {
    const body = chat('please run long', { stream: true, max_tokens: 450, speculative: { mode: 'target' } });
    const tokens = async () => total(await scrape(slow.url), 'verdict_generation_tokens_total');
    const before = await tokens();
    const controller = new AbortController();
    const res = await post(slowGw.url, '/v1/chat/completions', body, { signal: controller.signal, headers: { 'cache-control': 'no-store' } });
    const reader = res.body!.getReader();
    await reader.read();
    await reader.read();
    controller.abort();
    const idle = await waitFor(async () => total(await scrape(slow.url), 'verdict_requests_running') === 0, 10_000);
    expect(idle).toBe(true);
    // The real check: an uncancelled generation would have produced all 450 tokens.
    expect((await tokens()) - before).toBeLessThan(450);
  });
});
