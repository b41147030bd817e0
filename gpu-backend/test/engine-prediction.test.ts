import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, greedyRequest } from '../src/engine/engine.ts';
import { EngineError } from '../src/engine/errors.ts';
import { ONE_THREAD, openTinyEngines, run, zeroHead, type TinyEngines } from './engine-fixture.ts';

/**
 * Predicted Outputs and prompt lookup in the engine. The reference for `exact` is always the same request
 * decoded without a prediction (mode `target`): a prediction may change the speed, never the answer.
 */
let fx: TinyEngines;
beforeAll(async () => {
  fx = await openTinyEngines();
});
afterAll(() => fx?.dispose());

const MAX = 40;

/** The predictions tried against a reference answer: right, partly right (edits), unrelated, empty. */
function predictionsFor(ref: number[], V: number, other: number[]): Record<string, number[]> {
  const alter = (i: number) => (ref[i] + 1) % V;
  const substituted = ref.map((t, i) => (i % 11 === 5 ? alter(i) : t));
  const inserted = [...ref.slice(0, 8), 3, 4, 5, ...ref.slice(8)];
  const deleted = [...ref.slice(0, 6), ...ref.slice(10)];
  return { right: ref, substituted, inserted, deleted, prefix: ref.slice(0, 12), unrelated: other, empty: [] };
}

describe('exact with a prediction equals the answer without one (T = 0), token for token', () => {
  for (const k of [1, 4, 8]) {
    it(`K=${k}: right, partly right, unrelated and empty predictions, derived and bad draft`, async () => {
      const V = fx.good.manifest.target.vocab_size;
      for (const [pi, prompt] of fx.prompts.entries()) {
        const ref = await run(fx.engine, prompt, { mode: 'target', maxTokens: MAX });
        const other = (await run(fx.engine, fx.prompts[(pi + 1) % fx.prompts.length], { mode: 'target', maxTokens: MAX })).tokens;
        for (const [name, predictionIds] of Object.entries(predictionsFor(ref.tokens, V, other))) {
          for (const e of [fx.engine, fx.badEngine]) {
            const r = await run(e, prompt, { mode: 'exact', k, maxTokens: MAX, predictionIds });
            expect(r.tokens, `${name}, prompt ${pi}`).toEqual(ref.tokens);
            expect(r.steps.flatMap((s) => s.tokens)).toEqual(r.tokens);
            const kept = r.steps.flatMap((s) => s.provenance).filter((p) => p === 'prediction').length;
            expect(r.done.stats.acceptedPredictionTokens, name).toBe(kept);
            expect(r.done.stats.rejectedPredictionTokens).toBeLessThanOrEqual(predictionIds.length);
            if (name === 'right') expect(r.done.stats.rejectedPredictionTokens).toBe(0);
          }
        }
      }
    });
  }

  it('a right prediction runs at (K+1) tokens per target pass with no draft token, nothing rejected', async () => {
    for (const k of [2, 4]) {
      const ref = await run(fx.engine, fx.prompts[1], { mode: 'target', maxTokens: MAX });
      const r = await run(fx.badEngine, fx.prompts[1], { mode: 'exact', k, maxTokens: MAX, predictionIds: ref.tokens });
      expect(r.tokens).toEqual(ref.tokens);
      const provenance = r.steps.flatMap((s) => s.provenance);
      expect(provenance).not.toContain('draft'); // the draft model proposed nothing (the bad draft would have been rejected)
      // every step but the last ones (K lowered at the token budget) keeps K prediction tokens + the target's
      expect(r.done.stats.steps).toBe(Math.ceil(ref.tokens.length / (k + 1)));
      expect(r.done.stats.rejectedPredictionTokens).toBe(0);
      expect(r.done.stats.acceptedPredictionTokens).toBe(ref.tokens.length - r.done.stats.steps);
    }
  });

  it('a partly right prediction: the prediction is kept where it is right, the target corrects it, realignment goes on', async () => {
    const ref = await run(fx.engine, fx.prompts[0], { mode: 'target', maxTokens: MAX });
    const V = fx.good.manifest.target.vocab_size;
    const r = await run(fx.badEngine, fx.prompts[0], { mode: 'exact', k: 4, maxTokens: MAX, predictionIds: predictionsFor(ref.tokens, V, []).substituted });
    expect(r.tokens).toEqual(ref.tokens);
    const s = r.done.stats;
    expect(s.rejectedPredictionTokens).toBeGreaterThan(0);
    expect(s.acceptedPredictionTokens).toBeGreaterThan(ref.tokens.length / 2); // realigned after each altered token
    expect(s.meanAcceptedPerStep).toBeGreaterThan(2.5);
  });

  it('ngram proposer equals target too (prompt lookup, falling back to the draft model)', async () => {
    for (const prompt of fx.prompts) {
      const ref = await run(fx.engine, prompt, { mode: 'target', maxTokens: MAX });
      for (const e of [fx.engine, fx.badEngine]) {
        for (const over of [{}, { promptLookupMin: 1, promptLookupMax: 1 }, { promptLookupMin: 3, promptLookupMax: 8 }]) {
          const r = await run(e, prompt, { mode: 'exact', k: 4, maxTokens: MAX, proposer: 'ngram', ...over });
          expect(r.tokens).toEqual(ref.tokens);
          expect(r.steps.flatMap((st) => st.provenance)).not.toContain('prediction');
          expect(r.done.stats.acceptedPredictionTokens).toBe(0);
        }
      }
    }
  });
});

