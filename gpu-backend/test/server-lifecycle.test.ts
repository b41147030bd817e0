import { afterEach, describe, expect, it } from 'vitest';
import { SseParser } from '@verdict/protocol';
import { startServer, type RunningServer } from '../src/server/start.ts';
import { FAKE_RUNTIME, postJson, scrape, start, waitFor } from './server-helpers.ts';

// Scheduling behaviour with the test-double engine (test/fixtures/fake-runtime.ts: fake-bundle.ts + fake-engine.ts), whose step
// time is set by FAKE_STEP_MS: readiness, a full queue, deadlines, a crashing worker, shutdown.
const MODEL = 'fake-tiny';
const servers: RunningServer[] = [];
const track = (s: RunningServer) => (servers.push(s), s);
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
  delete process.env.FAKE_BUNDLE_DELAY_MS;
  delete process.env.FAKE_STEP_MS;
  delete process.env.FAKE_ENGINE_FAIL;
  delete process.env.FAKE_ENGINE_DELAY_MS;
});
const completion = (over: Record<string, unknown> = {}) => ({ model: MODEL, prompt: 'hi', max_tokens: 4, speculative: { mode: 'target' }, ...over });

async function readEvents(res: Response): Promise<string[]> {
  return new SseParser().push(await res.text()).map((e) => e.data);
}

