import { describe, expect, it } from 'vitest';
import { DistRow } from '../src/engine/dist.ts';
import { Rng, sample, WarpScratch } from '../src/engine/sampling.ts';
import { exact } from '../src/engine/verify/exact.ts';
import { judge, judgeAccepts } from '../src/engine/verify/judge.ts';
import { kl, klDivergence } from '../src/engine/verify/kl.ts';
import type { VerifyInput } from '../src/engine/verify/types.ts';

const V = 4;
const scratch = new WarpScratch(V);
const params = { temperature: 1, topP: 1, topK: 0 };
const dist = (p: number[]) => new DistRow(V, params, scratch).set(Float32Array.from(p, (x) => Math.log(x)));

function input(over: Partial<VerifyInput> & Pick<VerifyInput, 'draftTokens' | 'target' | 'draft'>): VerifyInput {
  return { greedy: true, rng: new Rng(0), residual: new Float32Array(V), threshold: 0.5, klThreshold: 0.1, klConfidence: 0.9, entropyThreshold: 1, entropyWindow: 2, ...over } as VerifyInput;
}

// target rows: argmax 1, 2, 3, bonus argmax 0
const T = [dist([0.1, 0.6, 0.2, 0.1]), dist([0.1, 0.2, 0.6, 0.1]), dist([0.1, 0.2, 0.1, 0.6]), dist([0.7, 0.1, 0.1, 0.1])];
const Q = [dist([0.1, 0.6, 0.2, 0.1]), dist([0.15, 0.2, 0.55, 0.1]), dist([0.6, 0.2, 0.1, 0.1])];

describe('exact (greedy)', () => {
  it('keeps the matching prefix and appends the target argmax at the first mismatch', () => {
    const v = exact(input({ draftTokens: [1, 2, 0], target: T, draft: Q }));
    expect(v).toEqual({ accepted: 2, next: 3, provenance: ['draft', 'draft', 'target'] });
  });
  it('takes the bonus token when every draft passes', () => {
    const v = exact(input({ draftTokens: [1, 2, 3], target: T, draft: Q }));
    expect(v).toEqual({ accepted: 3, next: 0, provenance: ['draft', 'draft', 'draft', 'target'] });
  });
  it('rejects at position 0', () => {
    expect(exact(input({ draftTokens: [0, 2, 3], target: T, draft: Q }))).toEqual({ accepted: 0, next: 1, provenance: ['target'] });
  });
});

describe('exact (sampling)', () => {
  it('the first emitted token is distributed as the target (rejection sampling with residual)', () => {
    const p = [0.5, 0.1, 0.3, 0.1];
    const q = [0.1, 0.6, 0.1, 0.2];
    const target = [dist(p), dist([0.25, 0.25, 0.25, 0.25])];
    const draft = [dist(q)];
    const rng = new Rng(11);
    const n = 40000;
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < n; i++) {
      const d = sample(draft[0].probs(), rng);
      const v = exact(input({ greedy: false, rng, draftTokens: [d], target, draft }));
      counts[v.accepted === 1 ? d : v.next]++;
    }
    // chi-square, 3 degrees of freedom: 16.27 is the 0.1% critical value
    const chi2 = counts.reduce((s, c, j) => s + (c - n * p[j]) ** 2 / (n * p[j]), 0);
    expect(chi2).toBeLessThan(16.27);
  });
});

describe('judge', () => {
  const drafts = [1, 0, 0];
  it('keeps tokens the exact rule rejects when the score reaches the threshold, marking them judge', () => {
    const v = judge(input({ draftTokens: drafts, target: T, draft: Q, judgeLogits: Float64Array.from([0.1, 0.9, 0.2], (p) => Math.log(p / (1 - p))) }));
    expect(v).toEqual({ accepted: 2, next: 3, provenance: ['draft', 'judge', 'target'] });
  });
  it('with scores below the threshold it is the exact rule', () => {
    const inp = { draftTokens: drafts, target: T, draft: Q };
    expect(judge(input({ ...inp, judgeLogits: new Float64Array(3).fill(-5) }))).toEqual(exact(input(inp)));
  });
  it('threshold 1 accepts nothing even when the head is sure (logit 30, whose float32 sigmoid is exactly 1); threshold 0 accepts everything', () => {
    const inp = { draftTokens: [0], target: T, draft: Q, judgeLogits: Float64Array.from([30]) };
    expect(judge(input({ ...inp, threshold: 1 }))).toEqual({ accepted: 0, next: 1, provenance: ['target'] });
    expect(judge(input({ ...inp, threshold: 0.999 }))).toEqual({ accepted: 1, next: 2, provenance: ['judge', 'target'] });
    expect(judge(input({ ...inp, judgeLogits: Float64Array.from([-30]), threshold: 0 }))).toEqual({ accepted: 1, next: 2, provenance: ['judge', 'target'] });
    expect(judgeAccepts(Infinity, 1)).toBe(false);
    expect(judgeAccepts(0, 0.5)).toBe(true);
    expect(judgeAccepts(-1e-9, 0.5)).toBe(false);
  });
  it('says so when scores are missing', () => {
    expect(() => judge(input({ draftTokens: drafts, target: T, draft: Q }))).toThrow(/judge scores/);
  });
});

describe('kl', () => {
  it('KL(p||q) is 0 for equal distributions and positive otherwise', () => {
    const p = Float32Array.from([0.5, 0.5]);
    expect(klDivergence(p, p)).toBe(0);
    expect(klDivergence(p, Float32Array.from([0.9, 0.1]))).toBeCloseTo(0.5 * Math.log(0.5 / 0.9) + 0.5 * Math.log(0.5 / 0.1), 6);
  });
  it('accepts a close draft where the target is unsure; defers to exact where it is confident', () => {
    const unsure = [dist([0.3, 0.35, 0.2, 0.15]), dist([0.25, 0.25, 0.25, 0.25])];
    const close = [dist([0.36, 0.3, 0.2, 0.14])];
    const v = kl(input({ draftTokens: [0], target: unsure, draft: close, klThreshold: 0.1 }));
    expect(v.provenance).toEqual(['judge', 'target']);
    const confident = [dist([0.05, 0.92, 0.02, 0.01]), dist([0.25, 0.25, 0.25, 0.25])];
    const same = [dist([0.06, 0.91, 0.02, 0.01])];
    const w = kl(input({ draftTokens: [0], target: confident, draft: same, klThreshold: 10 }));
    expect(w).toEqual({ accepted: 0, next: 1, provenance: ['target'] });
  });
  it('with threshold 0 it is the exact rule', () => {
    const inp = { draftTokens: [1, 0, 0], target: T, draft: Q };
    expect(kl(input({ ...inp, klThreshold: 0 }))).toEqual(exact(input(inp)));
  });
});
