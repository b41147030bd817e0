import { describe, expect, it } from 'vitest';
import { LIMITS, parseServerTiming } from '@verdict/protocol';
import { chat, harness, KEY_B } from '../../test/worker/harness.ts';
import { sseEvents } from '../../test/worker/fake-backend.ts';

describe('generation: validation and passthrough', () => {
  it('refuses a malformed body at the edge with the protocol error, never calling a backend', async () => {
    const g = await harness({ 'a.test': {} });
    const res = await g.request('/v1/chat/completions', { method: 'POST', json: { model: 'tiny', messages: [] } });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { param: string; type: string } };
    expect(body.error).toMatchObject({ param: 'messages', type: 'invalid_request_error' });
    const notJson = await g.request('/v1/chat/completions', { method: 'POST', body: '{nope', headers: { 'content-type': 'application/json' } });
    expect(notJson.status).toBe(400);
    expect(((await notJson.json()) as { error: { code: string } }).error.code).toBe('invalid_json');
    expect(g.backends.calls).toHaveLength(0);
  });

  it('streams SSE unbuffered-safe headers, keeps backend Server-Timing and adds the gateway figures to the final chunk', async () => {
    const g = await harness({ 'a.test': {} });
    const res = await g.request('/v1/chat/completions', { method: 'POST', json: chat({ stream: true, temperature: 0.7 }) });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    expect(res.headers.get('cache-control')).toBe('no-cache');
    expect(res.headers.get('content-encoding')).toBe('identity');
    expect(res.headers.get('x-cache')).toBe('BYPASS');
    expect(res.headers.get('timing-allow-origin')).toBe('*');
    expect(res.headers.get('x-request-id')).toMatch(/^req-a\.test-/);
    const names = parseServerTiming(res.headers.get('server-timing')).map((e) => e.name);
    expect(names).toEqual(['queue', 'prefill', 'decode', 'edge', 'upstream', 'cache']);
    const events = await sseEvents(res);
    expect(events.at(-1)).toBe('[DONE]');
    const final = JSON.parse(events.at(-2)!) as { timings: Record<string, unknown> };
    expect(final.timings).toMatchObject({ total_ms: 10, cache: 'bypass' });
    expect(typeof final.timings.edge_ms).toBe('number');
    expect(typeof final.timings.upstream_ms).toBe('number');
    const text = events.slice(0, -1).map((e) => (JSON.parse(e) as { choices: { delta: { content?: string } }[] }).choices[0].delta.content ?? '').join('');
    expect(text).toBe('Hello world!');
    // the forwarded body is the validated request, not the raw one
    expect(g.backends.generations()[0].body).toMatchObject({ model: 'tiny', stream: true });
  });

  it('refuses a body over MAX_BODY_BYTES with a 413 in OpenAI shape, before parsing it, never calling a backend', async () => {
    const g = await harness({ 'a.test': {} }, { MAX_BODY_BYTES: '2048' });
    const big = JSON.stringify(chat({ messages: [{ role: 'user', content: 'x'.repeat(4096) }] }));
    const res = await g.request('/v1/chat/completions', { method: 'POST', body: big, headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(413);
    expect(await res.json()).toEqual({ error: { message: 'The request body exceeds 2048 bytes', type: 'invalid_request_error', param: null, code: 'body_too_large' } });
    // before parsing: a body that is not even JSON gets the 413, not the 400
    const junk = await g.request('/v1/completions', { method: 'POST', body: '{'.repeat(4096), headers: { 'content-type': 'application/json' } });
    expect(junk.status).toBe(413);
    // a streamed body without Content-Length is counted as it is read
    const chunked = new ReadableStream<Uint8Array>({
      start(ctrl) {
        ctrl.enqueue(new TextEncoder().encode(big));
        ctrl.close();
      },
    });
    const streamed = await g.request('/v1/chat/completions', { method: 'POST', body: chunked, headers: { 'content-type': 'application/json' }, duplex: 'half' } as RequestInit);
    expect(streamed.status).toBe(413);
    // under the limit the same route works
    const small = await g.request('/v1/chat/completions', { method: 'POST', json: chat() });
    expect(small.status).toBe(200);
    expect(g.backends.generations()).toHaveLength(1);
  });

  it('refuses a prompt over the protocol\'s maxPromptChars at the edge, naming the field and the limit', async () => {
    const g = await harness({ 'a.test': {} }, { MAX_BODY_BYTES: String(4 * LIMITS.maxPromptChars) });
    const res = await g.request('/v1/completions', { method: 'POST', json: { model: 'tiny', prompt: 'x'.repeat(LIMITS.maxPromptChars + 1) } });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { param: string; message: string } };
    expect(body.error.param).toBe('prompt');
    expect(body.error.message).toContain(`at most ${LIMITS.maxPromptChars} characters`);
    expect(g.backends.generations()).toHaveLength(0);
  });

  it('refuses a model no configured backend serves at the edge, with a 404 in OpenAI shape', async () => {
    const g = await harness({ 'a.test': {} });
    const res = await g.request('/v1/chat/completions', { method: 'POST', json: chat({ model: 'other' }) });
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('model_not_found');
    expect(g.backends.generations()).toHaveLength(0);
  });

  for (const stream of [false, true]) {
    it(`passes a backend 429 queue_full through with its Retry-After, in OpenAI shape, never cached (stream: ${stream})`, async () => {
      const g = await harness({ 'a.test': { reject: { status: 429, type: 'rate_limit_error', code: 'queue_full', headers: { 'retry-after': '7' } } } });
      for (let i = 1; i <= 2; i++) {
        const res = await g.request('/v1/chat/completions', { method: 'POST', json: chat({ stream }) });
        expect(res.status).toBe(429);
        expect(res.headers.get('retry-after')).toBe('7');
        expect(res.headers.get('content-type')).toContain('application/json');
        expect(await res.json()).toEqual({ error: { message: 'backend says queue_full', type: 'rate_limit_error', param: null, code: 'queue_full' } });
        await res.settled();
        expect(g.backends.generations()).toHaveLength(i); // not cached: the repeat reaches the backend
      }
    });
  }

  it('passes a backend 503 not_ready through with its Retry-After (after the retry, from the last backend tried)', async () => {
    const reject = { status: 503, type: 'service_unavailable', code: 'not_ready', headers: { 'retry-after': '5' } };
    const g = await harness({ 'a.test': { reject }, 'b.test': { reject } });
    const res = await g.request('/v1/chat/completions', { method: 'POST', json: chat() });
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('5');
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('not_ready');
    expect(g.backends.generations()).toHaveLength(2);
  });

  it('answers /v1/models with a 503 and Retry-After when no backend answers the list', async () => {
    const g = await harness({ 'a.test': { failure: 'down' } }, { HEALTH_COOLDOWN_MS: '4000' });
    const res = await g.request('/v1/models');
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('4');
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('no_healthy_backend');
  });

  it('answers unknown routes with a 404 in OpenAI shape', async () => {
    const g = await harness({ 'a.test': {} });
    const res = await g.request('/v1/embeddings', { method: 'POST', json: {} });
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { type: string } }).error.type).toBe('not_found_error');
  });
});

