import { randomUUID } from 'node:crypto';
import { ApiError, round, type ChatCompletion, type TextCompletion } from '@verdict/protocol';
import type { DecodeEvent, DecodeStats } from '../engine/types.ts';
import type { Generation } from '../scheduler/scheduler.ts';
import { finishReason } from './chunks.ts';
import type { RequestRecord } from './record.ts';
import type { ResolvedRequest } from './resolve.ts';
import type { ServerState } from './state.ts';
import { buildTimings, headersAtEnd } from './timings.ts';

/** One accepted generation on its way to the client. */
export interface Run {
  state: ServerState;
  record: RequestRecord;
  req: ResolvedRequest;
  gen: Generation;
  /** OpenAI-style response id (`chatcmpl-…` / `cmpl-…`). */
  id: string;
  created: number;
  sawFirstToken: boolean;
}

export function startRun(state: ServerState, record: RequestRecord, req: ResolvedRequest): Run {
  const scheduler = state.scheduler;
  if (!scheduler || state.phase !== 'ready') throw notReady(state);
  const gen = scheduler.submit(req.decode, state.config.requestTimeoutMs);
  const { mode, k, promptIds } = req.decode;
  Object.assign(record.fields, { mode, k: mode === 'target' ? 0 : k, prompt_tokens: promptIds.length, stream: req.stream, max_tokens: req.decode.maxTokens, user: req.user });
  const prefix = req.kind === 'chat' ? 'chatcmpl-' : 'cmpl-';
  return { state, record, req, gen, id: prefix + randomUUID().replaceAll('-', ''), created: Math.floor(Date.now() / 1000), sawFirstToken: false };
}

export function notReady(state: ServerState): ApiError {
  const why = state.phase === 'draining' ? 'the server is shutting down' : state.phase === 'failed' ? 'the model bundle failed to load' : 'the model is still loading';
  return new ApiError(503, why, 'service_unavailable', null, state.phase === 'draining' ? 'shutting_down' : 'not_ready', { 'Retry-After': '5' });
}

/** Metrics and record fields for one engine event; call for every event, in order. */
export function observe(run: Run, ev: DecodeEvent): void {
  const mode = run.req.decode.mode;
  const m = run.state.metrics;
  if (ev.type === 'prefill') {
    m.promptTokens.inc({ mode }, ev.promptTokens);
    run.record.fields.prefill_ms = round(ev.ms);
  } else if (ev.type === 'step') {
    m.observeStep(mode, ev.tokens.length, ev.stats);
    if (!run.sawFirstToken && ev.tokens.length > 0) {
      run.sawFirstToken = true;
      const ms = run.record.elapsedMs();
      m.ttft.observe({ mode }, ms / 1000);
      run.record.fields.ttft_ms = round(ms);
    }
  } else {
    Object.assign(run.record.fields, {
      finish_reason: ev.finishReason,
      completion_tokens: ev.stats.completionTokens,
      steps: ev.stats.steps,
      accepted_per_step: round(ev.stats.meanAcceptedPerStep),
      queue_ms: round(run.gen.queueMs),
    });
  }
}

export function summary(run: Run, stats: DecodeStats) {
  const timings = buildTimings(run.gen.queueMs, run.record.elapsedMs(), stats);
  const usage = { prompt_tokens: stats.promptTokens, completion_tokens: stats.completionTokens, total_tokens: stats.promptTokens + stats.completionTokens };
  const headers = headersAtEnd(run.req.decode.mode, run.req.decode.k, timings, stats.promptTokens, stats.completionTokens);
  return { timings, usage, headers };
}

/** Non-streamed answer: wait for the whole generation, then one JSON body with usage and timings. */
export async function respondJson(run: Run, clientGone: AbortSignal): Promise<Response> {
  const onGone = () => run.gen.cancel();
  clientGone.addEventListener('abort', onGone, { once: true });
  let done: Extract<DecodeEvent, { type: 'done' }> | undefined;
  try {
    for await (const ev of run.gen) {
      observe(run, ev);
      if (ev.type === 'done') done = ev;
    }
  } finally {
    clientGone.removeEventListener('abort', onGone);
  }
  // No `done` without an error: the client went away and nobody reads this.
  if (!done) throw new ApiError(499, 'the client closed the request', 'invalid_request_error', null, 'client_closed');
  const { timings, usage, headers } = summary(run, done.stats);
  const finish = finishReason(done.finishReason);
  const base = { id: run.id, created: run.created, model: run.req.model, usage, timings };
  const body: ChatCompletion | TextCompletion =
    run.req.kind === 'chat'
      ? { ...base, object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: done.text }, finish_reason: finish, logprobs: null }] }
      : { ...base, object: 'text_completion', choices: [{ index: 0, text: done.text, finish_reason: finish, logprobs: null }] };
  return Response.json(body, { headers });
}
