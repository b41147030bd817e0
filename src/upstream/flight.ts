import { ApiError, errorBody, round, SSE_DONE, SseParser, sseData, type OpenAIErrorBody, SSE_CONTENT_TYPE, HEADERS } from '@verdict/protocol';
import type { UpstreamResponse } from './client.ts';

/** One SSE `data:` payload and when it arrived, in ms after the backend's first byte. */
export interface RecordedEvent {
  t: number;
  data: string;
}

/** A complete, successful answer as it came from the backend: what the record stage may store. */
export type CapturedAnswer = { kind: 'sse'; events: RecordedEvent[]; requestId: string | null } | { kind: 'json'; body: string; requestId: string | null };

interface OpeningMeta {
  requestId: string | null;
  serverTiming: string | null;
  upstreamMs: number;
  /** The url of the backend that answered (after any retry): its fingerprint is the one the answer is stored under. */
  backend: string;
}

/** How the backend answered, once its headers are in. */
export type FlightOpening =
  | ({ kind: 'error'; status: number; body: string; /** The backend's Retry-After (429 queue_full, 503 not_ready), passed on. */ retryAfter: string | null } & OpeningMeta)
  | ({ kind: 'json'; status: number; body: string } & OpeningMeta)
  | ({ kind: 'sse' } & OpeningMeta);

const encoder = new TextEncoder();
/** Longest a listener in another request waits before re-checking the flight (see `changed`). */
const POLL_MS = 20;
/** How often the pump's watchdog checks for a stall or a cancellation by another request. */
const WATCHDOG_MS = 50;

/** A data payload a cache record may hold: a JSON object (every chunk of an OpenAI stream is one). */
function isJsonObject(data: string): boolean {
  try {
    const v: unknown = JSON.parse(data);
    return !!v && typeof v === 'object' && !Array.isArray(v);
  } catch {
    return false;
  }
}

function isErrorEvent(data: string): boolean {
  if (!data.startsWith('{"error"') && !data.includes('"error":{')) return false;
  try {
    const v = JSON.parse(data) as { error?: unknown };
    return !!v && typeof v === 'object' && v.error != null && typeof v.error === 'object';
  } catch {
    return false;
  }
}

/**
 * One upstream generation and everyone listening to it (every generation goes through one, cached or not). The backend's SSE is read as fast as it arrives
 * (never waiting on a slow client), parsed into events, timed, and fanned out to each subscriber; a request
 * that joins late first receives the events so far. When the last subscriber leaves before the end, the
 * upstream is aborted so the backend frees its slot. Only a stream that parsed completely — every data event a
 * JSON object, no error event, ending with [DONE] and nothing after it — is a `CapturedAnswer`.
 */
export class Flight {
  readonly opening: Promise<FlightOpening>;
  /** Resolves with a record to cache when the answer completed cleanly, otherwise null. */
  readonly finished: Promise<CapturedAnswer | null>;

  // Workers forbid touching one request's I/O objects (AbortController, streams) from another request, and a
  // follower runs in its own request. So everything a follower reads or writes here is plain data, and each
  // waiter creates its own promise; only the leader's context touches the upstream objects.
  private readonly controller = new AbortController();
  private readonly events: RecordedEvent[] = [];
  private subscribers = 0;
  private ended = false;
  private cancelled = false;
  private sawDone = false;
  /** The error event the gateway appends (stall, broken or truncated stream). */
  private failure: OpenAIErrorBody | null = null;
  private waiters = new Set<() => void>();
  private upstream?: UpstreamResponse;

  constructor(
    start: (signal: AbortSignal) => Promise<UpstreamResponse>,
    private readonly stallTimeoutMs: number,
  ) {
    let settle!: (r: CapturedAnswer | null) => void;
    this.finished = new Promise((r) => (settle = r));
    this.opening = this.open(start, settle);
    this.opening.catch(() => settle(null));
  }

  /** Cancelled because every listener left: a new request must not join it. */
  get aborted(): boolean {
    return this.cancelled;
  }