describe('generation: edge cache', () => {
  it('caches a complete streamed temperature-0 answer and replays the same chunks as SSE on a hit', async () => {
    const g = await harness({ 'a.test': {} });
    const first = await g.request('/v1/chat/completions', { method: 'POST', json: chat({ stream: true }) });
    expect(first.headers.get('x-cache')).toBe('MISS');
    const firstEvents = await sseEvents(first);
    await first.settled();
    const second = await g.request('/v1/chat/completions', { method: 'POST', json: chat({ stream: true }) });
    expect(second.headers.get('x-cache')).toBe('HIT');
    expect(second.headers.get('content-type')).toContain('text/event-stream');
    expect(parseServerTiming(second.headers.get('server-timing')).find((e) => e.name === 'cache')?.desc).toBe('hit');
    const secondEvents = await sseEvents(second);
    expect(g.backends.generations()).toHaveLength(1);
    const strip = (events: string[]) => events.map((e) => (e.includes('"timings"') ? JSON.parse(e).choices : e));
    expect(strip(secondEvents)).toEqual(strip(firstEvents));
    expect(JSON.parse(secondEvents.at(-2)!).timings.cache).toBe('hit');
  });

  it('caches a non-streamed answer and returns JSON on a hit; seed makes sampling cacheable', async () => {
    const g = await harness({ 'a.test': {} });
    const req = chat({ temperature: 0.8, seed: 7 });
    const first = await g.request('/v1/chat/completions', { method: 'POST', json: req });
    const a = (await first.json()) as { choices: unknown; timings: { cache: string } };
    expect(a.timings.cache).toBe('miss');
    await first.settled();
    const second = await g.request('/v1/chat/completions', { method: 'POST', json: req });
    expect(second.headers.get('x-cache')).toBe('HIT');
    const b = (await second.json()) as { choices: unknown; timings: { cache: string } };
    expect(b.choices).toEqual(a.choices);
    expect(b.timings.cache).toBe('hit');
    expect(g.backends.generations()).toHaveLength(1);
  });

  it('never caches sampling without a seed', async () => {
    const g = await harness({ 'a.test': {} });
    for (let i = 0; i < 2; i++) {
      const res = await g.request('/v1/chat/completions', { method: 'POST', json: chat({ temperature: 1 }) });
      // Generated both times; the second is sent with the first's text as its draft (cache-as-draft, wrangler.toml).
      expect(res.headers.get('x-cache')).toBe(i === 0 ? 'BYPASS' : 'DRAFT');
      await res.text();
      await res.settled();
    }
    expect(g.backends.generations()).toHaveLength(2);
  });

  it('scopes cached answers to the API key, but shares them on public demo routes', async () => {
    const g = await harness({ 'a.test': {} }, { PUBLIC_ROUTES: '/demo/v1/chat/completions' });
    const a = await g.request('/v1/chat/completions', { method: 'POST', json: chat() });
    await a.text();
    await a.settled();
    const b = await g.request('/v1/chat/completions', { method: 'POST', key: KEY_B, json: chat() });
    expect(b.headers.get('x-cache')).toBe('MISS');
    await b.text();
    await b.settled();
    const anon = await g.request('/demo/v1/chat/completions', { method: 'POST', key: null, json: chat() });
    await anon.text();
    await anon.settled();
    const withKey = await g.request('/demo/v1/chat/completions', { method: 'POST', json: chat() });
    expect(withKey.headers.get('x-cache')).toBe('HIT');
    await withKey.text();
    expect(g.backends.generations()).toHaveLength(3);
  });

  it('honours Cache-Control: no-store (bypass) and no-cache (regenerate, then store)', async () => {
    const g = await harness({ 'a.test': {} });
    const seed = await g.request('/v1/chat/completions', { method: 'POST', json: chat() });
    await seed.text();
    await seed.settled();
    const noStore = await g.request('/v1/chat/completions', { method: 'POST', json: chat(), headers: { 'cache-control': 'no-store' } });
    expect(noStore.headers.get('x-cache')).toBe('BYPASS');
    await noStore.text();
    const noCache = await g.request('/v1/chat/completions', { method: 'POST', json: chat(), headers: { 'cache-control': 'no-cache' } });
    expect(noCache.headers.get('x-cache')).toBe('MISS');
    await noCache.text();
    await noCache.settled();
    expect(g.backends.generations()).toHaveLength(3);
  });

  it('uses the per-route TTL: 0 disables caching on that route', async () => {
    const g = await harness({ 'a.test': {} }, { CACHE_TTLS: '{"default":60,"/v1/completions":0}' });
    const res = await g.request('/v1/completions', { method: 'POST', json: { model: 'tiny', prompt: 'x', temperature: 0 } });
    expect(res.headers.get('x-cache')).toBe('BYPASS');
  });

  it('keys on the model fingerprint: a redeployed model is a miss', async () => {
    const hosts = { 'a.test': { fingerprint: `fp-old-${crypto.randomUUID()}` } };
    const g = await harness(hosts);
    const a = await g.request('/v1/chat/completions', { method: 'POST', json: chat() });
    await a.text();
    await a.settled();
    const g2 = await harness({ 'a.test': { fingerprint: `fp-new-${crypto.randomUUID()}` } });
    const b = await g2.request('/v1/chat/completions', { method: 'POST', json: chat() });
    expect(b.headers.get('x-cache')).toBe('MISS');
  });

  it('does not cache a stream that ended with an error or was truncated, and tells the client', async () => {
    for (const how of ['error-event', 'truncate'] as const) {
      const g = await harness({ 'a.test': { breakAfter: { chunks: 1, how } } });
      const res = await g.request('/v1/chat/completions', { method: 'POST', json: chat({ stream: true }) });
      const events = await sseEvents(res);
      expect(JSON.parse(events.at(-1)!).error).toBeTruthy();
      expect(events).not.toContain('[DONE]');
      await res.settled();
      const again = await g.request('/v1/chat/completions', { method: 'POST', json: chat({ stream: true }) });
      expect(again.headers.get('x-cache')).toBe('MISS');
      await again.text();
    }
  });
});