describe('exact with a prediction at T > 0', () => {
  it('is reproducible per seed and stays exact speculative sampling (same tokens as no prediction is not required)', async () => {
    const prompt = fx.prompts[1];
    const greedy = (await run(fx.engine, prompt, { mode: 'target', maxTokens: 24 })).tokens;
    const a = await run(fx.engine, prompt, { mode: 'exact', k: 4, maxTokens: 24, temperature: 0.7, seed: 3, predictionIds: greedy });
    const b = await run(fx.engine, prompt, { mode: 'exact', k: 4, maxTokens: 24, temperature: 0.7, seed: 3, predictionIds: greedy });
    expect(b.tokens).toEqual(a.tokens);
    const provenance = a.steps.flatMap((s) => s.provenance);
    expect(provenance).toContain('prediction');
  });
});

describe('judge with a prediction', () => {
  it('a head that accepts everything keeps every prediction token; one that accepts nothing equals exact', async () => {
    const hidden = fx.good.manifest.target.hidden_size;
    const all = await createEngine(fx.good, { ...ONE_THREAD, judge: zeroHead(hidden, 10) });
    const none = await createEngine(fx.good, { ...ONE_THREAD, judge: zeroHead(hidden, -10) });
    try {
      const ref = await run(fx.engine, fx.prompts[2], { mode: 'target', maxTokens: MAX });
      const V = fx.good.manifest.target.vocab_size;
      const pred = predictionsFor(ref.tokens, V, []).substituted;
      const kept = await run(all, fx.prompts[2], { mode: 'judge', k: 4, maxTokens: MAX, predictionIds: pred });
      // every step keeps all K proposed prediction tokens: the output starts with the prediction itself
      expect(kept.tokens.slice(0, 4)).toEqual(pred.slice(0, 4));
      expect(kept.done.stats.rejectedPredictionTokens).toBe(0);
      const strict = await run(none, fx.prompts[2], { mode: 'judge', k: 4, maxTokens: MAX, predictionIds: pred });
      expect(strict.tokens).toEqual(ref.tokens);
    } finally {
      await all.dispose();
      await none.dispose();
    }
  });
});

describe('validation names the field', () => {
  it.each([
    [{ proposer: 'eagle' as never }, /unknown proposer "eagle"/],
    [{ proposer: 'prediction' as const }, /proposer 'prediction' needs predictionIds/],
    [{ predictionIds: [1, -1] }, /prediction token id -1 is outside the vocabulary/],
    [{ predictionIds: [1e9] }, /prediction token id 1000000000 is outside/],
    [{ proposer: 'ngram' as const, promptLookupMax: 0 }, /prompt_lookup_max must be an integer in \[1, 16\]/],
    [{ proposer: 'ngram' as const, promptLookupMin: 4, promptLookupMax: 2 }, /prompt_lookup_min \(4\) must not exceed prompt_lookup_max \(2\)/],
  ])('%j', (over, message) => {
    expect(() => fx.engine.decode(greedyRequest(fx.prompts[0], over))).toThrow(EngineError);
    expect(() => fx.engine.decode(greedyRequest(fx.prompts[0], over))).toThrow(message);
  });
});
