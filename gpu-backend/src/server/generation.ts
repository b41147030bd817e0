import { randomUUID } from 'node:crypto';
import { ApiError, round, type ChatCompletion, type ChatLogprobs, type TextCompletion, type TextLogprobs, type Usage } from '@verdict/protocol';
import type { DecodeEvent, DecodeStats } from '../engine/types.ts';
import type { Generation } from '../scheduler/scheduler.ts';
import { finishReason } from './chunks.ts';
import { chatLogprobs, concatTextLogprobs, TextLogprobsBuilder, tokenTextsFor, type TokenTexts } from './logprobs.ts';
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
  /** `system_fingerprint` of every response and chunk: the answer-shaping fingerprint of /v1/models. */
  fingerprint: string;
  /** Token ids -> text and bytes, for log-probabilities. */
  texts: TokenTexts;
}

export function startRun(state: ServerState, record: RequestRecord, req: ResolvedRequest): Run {
  const scheduler = state.scheduler;
  if (!scheduler || state.phase !== 'ready') throw notReady(state);
  const gen = scheduler.submit(req.decode, state.config.requestTimeoutMs);
  const { mode, k, promptIds } = req.decode;
  Object.assign(record.fields, { mode, k: mode === 'target' ? 0 : k, proposer: req.decode.proposer, prompt_tokens: promptIds.length, stream: req.stream, max_tokens: req.decode.maxTokens, user: req.user });
  const prefix = req.kind === 'chat' ? 'chatcmpl-' : 'cmpl-';
  const bundle = state.bundle!;
  const fingerprint = state.fingerprint ?? '';
  return { state, record, req, gen, id: prefix + randomUUID().replaceAll('-', ''), created: Math.floor(Date.now() / 1000), sawFirstToken: false, fingerprint, texts: tokenTextsFor(bundle) };
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
      ...(run.req.decode.predictionIds ? { accepted_prediction_tokens: ev.stats.acceptedPredictionTokens, rejected_prediction_tokens: ev.stats.rejectedPredictionTokens } : {}),
      queue_ms: round(run.gen.queueMs),
    });
  }
}

export function summary(run: Run, stats: DecodeStats) {
  const timings = buildTimings(run.gen.queueMs, run.record.elapsedMs(), stats);
  const usage: Usage = {
    prompt_tokens: stats.promptTokens,
    completion_tokens: stats.completionTokens,
    total_tokens: stats.promptTokens + stats.completionTokens,
    // No prompt cache, reasoning or audio here: those breakdowns are zero. Prediction counts: see Usage.
    prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
    completion_tokens_details: {
      reasoning_tokens: 0,
      audio_tokens: 0,
      accepted_prediction_tokens: stats.acceptedPredictionTokens ?? 0,
      rejected_prediction_tokens: stats.rejectedPredictionTokens ?? 0,
    },
  };
  const headers = headersAtEnd(run.req.decode.mode, run.req.decode.k, timings, stats.promptTokens, stats.completionTokens);
  return { timings, usage, headers };
}

/** Non-streamed answer: wait for the whole generation, then one JSON body with usage and timings. */
export async function respondJson(run: Run, clientGone: AbortSignal): Promise<Response> {
  const onGone = () => run.gen.cancel();
  clientGone.addEventListener('abort', onGone, { once: true });
  let done: Extract<DecodeEvent, { type: 'done' }> | undefined;
  const logprobs = new LogprobsCollector(run);
  try {
    for await (const ev of run.gen) {
      observe(run, ev);
      logprobs.add(ev);
      if (ev.type === 'done') done = ev;
    }
  } finally {
    clientGone.removeEventListener('abort', onGone);
  }
  // No `done` without an error: the client went away and nobody reads this.
  if (!done) throw new ApiError(499, 'the client closed the request', 'invalid_request_error', null, 'client_closed');
  const { timings, usage, headers } = summary(run, done.stats);
  const finish = finishReason(done.finishReason);
  const base = { id: run.id, created: run.created, model: run.req.model, system_fingerprint: run.fingerprint, usage, timings, x_verdict: verdictBody(run) };
  const body: ChatCompletion | TextCompletion =
    run.req.kind === 'chat'
      ? { ...base, object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: done.text }, finish_reason: finish, logprobs: logprobs.chat() }] }
      : { ...base, object: 'text_completion', choices: [{ index: 0, text: (run.req.echo ? run.req.promptText! : '') + done.text, finish_reason: finish, logprobs: logprobs.text() }] };
  return Response.json(body, { headers });
}

/** The mode (and K) that produced the answer, in the body as in X-Verdict-Mode / X-Verdict-K. */
export function verdictBody(run: Run) {
  const { mode, k } = run.req.decode;
  return { mode, k: mode === 'target' ? 0 : k };
}

/**
 * Turns the engine's per-token numbers into OpenAI's logprobs shapes, event by event: `add` returns what
 * this event contributes (for a stream chunk); `chat()` / `text()` give the whole answer's.
 */
export class LogprobsCollector {
  private readonly tokens: number[] = [];
  private readonly lps: NonNullable<Extract<DecodeEvent, { type: 'step' }>['logprobs']> = [];
  private readonly textParts: TextLogprobs[] = [];
  private readonly completion: TextLogprobsBuilder | null;

  constructor(private readonly run: Run) {
    const { req } = run;
    const tokenizer = run.state.bundle!.tokenizer;
    this.completion = req.logprobs != null && req.kind === 'completion' ? new TextLogprobsBuilder(run.texts, tokenizer, req.echo ? req.promptText!.length : 0) : null;
  }

  get wanted(): boolean {
    return this.run.req.logprobs != null;
  }

  /** The echoed prompt's entries (completions with echo and logprobs), from the prefill event. */
  prompt(ev: Extract<DecodeEvent, { type: 'prefill' }>): TextLogprobs | null {
    if (!this.completion || !ev.promptLogprobs) return null;
    const ids = this.run.req.decode.promptIds;
    const part = new TextLogprobsBuilder(this.run.texts, this.run.state.bundle!.tokenizer).add(ids, ev.promptLogprobs, this.run.req.promptText);
    this.textParts.push(part);
    return part;
  }

  /** What a step adds: chat or text logprobs for its tokens (null when none were asked for). */
  step(ev: Extract<DecodeEvent, { type: 'step' }>): ChatLogprobs | TextLogprobs | null {
    if (!this.wanted || !ev.logprobs) return null;
    this.tokens.push(...ev.tokens);
    this.lps.push(...ev.logprobs);
    if (this.completion) {
      const part = this.completion.add(ev.tokens, ev.logprobs);
      this.textParts.push(part);
      return part;
    }
    return chatLogprobs(this.run.texts, ev.tokens, ev.logprobs);
  }

  add(ev: DecodeEvent): void {
    if (ev.type === 'prefill') this.prompt(ev);
    else if (ev.type === 'step') this.step(ev);
  }

  chat(): ChatLogprobs | null {
    return this.wanted ? chatLogprobs(this.run.texts, this.tokens, this.lps) : null;
  }

  text(): TextLogprobs | null {
    return this.wanted ? concatTextLogprobs(this.textParts) : null;
  }
}