describe('generation: only a stream that parsed completely is cached', () => {
  const cases: [string, { rawEvents?: string[]; rawAfterDone?: string[] }][] = [
    ['an event that is not JSON', { rawEvents: ['{not json'] }],
    ['an event that is JSON but not an object', { rawEvents: ['42'] }],
    ['an event after [DONE]', { rawAfterDone: ['{"late":true}'] }],
  ];
  for (const [what, opts] of cases) {
    it(`passes a stream with ${what} through to the client but never stores it`, async () => {
      const g = await harness({ 'a.test': opts });
      const res = await g.request('/v1/chat/completions', { method: 'POST', json: chat({ stream: true }) });
      expect(res.headers.get('x-cache')).toBe('MISS');
      const events = await sseEvents(res);
      for (const raw of [...(opts.rawEvents ?? []), ...(opts.rawAfterDone ?? [])]) expect(events).toContain(raw);
      await res.settled();
      const again = await g.request('/v1/chat/completions', { method: 'POST', json: chat({ stream: true }) });
      expect(again.headers.get('x-cache')).toBe('MISS');
      await again.text();
      expect(g.backends.generations()).toHaveLength(2);
    });
  }
  it('a clean stream from the same fake backend is stored (the cases above differ only in the bad event)', async () => {
    const g = await harness({ 'a.test': { rawEvents: ['{"choices":[]}'] } });
    const res = await g.request('/v1/chat/completions', { method: 'POST', json: chat({ stream: true }) });
    await res.text();
    await res.settled();
    const again = await g.request('/v1/chat/completions', { method: 'POST', json: chat({ stream: true }) });
    expect(again.headers.get('x-cache')).toBe('HIT');
    await again.text();
  });
});

describe('generation: public demo routes', () => {
  it('clamps max_tokens to DEMO_MAX_TOKENS before the request reaches a backend', async () => {
    const g = await harness({ 'a.test': {} }, { DEMO_MAX_TOKENS: '32', PUBLIC_ROUTES: '/demo/v1/chat/completions' });
    const res = await g.request('/demo/v1/chat/completions', { method: 'POST', key: null, json: chat({ max_completion_tokens: 4000 }) });
    expect(res.status).toBe(200);
    await res.text();
    const sent = g.backends.generations()[0].body as Record<string, unknown>;
    expect(sent.max_tokens).toBe(32);
    expect(sent).not.toHaveProperty('max_completion_tokens');
  });
});
