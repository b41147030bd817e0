import type { DecodeStats, StepStats } from './types.ts';

/** Sums per-step stats into the request's {@link DecodeStats}. */
export class StatsTotals {
  private readonly s: DecodeStats;
  private readonly started = performance.now();

  constructor(promptTokens: number) {
    this.s = {
      promptTokens,
      completionTokens: 0,
      steps: 0,
      drafted: 0,
      accepted: 0,
      judgeAccepted: 0,
      meanAcceptedPerStep: 0,
      prefillMs: 0,
      draftMs: 0,
      verifyMs: 0,
      judgeMs: 0,
      rollbackMs: 0,
      totalMs: 0,
      tokensPerS: 0,
    };
  }

  prefill(ms: number): void {
    this.s.prefillMs = ms;
  }

  step(st: StepStats, emitted: number): void {
    const s = this.s;
    s.steps++;
    s.completionTokens += emitted;
    s.drafted += st.drafted;
    s.accepted += st.accepted;
    s.judgeAccepted += st.judgeAccepted;
    s.draftMs += st.draftMs;
    s.verifyMs += st.verifyMs;
    s.judgeMs += st.judgeMs;
    s.rollbackMs += st.rollbackMs;
  }

  finish(): DecodeStats {
    const s = { ...this.s };
    s.totalMs = performance.now() - this.started;
    s.meanAcceptedPerStep = s.steps > 0 ? s.completionTokens / s.steps : 0;
    const genMs = s.totalMs - s.prefillMs;
    s.tokensPerS = genMs > 0 ? (s.completionTokens / genMs) * 1000 : 0;
    return s;
  }
}

/** The stats of a step that ran nothing (the text a cancelled or context-full request still had to flush). */
export function idleStats(): StepStats {
  return { draftMs: 0, verifyMs: 0, judgeMs: 0, rollbackMs: 0, drafted: 0, accepted: 0, judgeAccepted: 0 };
}
