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
    expect(Number(e.headers['Retry-After'])).toBeGreaterThanOrEqual(1);
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
