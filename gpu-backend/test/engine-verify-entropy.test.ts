import { describe, expect, it } from 'vitest';
import { DistRow } from '../src/engine/dist.ts';
import { Rng, WarpScratch } from '../src/engine/sampling.ts';
import { entropy, shannonEntropy } from '../src/engine/verify/entropy.ts';
import { exact } from '../src/engine/verify/exact.ts';
import type { VerifyInput } from '../src/engine/verify/types.ts';

const V = 4;
const scratch = new WarpScratch(V);
const params = { temperature: 1, topP: 1, topK: 0 };
const dist = (p: number[]) => new DistRow(V, params, scratch).set(Float32Array.from(p, (x) => Math.log(x)));

function input(over: Partial<VerifyInput> & Pick<VerifyInput, 'draftTokens' | 'target' | 'draft'>): VerifyInput {
  return { greedy: true, rng: new Rng(0), residual: new Float32Array(V), threshold: 0.5, klThreshold: 0, klConfidence: 0.9, entropyThreshold: 1, entropyWindow: 2, ...over };
}

const flat = [0.3, 0.3, 0.2, 0.2]; // H = 1.366 nats, argmax 0
const sharp = [0.97, 0.01, 0.01, 0.01]; // H = 0.168 nats, argmax 0
const argmaxIs = (t: number) => dist([0, 1, 2, 3].map((j) => (j === t ? 0.85 : 0.05)));
const Q = [dist(flat), dist(flat), dist(flat), dist(flat)];

describe('entropy-gated rule (FLy-style)', () => {
  it('H(p) by hand: uniform over 4 is ln 4; a point mass is 0', () => {
    expect(shannonEntropy(Float32Array.from([0.25, 0.25, 0.25, 0.25]))).toBeCloseTo(Math.log(4), 6);
    expect(shannonEntropy(Float32Array.from([1, 0, 0, 0]))).toBe(0);
    const h = -(2 * 0.3 * Math.log(0.3) + 2 * 0.2 * Math.log(0.2));
    expect(shannonEntropy(Float32Array.from(flat))).toBeCloseTo(h, 5);
  });

  it('accepts a mismatch at a high-entropy position when the next W drafts are the target argmax', () => {
    // d1 = 2 mismatches the flat row (argmax 0); d2 = 1 and d3 = 3 are the target's argmax after it.
    const target = [dist(flat), argmaxIs(1), argmaxIs(3), argmaxIs(2), argmaxIs(0)];
    const v = entropy(input({ draftTokens: [2, 1, 3, 2], target, draft: Q }));
    expect(v).toEqual({ accepted: 4, next: 0, provenance: ['judge', 'draft', 'draft', 'draft', 'target'] });
  });

  it('rejects the same mismatch at a low-entropy position', () => {
    const target = [dist(sharp), argmaxIs(1), argmaxIs(3), argmaxIs(2), argmaxIs(0)];
    expect(entropy(input({ draftTokens: [2, 1, 3, 2], target, draft: Q }))).toEqual({ accepted: 0, next: 0, provenance: ['target'] });
  });

  it('rejects when the window disagrees with the target', () => {
    const target = [dist(flat), argmaxIs(1), argmaxIs(0), argmaxIs(2), argmaxIs(0)];
    expect(entropy(input({ draftTokens: [2, 1, 3, 2], target, draft: Q })).accepted).toBe(0);
  });

  it('rejects without lookahead: the last W positions of a step have no window', () => {
    // The mismatch is at index 2 of 4 drafts: only one draft follows, W = 2 are needed.
    const target = [argmaxIs(1), argmaxIs(1), dist(flat), argmaxIs(2), argmaxIs(0)];
    const v = entropy(input({ draftTokens: [1, 1, 3, 2], target, draft: Q }));
    expect(v).toEqual({ accepted: 2, next: 0, provenance: ['draft', 'draft', 'target'] });
    // With W = 1 the one following draft is enough.
    expect(entropy(input({ draftTokens: [1, 1, 3, 2], target, draft: Q, entropyWindow: 1 })).accepted).toBe(4);
  });

  it('with threshold ∞ it is the exact rule (greedy and sampled)', () => {
    const target = [dist(flat), argmaxIs(1), argmaxIs(3), argmaxIs(2), argmaxIs(0)];
    const inp = { draftTokens: [2, 1, 3, 2], target, draft: Q };
    expect(entropy(input({ ...inp, entropyThreshold: Infinity }))).toEqual(exact(input(inp)));
    for (let seed = 0; seed < 20; seed++) {
      const a = entropy(input({ ...inp, greedy: false, rng: new Rng(seed), entropyThreshold: Infinity }));
      const b = exact(input({ ...inp, greedy: false, rng: new Rng(seed) }));
      expect(a).toEqual(b);
    }
  });
});