  /**
   * Resolves when something changed (new events, end, cancellation), or after POLL_MS at the latest. The
   * timer matters: a request waiting only on a promise that another request resolves has no I/O of its own,
   * and workerd cancels it as hung; the timer is I/O in the waiter's own context and bounds the wait.
   */
  private changed(): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    return new Promise<void>((resolve) => {
      this.waiters.add(resolve);
      timer = setTimeout(resolve, POLL_MS);
    }).finally(() => clearTimeout(timer));
  }

  private wake(): void {
    const waiters = [...this.waiters];
    this.waiters.clear();
    for (const w of waiters) w();
  }

  private async open(start: (signal: AbortSignal) => Promise<UpstreamResponse>, settle: (r: CapturedAnswer | null) => void): Promise<FlightOpening> {
    const up = (this.upstream = await start(this.controller.signal));
    const res = up.response;
    const meta: OpeningMeta = { requestId: res.headers.get(HEADERS.requestId), serverTiming: res.headers.get('server-timing'), upstreamMs: up.upstreamMs, backend: up.backend.url };
    const type = res.headers.get('content-type') ?? '';
    if (res.ok && type.includes(SSE_CONTENT_TYPE) && res.body) {
      void this.pump(res.body, meta.requestId).then(settle, () => settle(null));
      return { kind: 'sse', ...meta };
    }
    const body = await res.text();
    this.ended = true;
    if (!res.ok) {
      settle(null);
      return { kind: 'error', status: res.status, body, retryAfter: res.headers.get('retry-after'), ...meta };
    }
    settle({ kind: 'json', body, requestId: meta.requestId });
    return { kind: 'json', status: res.status, body, ...meta };
  }

  private async pump(body: ReadableStream<Uint8Array>, requestId: string | null): Promise<CapturedAnswer | null> {
    const reader = body.getReader();
    const decoder = new TextDecoder();
    const parser = new SseParser();
    const t0 = performance.now();
    let upstreamError = false;
    // Set when an event is not a JSON object or comes after [DONE]: such a stream is relayed but never recorded.
    let malformed = false;
    // One watchdog for the whole stream rather than timers and a race per chunk: it ends the read on a stall, or
    // when the last listener left from another request (which cannot touch this request's reader; it sets the flag).
    let stopped = null as 'stalled' | 'cancelled' | null;
    let lastChunkAt = t0;
    const watchdog = setInterval(() => {
      if (this.cancelled) stopped = 'cancelled';
      else if (performance.now() - lastChunkAt >= this.stallTimeoutMs) stopped = 'stalled';
      else return;
      clearInterval(watchdog);
      void reader.cancel().catch(() => {});
      this.upstream?.abort();
    }, Math.min(WATCHDOG_MS, this.stallTimeoutMs));
    try {
      for (;;) {
        let chunk: ReadableStreamReadResult<Uint8Array>;
        try {
          chunk = await reader.read();
        } catch (err) {
          if (stopped || this.cancelled) break;
          this.fail(errorBody(`The backend's stream broke off: ${(err as Error).message}`, 'server_error', null, 'upstream_stream_error'));
          return null;
        }
        if (stopped || this.cancelled || chunk.done) break;
        lastChunkAt = performance.now();
        for (const ev of parser.push(decoder.decode(chunk.value, { stream: true }))) {
          if (ev.data === SSE_DONE) {
            if (this.sawDone) malformed = true;
            this.sawDone = true;
          } else {
            if (isErrorEvent(ev.data)) upstreamError = true;
            else if (this.sawDone || !isJsonObject(ev.data)) malformed = true;
            this.events.push({ t: round(lastChunkAt - t0), data: ev.data });
          }
        }
        this.wake();
      }
    } finally {
      clearInterval(watchdog);
    }
    if (stopped === 'stalled') {
      this.fail(errorBody(`The backend sent nothing for ${this.stallTimeoutMs} ms; the stream was ended`, 'timeout_error', null, 'stream_stalled'));
      return null;
    }
    if (stopped || this.cancelled) {
      void reader.cancel().catch(() => {});
      this.upstream?.abort();
      return null;
    }
    if (!this.sawDone && !upstreamError) {
      this.fail(errorBody('The backend ended the stream before [DONE]; the answer is incomplete', 'server_error', null, 'stream_truncated'));
      return null;
    }
    this.ended = true;
    this.wake();
    return upstreamError || malformed ? null : { kind: 'sse', events: this.events, requestId };
  }

  private fail(error: OpenAIErrorBody): void {
    if (this.ended) return;
    this.failure = error;
    this.ended = true;
    this.wake();
  }

  /** Count a listener in; call `leave` when it is gone. The upstream is aborted when nobody is left. */
  join(signal?: AbortSignal): { leave: () => void } {
    this.subscribers++;
    let left = false;
    const leave = () => {
      if (left) return;
      left = true;
      signal?.removeEventListener('abort', leave);
      this.subscribers--;
      if (this.subscribers === 0 && !this.ended) {
        this.cancelled = true;
        this.fail(errorBody('The request was cancelled', 'server_error', null, 'cancelled'));
        try {
          // Works from the leader's own request; from a follower's, the pump (woken by fail) aborts instead.
          this.controller.abort(new ApiError(499, 'every client of this generation disconnected'));
          this.upstream?.abort();
        } catch {
          // a different request's I/O object: see above
        }
      }
    };
    if (signal?.aborted) queueMicrotask(leave);
    else signal?.addEventListener('abort', leave, { once: true });
    return { leave };
  }

  /**
   * The SSE body for one subscriber: every event from the start, `transform` applied to each data payload
   * (the gateway adds its timings to the final chunk), then [DONE] or the error event.
   */
  stream(membership: { leave: () => void }, transform: (data: string) => string): ReadableStream<Uint8Array> {
    let next = 0;
    return new ReadableStream<Uint8Array>(
      {
        pull: async (ctrl) => {
          while (next >= this.events.length && !this.ended) await this.changed();
          if (next < this.events.length) {
            let text = '';
            for (; next < this.events.length; next++) text += sseData(transform(this.events[next].data));
            ctrl.enqueue(encoder.encode(text));
            return;
          }
          ctrl.enqueue(encoder.encode(this.failure ? sseData(this.failure) : this.sawDone ? sseData(SSE_DONE) : ''));
          ctrl.close();
          membership.leave();
        },
        cancel: () => membership.leave(),
      },
      { highWaterMark: 0 },
    );
  }
}
