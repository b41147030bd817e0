import { describe, expect, it } from 'vitest';
import { EVAL_OPENINGS, TRAIN_OPENINGS } from '../src/fidelity/prompts.ts';
import { bootstrap, distinct2, gapInterval, meanInterval, paretoFront, qualityGap, quantile, ratioMean, tokenAgreement } from '../src/fidelity/stats.ts';

describe('fidelity statistics (hand-computed values)', () => {
  it('ratio mean pools tokens: (1 + 9) / (1 + 3)', () => {
    expect(ratioMean([{ sum: 1, count: 1 }, { sum: 9, count: 3 }])).toBe(2.5);
    expect(ratioMean([])).toBeNaN();
  });
  it('quantile interpolates: [1,2,3,4] at 0.5 is 2.5, at 0.25 is 1.75', () => {
    expect(quantile([1, 2, 3, 4], 0.5)).toBe(2.5);
    expect(quantile([1, 2, 3, 4], 0.25)).toBe(1.75);
  });
  it('bootstrap: constant units give a zero-width interval; the interval contains the mean; seeded = reproducible', () => {
    const same = Array.from({ length: 10 }, () => ({ sum: 4, count: 2 }));
    expect(meanInterval(same)).toEqual({ mean: 2, lo: 2, hi: 2 });
    const units = Array.from({ length: 30 }, (_, i) => ({ sum: (i % 7) * 3, count: 3 }));
    const a = meanInterval(units, 500, 3);
    expect(a.lo).toBeLessThanOrEqual(a.mean);
    expect(a.hi).toBeGreaterThanOrEqual(a.mean);
    expect(a.hi - a.lo).toBeGreaterThan(0);
    expect(meanInterval(units, 500, 3)).toEqual(a);
    // units 0..6 repeating: mean of i%7 over 30 prompts = (4*21 + 0+1)/30 ... computed directly
    const direct = units.reduce((s, u) => s + u.sum, 0) / units.reduce((s, u) => s + u.count, 0);
    expect(a.mean).toBeCloseTo(direct, 12);
    expect(bootstrap(1, () => 5)).toEqual({ mean: 5, lo: 5, hi: 5 });
  });
  it('quality gap: (1.9 − 1.8) / (2.0 − 1.8) = 0.5; target itself is 0, the draft 1', () => {
    expect(qualityGap(1.9, 1.8, 2.0)).toBeCloseTo(0.5, 12);
    expect(qualityGap(1.8, 1.8, 2.0)).toBe(0);
    expect(qualityGap(2.0, 1.8, 2.0)).toBe(1);
    const t = [{ sum: 1.8, count: 1 }, { sum: 3.6, count: 2 }];
    const d = [{ sum: 2.0, count: 1 }, { sum: 4.4, count: 2 }];
    expect(gapInterval(t, t, d)).toEqual({ mean: 0, lo: 0, hi: 0 });
  });
  it('distinct-2: [1,2,1,2] has bigrams 12,21,12 → 2/3; pooled over sequences', () => {
    expect(distinct2([[1, 2, 1, 2]])).toBeCloseTo(2 / 3, 12);
    expect(distinct2([[1, 2], [1, 2], [3]])).toBe(0.5);
  });
  it('token agreement is position by position over the longer sequence', () => {
    expect(tokenAgreement([1, 2, 3], [1, 5, 3, 4])).toBe(0.5);
    expect(tokenAgreement([], [])).toBe(1);
  });
  it('Pareto front (max x, min y), sorted by x', () => {
    const pts = [{ x: 1, y: 2 }, { x: 2, y: 2.5 }, { x: 2, y: 3 }, { x: 3, y: 2.4 }, { x: 0.5, y: 1.9 }];
    // (2, 2.5) is beaten by (3, 2.4); (2, 3) too.
    expect(paretoFront(pts)).toEqual([4, 0, 3]);
  });
});

describe('story openings', () => {
  it('≥ 64 evaluation and ≥ 96 training openings, none shared, none repeated', () => {
    expect(EVAL_OPENINGS.length).toBeGreaterThanOrEqual(64);
    expect(TRAIN_OPENINGS.length).toBeGreaterThanOrEqual(96);
    expect(new Set(EVAL_OPENINGS).size).toBe(EVAL_OPENINGS.length);
    expect(new Set(TRAIN_OPENINGS).size).toBe(TRAIN_OPENINGS.length);
    const train = new Set(TRAIN_OPENINGS);
    expect(EVAL_OPENINGS.filter((p) => train.has(p))).toEqual([]);
  });
});
