import { ApiError } from '@verdict/protocol';
import type { DecodeEvent, DecodeRequest } from '../engine/types.ts';
import type { DecodeSink } from './pool.ts';
import { Channel } from '../engine/channel.ts';

/** Whatever runs decodes (the worker pool; a fake in tests). Returns a cancel function. */
export interface DecodeRunner {
  run(req: DecodeRequest, sink: DecodeSink): () => void;
}

export interface SchedulerOptions {
  concurrency: number;
  queueSize: number;
  /** Milliseconds clock for slot hold times (Retry-After); tests inject one. Defaults to performance.now. */
  now?: () => number;
  /** Called when the first request arrives while none is live, and when the last one finishes (the idle reclaimer listens). */
  onBusy?: () => void;
  onIdle?: () => void;
}

type State = 'queued' | 'running' | 'finished';

/** One submitted request: its events in order, then the end, or an ApiError. */
export class Generation implements AsyncIterable<DecodeEvent> {
  readonly submittedAt = performance.now();
  /** Time spent waiting for a slot; set at dispatch. */
  queueMs = 0;
  state: State = 'queued';
  readonly channel = new Channel<DecodeEvent>();
  /** Set by the scheduler: removes from the queue, or cancels the running decode. */
  abort: (reason: ApiError | null) => void = () => {};

  /** The consumer went away (client disconnect): stop at the next step and free the slot. */
  cancel(): void {
    this.abort(null);
  }

  next(): Promise<IteratorResult<DecodeEvent>> {
    return this.channel.next();
  }

  [Symbol.asyncIterator](): AsyncIterator<DecodeEvent> {
    return { next: () => this.channel.next() };
  }
}

/**
 * A bounded FIFO queue in front of a fixed number of slots. Each request has a deadline that
 * covers its queue wait and its generation; when it passes, the request fails with 504 and its
 * decode is cancelled. A slot is freed only when the worker confirms the decode has stopped.
 */
export class Scheduler {
  private readonly queue: { gen: Generation; dispatch: () => void }[] = [];
  private active = 0;
  private accepting = true;
  /**
   * Mean seconds a slot is held, for Retry-After: starts at 1 s, then s ← 0.8·s + 0.2·(this hold) on each
   * release. A 429's Retry-After is ceil((queued + 1) / concurrency × s), clamped to 1–60 s.
   */
  private serviceS = 1;
  private readonly now: () => number;
  private idleWaiters: (() => void)[] = [];
  private readonly live = new Set<Generation>();

  constructor(
    private readonly runner: DecodeRunner,
    private readonly opts: SchedulerOptions,
  ) {
    this.now = opts.now ?? (() => performance.now());
  }

  get queued(): number {
    return this.queue.length;
  }

  get running(): number {
    return this.active;
  }

  /** Queues a decode. Throws 429 (queue full) or 503 (shutting down) with Retry-After. */
  submit(req: DecodeRequest, deadlineMs: number): Generation {
    if (!this.accepting) throw new ApiError(503, 'the server is shutting down', 'service_unavailable', null, 'shutting_down', { 'Retry-After': '5' });
    if (this.active >= this.opts.concurrency && this.queue.length >= this.opts.queueSize) {
      const wait = Math.ceil(((this.queue.length + 1) / this.opts.concurrency) * this.serviceS);
      throw new ApiError(429, `the server is at capacity (${this.active} running, ${this.queue.length} queued); retry later`, 'rate_limit_error', null, 'queue_full', {
        'Retry-After': String(Math.min(60, Math.max(1, wait))),
      });
    }
    const gen = new Generation();
    if (this.live.size === 0) this.opts.onBusy?.();
    this.live.add(gen);
    const timer = setTimeout(() => gen.abort(new ApiError(504, `the request exceeded its deadline of ${deadlineMs} ms`, 'timeout_error', null, 'deadline_exceeded')), deadlineMs);
    timer.unref();
    const finish = (err: ApiError | null) => {
      clearTimeout(timer);
      this.live.delete(gen);
      err ? gen.channel.fail(err) : gen.channel.end();
      this.notifyIdle();
    };
    gen.abort = (reason) => {
      if (gen.state === 'queued') {
        const i = this.queue.findIndex((q) => q.gen === gen);
        if (i >= 0) this.queue.splice(i, 1);
        gen.state = 'finished';
        finish(reason);
      } else if (gen.state === 'running') {
        // The consumer learns now; the slot is freed when the worker confirms (onEnd).
        reason ? gen.channel.fail(reason) : gen.channel.end();
        cancelRun();
      }
    };
    let cancelRun = () => {};
    const dispatch = () => {
      gen.state = 'running';
      gen.queueMs = performance.now() - gen.submittedAt;
      this.active++;
      const started = this.now();
      const release = (err: ApiError | null) => {
        if (gen.state === 'finished') return;
        gen.state = 'finished';
        this.active--;
        this.serviceS = 0.8 * this.serviceS + 0.2 * ((this.now() - started) / 1000);
        finish(err);
        this.pump();
      };
      try {
        cancelRun = this.runner.run(req, { onEvent: (e) => gen.channel.push(e), onEnd: () => release(null), onError: (e) => release(e) });
      } catch (err) {
        release(err instanceof ApiError ? err : new ApiError(500, 'could not start the generation', 'server_error'));
      }
    };
    this.queue.push({ gen, dispatch });
    this.pump();
    return gen;
  }

  /** Stop accepting; wait up to `timeoutMs` for everything to finish, then fail the rest with `reason`. */
  async drain(timeoutMs: number, reason: ApiError): Promise<void> {
    this.accepting = false;
    if (this.live.size) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, timeoutMs);
        this.idleWaiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    for (const gen of [...this.live]) gen.abort(reason);
  }

  private pump(): void {
    while (this.active < this.opts.concurrency && this.queue.length) {
      this.queue.shift()!.dispatch();
    }
  }

  private notifyIdle(): void {
    if (this.live.size) return;
    this.opts.onIdle?.();
    const ws = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of ws) w();
  }
}