describe('serving lifecycle (fake engine)', () => {
  it('answers 503 with Retry-After until the bundle is loaded and the workers are up', async () => {
    process.env.FAKE_BUNDLE_DELAY_MS = '1500';
    const s = track(await startServer({ bundle: '/nonexistent', port: 0, logLevel: 'silent' }, FAKE_RUNTIME));
    expect((await fetch(`${s.url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${s.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(ready.headers.get('retry-after')).toBe('5');
    expect((await ready.json()).status).toBe('loading');
    const gen = await postJson(`${s.url}/v1/completions`, completion());
    expect(gen.status).toBe(503);
    expect((await gen.json()).error).toMatchObject({ type: 'service_unavailable', code: 'not_ready' });
    expect(gen.headers.get('retry-after')).toBe('5');
    await s.ready;
    expect((await fetch(`${s.url}/readyz`)).status).toBe(200);
    expect((await postJson(`${s.url}/v1/completions`, completion())).status).toBe(200);
  });

  it('/v1/models waits for the engines too: the modes (and the default mode in the fingerprint) are theirs', async () => {
    process.env.FAKE_ENGINE_DELAY_MS = '1500';
    const s = track(await startServer({ bundle: '/nonexistent', port: 0, logLevel: 'silent' }, FAKE_RUNTIME));
    await waitFor(() => s.state.bundle !== undefined);
    expect(s.state.phase).toBe('loading');
    const early = await fetch(`${s.url}/v1/models`);
    expect(early.status).toBe(503);
    expect(early.headers.get('retry-after')).toBe('5');
    await s.ready;
    const models = await (await fetch(`${s.url}/v1/models`)).json();
    expect(models.data[0].x_verdict.modes).toEqual(s.state.pool!.modes);
  });

  it('a full queue answers 429 with Retry-After; the queue drains afterwards', async () => {
    process.env.FAKE_STEP_MS = '20';
    const s = track(await start({ bundle: 'fake', concurrency: 1, queueSize: 1 }, FAKE_RUNTIME));
    const long = new AbortController();
    const a = postJson(`${s.url}/v1/completions`, completion({ max_tokens: 500, stream: true }), { signal: long.signal });
    await waitFor(async () => (await scrape(s.url)).get('verdict_requests_running') === 1);
    const b = postJson(`${s.url}/v1/completions`, completion({ max_tokens: 2 }));
    await waitFor(async () => (await scrape(s.url)).get('verdict_queue_depth') === 1);
    const c = await postJson(`${s.url}/v1/completions`, completion());
    expect(c.status).toBe(429);
    // docs/server.md: ceil((queued + 1) / concurrency × mean slot hold); no slot has been released yet, so the mean
    // is its initial 1 s: ceil(2 / 1 × 1) = 2
    expect(c.headers.get('retry-after')).toBe('2');
    expect((await c.json()).error).toMatchObject({ type: 'rate_limit_error', code: 'queue_full' });
    long.abort();
    await a.then((r) => r.body?.cancel()).catch(() => {});
    expect((await b).status).toBe(200);
    await waitFor(async () => {
      const m = await scrape(s.url);
      return m.get('verdict_requests_running') === 0 && m.get('verdict_queue_depth') === 0;
    });
  });

  it('a request past its deadline gets 504 (JSON) or a final SSE error event (stream)', async () => {
    process.env.FAKE_STEP_MS = '20';
    const s = track(await start({ bundle: 'fake', requestTimeoutMs: 300 }, FAKE_RUNTIME));
    const res = await postJson(`${s.url}/v1/completions`, completion({ max_tokens: 500 }));
    expect(res.status).toBe(504);
    expect((await res.json()).error).toMatchObject({ type: 'timeout_error', code: 'deadline_exceeded' });
    const streamed = await postJson(`${s.url}/v1/completions`, completion({ max_tokens: 500, stream: true }));
    expect(streamed.status).toBe(200);
    const events = await readEvents(streamed);
    expect(events).not.toContain('[DONE]');
    expect(JSON.parse(events.at(-1)!).error.code).toBe('deadline_exceeded');
    await waitFor(async () => (await scrape(s.url)).get('verdict_requests_running') === 0);
  });

  it('the HTTP thread stays responsive while a worker is blocked in engine steps', async () => {
    // Each step blocks its worker for 1 s. After every streamed step a health check goes out; it must be answered
    // before the next step's chunk arrives, i.e. while the worker is blocked. Had the step run on the HTTP thread,
    // the check would wait for the step, and the step's chunk would be written first.
    process.env.FAKE_STEP_MS = '1000';
    const s = track(await start({ bundle: 'fake' }, FAKE_RUNTIME));
    await fetch(`${s.url}/healthz`); // warm up the HTTP client
    const res = await postJson(`${s.url}/v1/completions`, completion({ max_tokens: 4, stream: true }));
    const order: string[] = [];
    const pings: Promise<void>[] = [];
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
      order.push('chunk');
      if (!text.includes('[DONE]') && !/"finish_reason":"/.test(value)) {
        const n = pings.length;
        pings.push(fetch(`${s.url}/healthz`).then((r) => void order.push(`pong ${n} ${r.status}`)));
      }
    }
    await Promise.all(pings);
    expect(text.trimEnd().endsWith('data: [DONE]')).toBe(true);
    expect(pings.length).toBeGreaterThanOrEqual(3);
    // every ping but possibly the last (sent on the final content chunk) is answered before the next chunk
    for (let n = 0; n < pings.length - 1; n++) {
      const pong = order.indexOf(`pong ${n} 200`);
      expect(pong).toBeGreaterThan(-1);
      const sentAfter = order.findIndex((e, i) => e === 'chunk' && order.slice(0, i + 1).filter((x) => x === 'chunk').length === n + 2);
      expect(pong).toBeLessThan(sentAfter);
    }
  });

  it('a crashing worker fails only its request (500, no internals) and is replaced', async () => {
    const s = track(await start({ bundle: 'fake', workers: 2, concurrency: 2 }, FAKE_RUNTIME));
    const bystander = postJson(`${s.url}/v1/completions`, completion({ max_tokens: 100 }));
    const crash = await postJson(`${s.url}/v1/completions`, completion({ prompt: 'please CRASH now' }));
    expect(crash.status).toBe(500);
    const err = (await crash.json()).error;
    expect(err).toMatchObject({ type: 'server_error', code: 'worker_failed' });
    expect(err.message).not.toMatch(/exit|code 3|stack|\.ts/);
    expect((await bystander).status).toBe(200);
    const thrown = await postJson(`${s.url}/v1/completions`, completion({ prompt: 'THROW' }));
    expect(thrown.status).toBe(500);
    expect((await thrown.json()).error.message).not.toContain('fake engine failure');
    expect((await postJson(`${s.url}/v1/completions`, completion())).status).toBe(200);
    await waitFor(() => s.state.pool!.readyWorkers === 2);
    expect(s.state.pool!.restarts).toBe(1);
  });

  it('a crashed worker whose replacement cannot start is not respawned again and again', async () => {
    const s = track(await start({ bundle: 'fake', workers: 2, concurrency: 2 }, FAKE_RUNTIME));
    process.env.FAKE_ENGINE_FAIL = '1'; // workers started from now on fail to build their engine
    const crash = await postJson(`${s.url}/v1/completions`, completion({ prompt: 'please CRASH now' }));
    expect(crash.status).toBe(500);
    // Respawning happens only in a worker's exit handler; once the failed replacement has exited (dead), nothing
    // else can restart it, so the count is final here, without waiting on a clock.
    await waitFor(() => s.state.pool!.deadWorkers === 1);
    expect(s.state.pool!.readyWorkers).toBe(1);
    expect(s.state.pool!.restarts).toBe(1);
    expect((await postJson(`${s.url}/v1/completions`, completion())).status).toBe(200);
  });

  it('shutdown lets short requests finish, ends long streams with an error event, refuses new work', async () => {
    process.env.FAKE_STEP_MS = '20';
    const s = await start({ bundle: 'fake', drainTimeoutMs: 3000 }, FAKE_RUNTIME);
    const long = await postJson(`${s.url}/v1/completions`, completion({ max_tokens: 500, stream: true }));
    expect(long.status).toBe(200);
    const short = postJson(`${s.url}/v1/completions`, completion({ max_tokens: 10 }));
    await waitFor(async () => (await scrape(s.url)).get('verdict_requests_running') === 2);
    const closed = s.close();
    const refused = await postJson(`${s.url}/v1/completions`, completion()).then((r) => r.status, () => 'connection refused');
    expect([503, 'connection refused']).toContain(refused);
    expect((await short).status).toBe(200);
    const events = await readEvents(long);
    expect(events).not.toContain('[DONE]');
    expect(JSON.parse(events.at(-1)!).error).toMatchObject({ type: 'service_unavailable', code: 'shutting_down' });
    await closed;
  });
});
