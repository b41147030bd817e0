import { ApiError, SSE_DONE, sseData, SSE_RESPONSE_HEADERS } from '@verdict/protocol';
import type { DecodeEvent } from '../engine/types.ts';
import { ChunkWriter, finishReason } from './chunks.ts';
import { toApiError } from './errors.ts';
import { LogprobsCollector, observe, summary, type Run } from './generation.ts';
import { headersAtFirstByte } from './timings.ts';


/**
 * A streamed answer. Headers go out once prefill is done, so they carry the queue and prefill
 * times (and errors before that point are ordinary JSON errors with their status). Then one
 * chunk per engine step, the closing chunk(s) with `timings`, and `data: [DONE]`. An error
 * after the first byte is a final `data: {"error":…}` event without `[DONE]`, so a reader (or a
 * cache) can tell the stream is incomplete.
 */
export async function respondStream(run: Run, clientGone: AbortSignal): Promise<Response> {
  const onGone = () => run.gen.cancel();
  clientGone.addEventListener('abort', onGone, { once: true });
  const early: DecodeEvent[] = [];
  let prefillMs = 0;
  const logprobs = new LogprobsCollector(run);
  let echoChunk: ReturnType<LogprobsCollector['prompt']> = null;
  try {
    for (;;) {
      const r = await run.gen.next();
      if (r.done) throw new ApiError(499, 'the client closed the request', 'invalid_request_error', null, 'client_closed');
      observe(run, r.value);
      if (r.value.type === 'prefill') {
        prefillMs = r.value.ms;
        echoChunk = logprobs.prompt(r.value);
        break;
      }
      early.push(r.value);
    }
  } catch (err) {
    // No stream yet: the error is an ordinary JSON response, and nothing is left to cancel.
    clientGone.removeEventListener('abort', onGone);
    throw err;
  }

  const { decode } = run.req;
  const writer = new ChunkWriter(run.req.kind, run.id, run.created, run.req.model, run.req.includeUsage, run.fingerprint, decode.mode);
  const enc = new TextEncoder();
  const record = run.record;
  record.deferred = true;
  /** Set when the reader cancelled the stream: nothing more may be written to it. */
  let cancelled = false;
  const end = (status: number) => {
    clientGone.removeEventListener('abort', onGone);
    record.finish(status);
  };

  const body = new ReadableStream<Uint8Array>({
    start(ctl) {
      const opener = writer.opener();
      if (opener) ctl.enqueue(enc.encode(sseData(opener)));
      if (run.req.echo) ctl.enqueue(enc.encode(sseData(writer.echo(run.req.promptText!, echoChunk))));
    },
    // Each pull forwards events until it has written something (a pull that enqueues nothing is not called again).
    async pull(ctl) {
      try {
        for (;;) {
          // Events read while waiting for prefill were observed then.
          const fromEarly = early.length > 0;
          const r = fromEarly ? { done: false as const, value: early.shift()! } : await run.gen.next();
          if (cancelled) return;
          if (r.done) {
            // Ended without `done`: we cancelled it because the client left.
            ctl.close();
            return end(499);
          }
          const ev = r.value;
          if (!fromEarly) observe(run, ev);
          if (ev.type === 'step') {
            ctl.enqueue(enc.encode(sseData(writer.step(ev.text, ev.provenance, ev.step, ev.pieces, logprobs.step(ev)))));
            return;
          }
          if (ev.type === 'done') {
            const { timings, usage } = summary(run, ev.stats);
            for (const chunk of writer.closing(finishReason(ev.finishReason), usage, timings)) ctl.enqueue(enc.encode(sseData(chunk)));
            ctl.enqueue(enc.encode(sseData(SSE_DONE)));
            ctl.close();
            return end(200);
          }
        }
      } catch (err) {
        if (cancelled) return;
        const e = toApiError(err, run.state.log, record.id);
        record.fields.error = e.message;
        ctl.enqueue(enc.encode(sseData(e.toBody())));
        ctl.close();
        end(e.status);
      }
    },
    cancel() {
      cancelled = true;
      run.gen.cancel();
      end(499);
    },
  });
  return new Response(body, { headers: { ...SSE_RESPONSE_HEADERS, ...headersAtFirstByte(decode.mode, decode.k, decode.promptIds.length, run.gen.queueMs, prefillMs) } });
}
