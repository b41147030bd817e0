import { describe, expect, it } from 'vitest';
import { argmax, Rng, sample, softmax, warp, WarpScratch } from '../src/engine/sampling.ts';

describe('Rng', () => {
  it('is reproducible for a seed and differs across seeds, including seeds above 2^32', () => {
    const draw = (seed: number) => Array.from({ length: 5 }, ((r) => () => r.next())(new Rng(seed)));
    expect(draw(7)).toEqual(draw(7));
    expect(draw(7)).not.toEqual(draw(8));
    expect(draw(2 ** 40)).not.toEqual(draw(2 ** 40 + 2 ** 32));
  });
  it('is uniform on [0,1)', () => {
    const r = new Rng(1);
    const bins = new Array(10).fill(0);
    for (let i = 0; i < 20000; i++) {
      const u = r.next();
      expect(u).toBeGreaterThanOrEqual(0);
      expect(u).toBeLessThan(1);
      bins[Math.floor(u * 10)]++;
    }
    for (const b of bins) expect(Math.abs(b - 2000)).toBeLessThan(200);
  });
});

describe('softmax', () => {
  it('is stable for large logits and sums to 1', () => {
    const p = softmax(new Float32Array([1000, 1001, 999]), new Float32Array(3));
    expect(p[1]).toBeCloseTo(Math.E / (1 + Math.E + 1 / Math.E), 5);
    expect(p[0] + p[1] + p[2]).toBeCloseTo(1, 6);
  });
  it('applies temperature', () => {
    const p = softmax(new Float32Array([0, Math.log(2)]), new Float32Array(2), 0.5);
    expect(p[1] / p[0]).toBeCloseTo(4, 4);
  });
  it('gives a valid distribution for a temperature whose inverse overflows (1e-310): all mass on the argmax', () => {
    expect(1 / 1e-310).toBe(Infinity);
    const p = softmax(new Float32Array([0.5, 2, -1, 1.9]), new Float32Array(4), 1e-310);
    expect([...p]).toEqual([0, 1, 0, 0]);
    const rng = new Rng(1);
    for (let i = 0; i < 20; i++) expect(sample(p, rng)).toBe(1);
  });
  it('is a valid distribution for every temperature in (0, 2], down to the smallest denormal', () => {
    const logits = new Float32Array([3, -2, 0.25, 7, 7 - 1e-6]);
    for (const t of [Number.MIN_VALUE, 1e-320, 1e-310, 1e-300, 1e-30, 1e-6, 0.01, 0.5, 1, 2]) {
      const p = softmax(logits, new Float32Array(5), t);
      let sum = 0;
      for (const x of p) {
        expect(Number.isFinite(x)).toBe(true);
        expect(x).toBeGreaterThanOrEqual(0);
        sum += x;
      }
      expect(sum).toBeCloseTo(1, 5);
      expect(p[3]).toBeGreaterThanOrEqual(p[4]);
    }
  });
});

describe('argmax', () => {
  it('breaks ties towards the lowest index', () => {
    expect(argmax(new Float32Array([1, 3, 3, 2]))).toBe(1);
  });
});

describe('warp', () => {
  const logits = new Float32Array([Math.log(0.5), Math.log(0.3), Math.log(0.15), Math.log(0.05)]);
  const scratch = new WarpScratch(4);
  it('top-k keeps the k most likely, renormalised', () => {
    const p = warp(logits, new Float32Array(4), { temperature: 1, topP: 1, topK: 2 }, scratch);
    expect([...p].map((x) => +x.toFixed(4))).toEqual([0.625, 0.375, 0, 0]);
  });
  it('top-p keeps the smallest set reaching the mass', () => {
    const p = warp(logits, new Float32Array(4), { temperature: 1, topP: 0.75, topK: 0 }, scratch);
    expect([...p].map((x) => +x.toFixed(4))).toEqual([0.625, 0.375, 0, 0]);
    const q = warp(logits, new Float32Array(4), { temperature: 1, topP: 0.85, topK: 0 }, scratch);
    expect(q[2]).toBeGreaterThan(0);
    expect(q[3]).toBe(0);
  });
  it('refuses temperature 0 (greedy is argmax, not a distribution)', () => {
    expect(() => warp(logits, new Float32Array(4), { temperature: 0, topP: 1, topK: 0 }, scratch)).toThrow(/temperature/);
  });
});

describe('sample', () => {
  it('draws in proportion to the weights and never a zero-weight index', () => {
    const r = new Rng(3);
    const w = new Float32Array([1, 0, 3]);
    const counts = [0, 0, 0];
    for (let i = 0; i < 8000; i++) counts[sample(w, r)]++;
    expect(counts[1]).toBe(0);
    expect(Math.abs(counts[2] / 8000 - 0.75)).toBeLessThan(0.02);
  });
});
