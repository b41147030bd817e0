/**
 * Fake `verdict serve` backends for worker tests: a fetch function that answers per host the way the real
 * backend does (OpenAI JSON or SSE with x_verdict and a final `timings` chunk, /v1/models with fingerprints,
 * /readyz), with switches for the failures the gateway must handle.
 */
export interface FakeBackendOptions {
  fingerprint?: string;
  /** 'down': connection refused; '500': HTTP 500; 'hang': never answers (until aborted). */
  failure?: 'down' | '500' | 'hang';
  /** Words to stream; one chunk each. */
  words?: string[];
  /** Delay before each chunk, ms. */
  chunkDelayMs?: number;
  /** Stop sending after this many chunks and then go silent (stall) or end without [DONE] (truncate). */
  breakAfter?: { chunks: number; how: 'stall' | 'truncate' | 'error-event' };
  readyz?: number;
  /** Send this many chunks, then wait for `until` before the rest (a gate the test opens on an event). */
  pause?: { afterChunks: number; until: Promise<unknown> };
  /** Raw SSE data payloads sent as they are before the final chunk (e.g. '{not json'); `afterDone`: after [DONE]. */
  rawEvents?: string[];
  rawAfterDone?: string[];
  /** Split every write of the SSE body into pieces of this many bytes (1: characters and events split across reads). */
  byteSplit?: number;
  /** After the words, send this raw text (e.g. the first half of an event) and close, without [DONE]. */
  closeWith?: string;
  /** Answer every generation with this error (OpenAI shape) and these headers, as verdict serve does when its queue is full or it is loading. */
  reject?: { status: number; type: string; code: string; headers?: Record<string, string> };
  /** Refuse a generation that carries `prediction` with a 400 naming it (a build without predicted outputs). */
  refusePrediction?: boolean;
}

export interface FakeCall {
  host: string;
  path: string;
  body: unknown;
  signal: AbortSignal | null;
  authorization: string | null;
  /** Set when the backend noticed its client (the gateway) went away. */
  cancelled: boolean;
  /** Resolves when `cancelled` is set or the request's signal aborts: tests wait on it instead of sleeping. */
  whenCancelled: Promise<void>;
}

/** A promise and the function that resolves it. */
export function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((r) => (open = r));
  return { promise, open };
}

