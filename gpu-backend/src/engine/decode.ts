import type { DecodeEvent, DecodeRequest, StepStats } from './types.ts';
import { propose } from './propose.ts';
import { predictionUsage, proposeText, settleText, textProvenance } from './propose/text.ts';
import { RequestState, type DecodeModels } from './request.ts';
import { score, type JudgeSource } from './score.ts';
import { RULES } from './verify/index.ts';

/**
 * THE decode loop. Each step: draft K tokens → ONE target forward over [pending, d1..dK] →
 * verify (the mode's rule) → commit the accepted prefix plus the target's token → roll both
 * caches back to the accepted sequence. `target` mode is the same loop with K = 0.
 * No I/O here: the caller consumes events. Per-request state is released however the loop ends.
 */
export async function* decode(m: DecodeModels, req: DecodeRequest, signal?: AbortSignal): AsyncGenerator<DecodeEvent> {
  const r = new RequestState(m, req);
  const rule = req.mode === 'target' ? null : RULES[req.mode];
  const judge = req.mode === 'judge' ? m.judge : NO_JUDGE; // only judge mode pays for hidden states / head scores
  try {
    const prefill = await r.prefill();
    yield { type: 'prefill', promptTokens: req.promptIds.length, ms: prefill.ms, ...(prefill.promptLogprobs ? { promptLogprobs: prefill.promptLogprobs } : {}) };
    if (req.maxTokens === 0) r.out.end('length'); // scoring the prompt only (echo with max_tokens 0)
    for (let step = 0; !r.out.finished; step++) {
      const k = r.draftLength();
      if (signal?.aborted || k < 0) {
        const rest = r.out.end(k < 0 ? 'length' : 'cancelled');
        if (rest.text) yield { type: 'step', step, ...rest, stats: idle() };
        break;
      }
      // draft K tokens: from the prediction / n-grams when they have some (no forward), else the draft model
      let t = performance.now();
      const textDrafts = proposeText(r, k);
      const drafts = textDrafts ?? (k > 0 ? await propose(m.draft, r.draftCache!, r.draftFeed(), k, r.draftRows, r.greedy, r.rng) : []);
      const draftMs = performance.now() - t;

      // ONE target forward over [pending, d1..dK], then the mode's rule (K = 0: the target's own token)
      t = performance.now();
      const { judgeLogits, judgeMs } = await score(m.target, r.targetCache, r.pending, drafts, r.targetRows, judge);
      const verdict = rule && k > 0 ? rule(r.verifyInput(drafts, judgeLogits)) : r.plainStep();
      const verifyMs = performance.now() - t - judgeMs;

      // keep the accepted prefix + next, roll both caches back to it, emit
      t = performance.now();
      const chunk = r.advance(drafts, verdict);
      const rollbackMs = performance.now() - t;

      const committed = r.out.commit(chunk, textProvenance(r.text, textDrafts !== null, verdict));
      settleText(r.text, textDrafts !== null, Math.min(verdict.accepted, committed.tokens.length));
      const judgeAccepted = verdict.provenance.filter((p) => p === 'judge').length;
      const stats: StepStats = { draftMs, verifyMs, judgeMs, rollbackMs, drafted: drafts.length, accepted: verdict.accepted, judgeAccepted };
      r.totals.step(stats, committed.tokens.length);
      // The committed tokens are a prefix of the chunk, whose token i the target's row i predicted.
      const logprobs = req.logprobs != null ? { logprobs: r.logprobsOf(committed.tokens) } : {};
      yield { type: 'step', step, ...committed, ...logprobs, stats };
    }
    yield { type: 'done', finishReason: r.out.finishReason!, tokens: [...r.out.tokens], text: r.out.text, stats: { ...r.totals.finish(), ...predictionUsage(r.text) } };
  } finally {
    r.release();
  }
}

const NO_JUDGE: JudgeSource = { kind: 'none' };

function idle(): StepStats {
  return { draftMs: 0, verifyMs: 0, judgeMs: 0, rollbackMs: 0, drafted: 0, accepted: 0, judgeAccepted: 0 };
}
