import { describe, expect, it } from 'vitest';
import { ApiError } from '@verdict/protocol';
import type { DecodeEvent, DecodeRequest } from '../src/engine/types.ts';
import type { DecodeSink } from '../src/scheduler/pool.ts';
import { Scheduler, type DecodeRunner } from '../src/scheduler/scheduler.ts';

/** A runner the test drives by hand: it records decodes and cancels; the test ends them. */
class ManualRunner implements DecodeRunner {
  readonly started: { req: DecodeRequest; sink: DecodeSink; cancelled: boolean }[] = [];
  run(req: DecodeRequest, sink: DecodeSink): () => void {
    const job = { req, sink, cancelled: false };
    this.started.push(job);
    return () => {
      job.cancelled = true;
    };
  }
}

const req = (maxTokens = 1) => ({ maxTokens }) as DecodeRequest;
const prefill: DecodeEvent = { type: 'prefill', promptTokens: 1, ms: 1 };
const tick = () => new Promise((r) => setTimeout(r, 0));

describe('Scheduler', () => {
  it('runs at most `concurrency` decodes and dispatches queued ones in order as slots free', async () => {
    const runner = new ManualRunner();
    const s = new Scheduler(runner, { concurrency: 2, queueSize: 10 });
    const gens = [1, 2, 3, 4].map((n) => s.submit(req(n), 10_000));
    expect(runner.started.map((j) => j.req.maxTokens)).toEqual([1, 2]);
    expect([s.running, s.queued]).toEqual([2, 2]);
    expect(gens[2].state).toBe('queued');
    runner.started[0].sink.onEnd();
    expect(runner.started.map((j) => j.req.maxTokens)).toEqual([1, 2, 3]);
    runner.started[1].sink.onError(new ApiError(500, 'boom'));
    expect(runner.started.map((j) => j.req.maxTokens)).toEqual([1, 2, 3, 4]);
    expect([s.running, s.queued]).toEqual([2, 0]);
    await expect(gens[1].next()).rejects.toMatchObject({ status: 500 });
    expect(await gens[0].next()).toEqual({ done: true, value: undefined });
    expect(gens[2].queueMs).toBeGreaterThanOrEqual(0);
  });

  it('says when it becomes busy and when its last generation (running or queued) is over, for the idle reclaimer', () => {
    const runner = new ManualRunner();
    const calls: string[] = [];
    const s = new Scheduler(runner, { concurrency: 1, queueSize: 5, onBusy: () => calls.push('busy'), onIdle: () => calls.push('idle') });
    s.submit(req(), 10_000);
    const queued = s.submit(req(), 10_000);
    expect(calls).toEqual(['busy']);
    runner.started[0].sink.onEnd(); // the queued one starts: still busy
    expect(calls).toEqual(['busy']);
    queued.cancel();
    runner.started[1].sink.onEnd();
    expect(calls).toEqual(['busy', 'idle']);
    const g = s.submit(req(), 10_000);
    expect(calls).toEqual(['busy', 'idle', 'busy']);
    g.cancel();
    runner.started[2].sink.onEnd();
    expect(calls).toEqual(['busy', 'idle', 'busy', 'idle']);
  });

  it('delivers events in order, then the end', async () => {
    const runner = new ManualRunner();
    const s = new Scheduler(runner, { concurrency: 1, queueSize: 0 });
    const g = s.submit(req(), 10_000);
    runner.started[0].sink.onEvent(prefill);
    runner.started[0].sink.onEvent({ ...prefill, ms: 2 });
    runner.started[0].sink.onEnd();
    const seen: DecodeEvent[] = [];
    for await (const e of g) seen.push(e);
    expect(seen.map((e) => (e as { ms: number }).ms)).toEqual([1, 2]);
  });

  it('refuses with 429 and a Retry-After when the queue is full', () => {
    const s = new Scheduler(new ManualRunner(), { concurrency: 1, queueSize: 1 });
    s.submit(req(), 10_000);
    s.submit(req(), 10_000);
    let err: unknown;
    try {
      s.submit(req(), 10_000);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ApiError);
    const e = err as ApiError;
    expect([e.status, e.type, e.code]).toEqual([429, 'rate_limit_error', 'queue_full']);
    // no slot released yet: the mean hold is its initial 1 s, so ceil((1 queued + 1) / 1 slot × 1 s) = 2
    expect(e.headers['Retry-After']).toBe('2');
  });

  it('estimates Retry-After as ceil((queued + 1) / concurrency × mean slot hold), the mean a 0.8/0.2 moving average, clamped to 1–60 s', () => {
    let now = 0;
    const runner = new ManualRunner();
    const s = new Scheduler(runner, { concurrency: 2, queueSize: 3, now: () => now });
    const retryAfter = () => {
      try {
        s.submit(req(), 1e9);
      } catch (e) {
        return (e as ApiError).headers['Retry-After'];
      }
      throw new Error('expected a 429');
    };
    // two slots held for 10 s and 20 s of the injected clock: mean 1 → 0.8·1 + 0.2·10 = 2.8 → 0.8·2.8 + 0.2·20 = 6.24
    s.submit(req(), 1e9);
    s.submit(req(), 1e9);
    now = 10_000;
    runner.started[0].sink.onEnd();
    now = 20_000;
    runner.started[1].sink.onEnd(); // started at 0 (held 20 s)
    expect(s.running).toBe(0);
    // fill both slots (started at 20 s) and the queue of 3
    for (let i = 0; i < 5; i++) s.submit(req(), 1e9);
    expect([s.running, s.queued]).toEqual([2, 3]);
    expect(retryAfter()).toBe(String(Math.ceil(((3 + 1) / 2) * 6.24))); // 13
    // a slot held 250 s: 0.8·6.24 + 0.2·250 = 54.992; a queued request takes its place and one more fills the queue:
    // ceil(4/2 × 54.992) = 110, clamped to 60
    now = 270_000;
    runner.started[2].sink.onEnd();
    expect(s.queued).toBe(2);
    s.submit(req(), 1e9);
    expect(retryAfter()).toBe('60');
  });

  it('Retry-After is at least 1 s when slots are released at once', () => {
    const runner = new ManualRunner();
    const s = new Scheduler(runner, { concurrency: 4, queueSize: 0, now: () => 0 });
    for (let i = 0; i < 4; i++) s.submit(req(), 1e9);
    for (let i = 0; i < 4; i++) runner.started[i].sink.onEnd(); // held 0 s: mean 1 → 0.8 → 0.64 → 0.512 → 0.4096
    for (let i = 0; i < 4; i++) s.submit(req(), 1e9);
    let header: string | undefined;
    try {
      s.submit(req(), 1e9);
    } catch (e) {
      header = (e as ApiError).headers['Retry-After'];
    }
    expect(header).toBe('1'); // ceil(1/4 × 0.4096) = 1
  });

  it('cancelling a queued request removes it without ever starting it', async () => {
    const runner = new ManualRunner();
    const s = new Scheduler(runner, { concurrency: 1, queueSize: 5 });
    s.submit(req(1), 10_000);
    const queued = s.submit(req(2), 10_000);
    queued.cancel();
    expect(s.queued).toBe(0);
    expect(await queued.next()).toEqual({ done: true, value: undefined });
    runner.started[0].sink.onEnd();
    expect(runner.started).toHaveLength(1);
    expect(s.running).toBe(0);
  });

  it('cancelling a running request tells the runner, and frees the slot only when the runner confirms', async () => {
    const runner = new ManualRunner();
    const s = new Scheduler(runner, { concurrency: 1, queueSize: 5 });
    const g = s.submit(req(1), 10_000);
    s.submit(req(2), 10_000);
    g.cancel();
    expect(runner.started[0].cancelled).toBe(true);
    expect(await g.next()).toEqual({ done: true, value: undefined });
    // The worker is still finishing its step: the slot is held, the next request waits.
    expect([s.running, s.queued]).toEqual([1, 1]);
    runner.started[0].sink.onEvent(prefill); // late events are dropped
    runner.started[0].sink.onEnd();
    expect([s.running, s.queued]).toEqual([1, 0]);
    expect(runner.started[1].req.maxTokens).toBe(2);
  });

  it('a deadline fails the request with 504, whether queued or running, and cancels the decode', async () => {
    const runner = new ManualRunner();
    const s = new Scheduler(runner, { concurrency: 1, queueSize: 5 });
    const running = s.submit(req(1), 30);
    const queued = s.submit(req(2), 30);
    await expect(running.next()).rejects.toMatchObject({ status: 504, code: 'deadline_exceeded' });
    await expect(queued.next()).rejects.toMatchObject({ status: 504 });
    expect(runner.started[0].cancelled).toBe(true);
    expect(s.queued).toBe(0);
    runner.started[0].sink.onEnd();
    expect(s.running).toBe(0);
    expect(runner.started).toHaveLength(1);
  });

  it('a runner that throws fails only that request', async () => {
    let calls = 0;
    const s = new Scheduler({ run: () => (calls++ === 0 ? (() => { throw new Error('no worker'); })() : () => {}) }, { concurrency: 1, queueSize: 5 });
    const a = s.submit(req(), 10_000);
    await expect(a.next()).rejects.toMatchObject({ status: 500 });
    s.submit(req(), 10_000);
    expect(s.running).toBe(1);
  });

  it('drain refuses new work, waits for running work, then fails what is left with the reason', async () => {
    const runner = new ManualRunner();
    const s = new Scheduler(runner, { concurrency: 2, queueSize: 5 });
    const quick = s.submit(req(1), 10_000);
    const slow = s.submit(req(2), 10_000);
    const drained = s.drain(100, new ApiError(503, 'shutting down', 'service_unavailable', null, 'shutting_down'));
    expect(() => s.submit(req(), 10_000)).toThrow(/shutting down/);
    runner.started[0].sink.onEnd();
    await tick();
    expect(await quick.next()).toEqual({ done: true, value: undefined });
    await drained;
    await expect(slow.next()).rejects.toMatchObject({ status: 503, code: 'shutting_down' });
    expect(runner.started[1].cancelled).toBe(true);
  });
});
