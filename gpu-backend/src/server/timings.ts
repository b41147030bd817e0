import { formatServerTiming, HEADERS, round, type Timings } from '@verdict/protocol';
import type { DecodeStats, Mode } from '../engine/types.ts';

/**
 * The response's `timings`: queue wait from the scheduler, engine stages from the engine's
 * own measurements, and `total_ms` = wall time from request arrival to the end of generation.
 */
export function buildTimings(queueMs: number, totalMs: number, s: DecodeStats): Timings {
  return {
    queue_ms: round(queueMs),
    prefill_ms: round(s.prefillMs),
    draft_ms: round(s.draftMs),
    verify_ms: round(s.verifyMs),
    judge_ms: round(s.judgeMs),
    total_ms: round(totalMs),
    steps: s.steps,
    drafted: s.drafted,
    accepted: s.accepted,
    judge_accepted: s.judgeAccepted,
    mean_accepted_per_step: round(s.meanAcceptedPerStep),
    tokens_per_s: round(s.tokensPerS),
  };
}

/** Headers known when the first byte goes out: the resolved mode and the queue and prefill times. */
export function headersAtFirstByte(mode: Mode, k: number, promptTokens: number, queueMs: number, prefillMs: number): Record<string, string> {
  return {
    [HEADERS.serverTiming]: formatServerTiming([
      { name: 'queue', dur: queueMs },
      { name: 'prefill', dur: prefillMs },
    ]),
    [HEADERS.mode]: mode,
    [HEADERS.k]: String(mode === 'target' ? 0 : k),
    [HEADERS.promptTokens]: String(promptTokens),
  };
}

/** Every header of a complete (non-streamed) answer. */
export function headersAtEnd(mode: Mode, k: number, t: Timings, promptTokens: number, completionTokens: number): Record<string, string> {
  return {
    ...headersAtFirstByte(mode, k, promptTokens, t.queue_ms, t.prefill_ms),
    [HEADERS.serverTiming]: formatServerTiming([
      { name: 'queue', dur: t.queue_ms },
      { name: 'prefill', dur: t.prefill_ms },
      { name: 'draft', dur: t.draft_ms },
      { name: 'verify', dur: t.verify_ms },
      { name: 'judge', dur: t.judge_ms },
      { name: 'total', dur: t.total_ms },
    ]),
    [HEADERS.completionTokens]: String(completionTokens),
    [HEADERS.steps]: String(t.steps),
    [HEADERS.drafted]: String(t.drafted),
    [HEADERS.accepted]: String(t.accepted),
    [HEADERS.judgeAccepted]: String(t.judge_accepted),
    [HEADERS.acceptedPerStep]: String(t.mean_accepted_per_step),
    [HEADERS.tokensPerS]: String(t.tokens_per_s),
  };
}
