import type { DecodeEvent, DecodeRequest } from './types.ts';
import { idleStats } from './stats.ts';
import { propose } from './propose.ts';
import { proposeText } from './propose/text.ts';
import { RequestState, soloCaches, type DecodeModels } from './request.ts';
import { score, type JudgeSource } from './score.ts';
import { RULES } from './verify/index.ts';

/**
 * THE decode loop. Each step: draft K tokens → ONE target forward over [pending, d1..dK] →
 * verify (the mode's rule) → commit the accepted prefix plus the target's token → roll both
 * caches back to the accepted sequence. `target` mode is the same loop with K = 0.
 * No I/O here: the caller consumes events. Per-request state is released however the loop ends.
 */
export async function* decode(m: DecodeModels, req: DecodeRequest, signal?: AbortSignal): AsyncGenerator<DecodeEvent> {
  const r = new RequestState(m, req, soloCaches(m, req));
  const rule = req.mode === 'target' ? null : RULES[req.mode];
  const judge = req.mode === 'judge' ? m.judge : NO_JUDGE; // only judge mode pays for hidden states / head scores
  try {
    const prefill = await r.prefill(r.targetCache, r.draftCache);
    yield { type: 'prefill', promptTokens: req.promptIds.length, ms: prefill.ms, ...(prefill.promptLogprobs ? { promptLogprobs: prefill.promptLogprobs } : {}) };
    if (req.maxTokens === 0) r.out.end('length'); // scoring the prompt only (echo with max_tokens 0)
    for (let step = 0; !r.out.finished; step++) {
      const k = r.draftLength();
      if (signal?.aborted || k < 0) {
        const rest = r.out.end(k < 0 ? 'length' : 'cancelled');
        if (rest.text) yield { type: 'step', step, ...rest, stats: idleStats() };
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
      yield r.step(step, drafts, verdict, { draftMs, verifyMs, judgeMs }, textDrafts !== null);
    }
    yield r.done();
  } finally {
    r.release();
  }
}

const NO_JUDGE: JudgeSource = { kind: 'none' };
