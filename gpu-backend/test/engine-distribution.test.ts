import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LoadedBundle } from '../src/bundle/types.ts';
import { createEngine, type Engine } from '../src/engine/engine.ts';
import type { DecodeRequest } from '../src/engine/types.ts';
import { softmax } from '../src/engine/sampling.ts';
import { DecoderSession } from '../src/engine/session.ts';
import { ONE_THREAD, run, tinyBundles } from './engine-fixture.ts';

/**
 * Speculative sampling must not change what is sampled: at temperature > 0 the tokens `exact`
 * emits are distributed as the target's own samples, with the draft model or with a prediction as the
 * proposer. Seeds are fixed, so the test is deterministic.
 */
let good: LoadedBundle;
let badDraft: LoadedBundle;
let cleanup: () => Promise<void>;
let engines: Engine[] = [];

beforeAll(async () => {
  ({ good, badDraft, cleanup } = await tinyBundles());
  engines = [await createEngine(good, ONE_THREAD), await createEngine(badDraft, ONE_THREAD)];
});
afterAll(async () => {
  for (const e of engines) await e.dispose();
  await cleanup?.();
});

const N = 600;
const T = 1;

/** The test prompt and the target's own distribution of the first generated token at temperature T. */
async function targetFirstToken(): Promise<{ prompt: number[]; p1: Float32Array }> {
  const prompt = good.encodePrompt('the quick brown fox');
  const session = await DecoderSession.load(good.targetPath, good.manifest.target, good.manifest.max_context, ONE_THREAD);
  const { logits } = await session.forward(session.newCache(), prompt);
  const V = good.manifest.target.vocab_size;
  const p1 = softmax(logits.subarray(logits.length - V), new Float32Array(V), T);
  await session.dispose();
  return { prompt, p1 };
}

/** Upper-tail z of a chi-square statistic (Wilson–Hilferty); z > 3.7 is p < 1e-4. */
function chiSquareZ(chi2: number, df: number): number {
  const c = 2 / (9 * df);
  return (Math.cbrt(chi2 / df) - (1 - c)) / Math.sqrt(c);
}

/** Goodness of fit of counts to probabilities, pooling bins expected below 5. */
function goodnessOfFit(counts: Map<number, number>, p: Float32Array, n: number): { chi2: number; df: number } {
  let chi2 = 0;
  let bins = 0;
  let poolE = 0;
  let poolO = 0;
  for (let t = 0; t < p.length; t++) {
    const e = n * p[t];
    const o = counts.get(t) ?? 0;
    if (e < 5) {
      poolE += e;
      poolO += o;
    } else {
      chi2 += (o - e) ** 2 / e;
      bins++;
    }
  }
  if (poolE > 0) {
    chi2 += (poolO - poolE) ** 2 / poolE;
    bins++;
  }
  return { chi2, df: bins - 1 };
}

/** Two-sample chi-square (equal sizes), pooling categories seen fewer than 10 times in total. */
function twoSample(a: Map<number, number>, b: Map<number, number>): { chi2: number; df: number } {
  const keys = new Set([...a.keys(), ...b.keys()]);
  let chi2 = 0;
  let bins = 0;
  let pa = 0;
  let pb = 0;
  for (const k of keys) {
    const x = a.get(k) ?? 0;
    const y = b.get(k) ?? 0;
    if (x + y < 10) {
      pa += x;
      pb += y;
    } else {
      chi2 += (x - y) ** 2 / (x + y);
      bins++;
    }
  }
  if (pa + pb > 0) {
    chi2 += (pa - pb) ** 2 / (pa + pb);
    bins++;
  }
  return { chi2, df: bins - 1 };
}

function tally(xs: number[]): Map<number, number> {
  const m = new Map<number, number>();
  for (const x of xs) m.set(x, (m.get(x) ?? 0) + 1);
  return m;
}

describe('exact at temperature > 0 keeps the target distribution', () => {
  it('first token: goodness of fit to the target softmax; second token: same as target sampling', async () => {
    const { prompt, p1 } = await targetFirstToken();

    const sampleRuns = async (engine: Engine, mode: 'target' | 'exact', seed0: number, over: Partial<DecodeRequest> = {}) => {
      const first: number[] = [];
      const second: number[] = [];
      for (let s = 0; s < N; s++) {
        const r = await run(engine, prompt, { mode, k: 4, maxTokens: 3, temperature: T, seed: seed0 + s, ...over });
        first.push(r.tokens[0]);
        second.push(r.tokens[1]);
      }
      return { first: tally(first), second: tally(second) };
    };
    const ref = await sampleRuns(engines[0], 'target', 0);
    // a prediction (the greedy answer: often right, sometimes not) is a one-hot draft, verified by the same rule
    const greedy = (await run(engines[0], prompt, { mode: 'target', maxTokens: 3 })).tokens;
    const arms: [Engine, Partial<DecodeRequest>][] = [[engines[0], {}], [engines[1], {}], [engines[1], { predictionIds: greedy }]];
    for (const [engine, over] of arms) {
      const spec = await sampleRuns(engine, 'exact', 100_000, over);
      const fit = goodnessOfFit(spec.first, p1, N);
      expect(fit.df).toBeGreaterThan(2); // the test has bins to compare
      expect(chiSquareZ(fit.chi2, fit.df)).toBeLessThan(3.7);
      const two = twoSample(ref.second, spec.second);
      expect(two.df).toBeGreaterThan(2);
      expect(chiSquareZ(two.chi2, two.df)).toBeLessThan(3.7);
    }
    // the reference itself fits (guards the statistics above)
    const refFit = goodnessOfFit(ref.first, p1, N);
    expect(chiSquareZ(refFit.chi2, refFit.df)).toBeLessThan(3.7);
  });

  it('a broken rule would fail it: accepting every draft token does not fit', async () => {
    // sampling from the bad draft alone (as an accept-everything rule would) is far from p1
    const { prompt, p1 } = await targetFirstToken();
    const draftOnly = await createEngine({ ...badDraft, targetPath: badDraft.draftPath, manifest: { ...badDraft.manifest, target: badDraft.manifest.draft } }, ONE_THREAD);
    const first: number[] = [];
    for (let s = 0; s < 300; s++) first.push((await run(draftOnly, prompt, { mode: 'target', maxTokens: 1, temperature: T, seed: s })).tokens[0]);
    await draftOnly.dispose();
    const fit = goodnessOfFit(tally(first), p1, 300);
    expect(chiSquareZ(fit.chi2, fit.df)).toBeGreaterThan(3.7);
  });
});
