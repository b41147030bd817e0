/** Pure statistics of the fidelity benchmark: bootstrap intervals, distinct-2, Pareto front, quality gap. */

import { seededRandom } from '../judge/logistic.ts';

/** One prompt's contribution to a per-token mean: a sum over its tokens and how many tokens. */
export interface Unit {
  sum: number;
  count: number;
}

export interface Interval {
  mean: number;
  lo: number;
  hi: number;
}

/** Σ sum / Σ count. */
export function ratioMean(units: readonly Unit[]): number {
  let s = 0;
  let n = 0;
  for (const u of units) {
    s += u.sum;
    n += u.count;
  }
  return n > 0 ? s / n : Number.NaN;
}

/**
 * Percentile bootstrap over units (prompts): resample the units with replacement `reps` times
 * (seeded), recompute `stat` each time, and take the 2.5 % / 97.5 % quantiles. `stat` receives the
 * resampled unit indices, so paired statistics (the same prompts across configurations) work.
 */
export function bootstrap(n: number, stat: (idx: readonly number[]) => number, reps = 1000, seed = 0): Interval {
  const all = Array.from({ length: n }, (_, i) => i);
  const mean = stat(all);
  if (n < 2) return { mean, lo: mean, hi: mean };
  const rand = seededRandom(seed);
  const values: number[] = [];
  const idx = new Array<number>(n);
  for (let r = 0; r < reps; r++) {
    for (let i = 0; i < n; i++) idx[i] = Math.floor(rand() * n);
    const v = stat(idx);
    if (Number.isFinite(v)) values.push(v);
  }
  values.sort((a, b) => a - b);
  return { mean, lo: quantile(values, 0.025), hi: quantile(values, 0.975) };
}

/** Linear-interpolated quantile of sorted values. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/** Per-token mean of the units, with its bootstrap interval over units. */
export function meanInterval(units: readonly Unit[], reps = 1000, seed = 0): Interval {
  return bootstrap(units.length, (idx) => ratioMean(idx.map((i) => units[i])), reps, seed);
}

/** Quality gap = (NLL of the mode − of target) / (of the draft alone − of target). 0 = target's quality, 1 = the draft's. */
export function qualityGap(mode: number, target: number, draft: number): number {
  const den = draft - target;
  return den === 0 ? Number.NaN : (mode - target) / den;
}

/**
 * The gap with a paired bootstrap interval: the same resampled prompts for the mode, the target and
 * the draft alone (each a per-prompt unit list in the same prompt order).
 */
export function gapInterval(mode: readonly Unit[], target: readonly Unit[], draft: readonly Unit[], reps = 1000, seed = 0): Interval {
  const pick = (u: readonly Unit[], idx: readonly number[]) => ratioMean(idx.map((i) => u[i]));
  return bootstrap(mode.length, (idx) => qualityGap(pick(mode, idx), pick(target, idx), pick(draft, idx)), reps, seed);
}

/** Distinct-2: distinct token bigrams / all bigrams, over a set of sequences (bigrams within each). */
export function distinct2(seqs: readonly (readonly number[])[]): number {
  const seen = new Set<string>();
  let total = 0;
  for (const s of seqs) {
    for (let i = 0; i + 1 < s.length; i++) {
      seen.add(`${s[i]},${s[i + 1]}`);
      total++;
    }
  }
  return total > 0 ? seen.size / total : Number.NaN;
}

/** Share of positions where `a` equals `b` (over the longer length; missing positions disagree). */
export function tokenAgreement(a: readonly number[], b: readonly number[]): number {
  const n = Math.max(a.length, b.length);
  if (n === 0) return 1;
  let same = 0;
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] === b[i]) same++;
  return same / n;
}

/**
 * Pareto front for "more tokens per pass (x, higher better), lower NLL (y, lower better)": the
 * indices of points no other point beats on both (ties on both are kept), sorted by x.
 */
export function paretoFront(points: readonly { x: number; y: number }[]): number[] {
  const front: number[] = [];
  points.forEach((p, i) => {
    const dominated = points.some((q, j) => j !== i && q.x >= p.x && q.y <= p.y && (q.x > p.x || q.y < p.y));
    if (!dominated) front.push(i);
  });
  return front.sort((a, b) => points[a].x - points[b].x);
}