const enc = new TextEncoder();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class FakeBackends {
  readonly calls: FakeCall[] = [];
  private counter = 0;

  constructor(readonly hosts: Record<string, FakeBackendOptions>) {}

  generations(host?: string): FakeCall[] {
    return this.calls.filter((c) => c.path.endsWith('completions') && (!host || c.host === host));
  }

  readonly fetch = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const req = new Request(input, init);
    const url = new URL(req.url);
    const opts = this.hosts[url.host];
    const text = req.method === 'POST' ? await req.text() : '';
    const cancelGate = gate();
    const call: FakeCall = { host: url.host, path: url.pathname, body: text ? JSON.parse(text) : null, signal: init?.signal ?? null, authorization: req.headers.get('authorization'), cancelled: false, whenCancelled: cancelGate.promise };
    const markCancelled = () => {
      call.cancelled = true;
      cancelGate.open();
    };
    if (init?.signal?.aborted) cancelGate.open();
    else init?.signal?.addEventListener('abort', () => cancelGate.open(), { once: true });
    this.calls.push(call);
    if (!opts || opts.failure === 'down') throw new TypeError(`fetch failed: connect ECONNREFUSED ${url.host}`);
    if (url.pathname === '/readyz') return new Response(null, { status: opts.readyz ?? 200 });
    if (opts.failure === '500') return Response.json({ error: { message: 'engine crashed', type: 'server_error', param: null, code: null } }, { status: 500 });
    if (opts.failure === 'hang') {
      await new Promise((_, reject) => init?.signal?.addEventListener('abort', () => reject(init.signal!.reason)));
    }
    if (url.pathname === '/v1/models') {
      return Response.json({ object: 'list', data: [{ id: 'tiny', object: 'model', created: 0, owned_by: 'verdict', x_verdict: { fingerprint: opts.fingerprint ?? 'fp-1', modes: ['target', 'exact'] } }] });
    }
    if (opts.reject) {
      const { status, type, code, headers } = opts.reject;
      return Response.json({ error: { message: `backend says ${code}`, type, param: null, code } }, { status, headers });
    }
    const body = call.body as { stream?: boolean; model: string; prediction?: unknown };
    if (opts.refusePrediction && body.prediction != null) {
      return Response.json({ error: { message: 'prediction is not supported by this server', type: 'invalid_request_error', param: 'prediction', code: 'unsupported_parameter' } }, { status: 400 });
    }
    if (body.model !== 'tiny') return Response.json({ error: { message: `model ${body.model} not found`, type: 'not_found_error', param: 'model', code: 'model_not_found' } }, { status: 404 });
    const id = `req-${url.host}-${++this.counter}`;
    const words = opts.words ?? ['Hello', ' world', '!'];
    const timings = { queue_ms: 1, prefill_ms: 2, draft_ms: 3, verify_ms: 4, judge_ms: 0, total_ms: 10, steps: 2, drafted: 4, accepted: 2, judge_accepted: 0, mean_accepted_per_step: 1.5, tokens_per_s: 300 };
    const headers = { 'x-request-id': id, 'server-timing': 'queue;dur=1, prefill;dur=2, decode;dur=7' };
    if (!body.stream) {
      return Response.json(
        { id, object: 'chat.completion', created: 1, model: 'tiny', choices: [{ index: 0, message: { role: 'assistant', content: words.join('') }, finish_reason: 'stop', logprobs: null }], usage: { prompt_tokens: 3, completion_tokens: words.length, total_tokens: 3 + words.length }, timings },
        { headers },
      );
    }
    const signal = init?.signal;
    const stream = new ReadableStream<Uint8Array>({
      async start(stream) {
        signal?.addEventListener('abort', markCancelled);
        const split = opts.byteSplit;
        const ctrl = {
          enqueue: (b: Uint8Array) => {
            if (!split) return stream.enqueue(b);
            for (let i = 0; i < b.length; i += split) stream.enqueue(b.slice(i, i + split));
          },
          close: () => stream.close(),
        };
        const chunk = (delta: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
          enc.encode(`data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created: 1, model: 'tiny', choices: [{ index: 0, delta, finish_reason: null, logprobs: null }], ...extra })}\n\n`);
        for (let i = 0; i < words.length; i++) {
          if (opts.breakAfter && i === opts.breakAfter.chunks) {
            if (opts.breakAfter.how === 'stall') return; // never closes
            if (opts.breakAfter.how === 'error-event') ctrl.enqueue(enc.encode(`data: ${JSON.stringify({ error: { message: 'worker died', type: 'server_error', param: null, code: null } })}\n\n`));
            ctrl.close();
            return;
          }
          if (opts.pause && i === opts.pause.afterChunks) await opts.pause.until;
          if (opts.chunkDelayMs) await sleep(opts.chunkDelayMs);
          if (call.cancelled) return;
          ctrl.enqueue(chunk({ content: words[i] }, { x_verdict: { provenance: ['draft'], step: i } }));
        }
        if (opts.closeWith !== undefined) {
          ctrl.enqueue(enc.encode(opts.closeWith));
          ctrl.close();
          return;
        }
        for (const raw of opts.rawEvents ?? []) ctrl.enqueue(enc.encode(`data: ${raw}\n\n`));
        ctrl.enqueue(enc.encode(`data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created: 1, model: 'tiny', choices: [{ index: 0, delta: {}, finish_reason: 'stop', logprobs: null }], timings })}\n\n`));
        ctrl.enqueue(enc.encode('data: [DONE]\n\n'));
        for (const raw of opts.rawAfterDone ?? []) ctrl.enqueue(enc.encode(`data: ${raw}\n\n`));
        ctrl.close();
      },
      cancel() {
        markCancelled();
      },
    });
    return new Response(stream, { headers: { 'content-type': 'text/event-stream', ...headers } });
  };
}

/** Reads an SSE body into its data payloads. */
export async function sseEvents(res: Response): Promise<string[]> {
  const text = await res.text();
  return text
    .split('\n\n')
    .filter((b) => b.startsWith('data: '))
    .map((b) => b.slice(6));
}
