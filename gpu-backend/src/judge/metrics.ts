/** Binary classification metrics over (score, label) pairs; label 1 = correct token. */

export interface Confusion {
  tp: number;
  fp: number;
  tn: number;
  fn: number;
}

export interface ClassMetrics {
  threshold: number;
  precision: number;
  recall: number;
  f1: number;
  accuracy: number;
  rocAuc: number;
  positives: number;
  negatives: number;
}

export function confusionAt(scores: ArrayLike<number>, labels: ArrayLike<number>, threshold: number): Confusion {
  const c: Confusion = { tp: 0, fp: 0, tn: 0, fn: 0 };
  for (let i = 0; i < scores.length; i++) {
    const predicted = scores[i] >= threshold;
    if (labels[i] === 1) predicted ? c.tp++ : c.fn++;
    else predicted ? c.fp++ : c.tn++;
  }
  return c;
}

/** precision of an empty prediction set is defined as 1 (nothing wrongly accepted). */
const ratio = (a: number, b: number, empty: number): number => (b === 0 ? empty : a / b);

/** ROC-AUC by the rank-sum (Mann–Whitney) formula, ties counted half. NaN with one class only. */
export function rocAuc(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  const idx = Array.from({ length: scores.length }, (_, i) => i).sort((a, b) => scores[a] - scores[b]);
  let pos = 0;
  let rankSum = 0;
  for (let i = 0; i < idx.length; ) {
    let j = i;
    while (j + 1 < idx.length && scores[idx[j + 1]] === scores[idx[i]]) j++;
    const avgRank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) if (labels[idx[k]] === 1) {
      pos++;
      rankSum += avgRank;
    }
    i = j + 1;
  }
  const neg = idx.length - pos;
  if (pos === 0 || neg === 0) return Number.NaN;
  return (rankSum - (pos * (pos + 1)) / 2) / (pos * neg);
}

export function metricsAt(scores: ArrayLike<number>, labels: ArrayLike<number>, threshold: number, auc = rocAuc(scores, labels)): ClassMetrics {
  const c = confusionAt(scores, labels, threshold);
  const precision = ratio(c.tp, c.tp + c.fp, 1);
  const recall = ratio(c.tp, c.tp + c.fn, 0);
  return {
    threshold,
    precision,
    recall,
    f1: precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall),
    accuracy: ratio(c.tp + c.tn, scores.length, 0),
    rocAuc: auc,
    positives: c.tp + c.fn,
    negatives: c.fp + c.tn,
  };
}

export interface PrPoint {
  threshold: number;
  precision: number;
  recall: number;
  /** Correct and wrong tokens accepted at this threshold. */
  tp: number;
  fp: number;
}

/**
 * The precision–recall curve: one point per distinct score, accepting every score >= it.
 * Each point's threshold is the midpoint to the next lower score, so that small float
 * differences at serving time do not flip the decision for the boundary example.
 */
export function prCurve(scores: ArrayLike<number>, labels: ArrayLike<number>): PrPoint[] {
  const idx = Array.from({ length: scores.length }, (_, i) => i).sort((a, b) => scores[b] - scores[a]);
  let totalPos = 0;
  for (let i = 0; i < labels.length; i++) totalPos += labels[i] === 1 ? 1 : 0;
  const points: PrPoint[] = [];
  let tp = 0;
  let fp = 0;
  for (let i = 0; i < idx.length; ) {
    let j = i;
    while (j < idx.length && scores[idx[j]] === scores[idx[i]]) {
      labels[idx[j]] === 1 ? tp++ : fp++;
      j++;
    }
    const next = j < idx.length ? scores[idx[j]] : 0;
    points.push({ threshold: (scores[idx[i]] + next) / 2, precision: tp / (tp + fp), recall: totalPos ? tp / totalPos : 0, tp, fp });
    i = j;
  }
  return points;
}

export type ThresholdGoal = { precision: number } | { recall: number } | 'f1';

export interface ThresholdChoice {
  threshold: number;
  /** False when no threshold reaches the goal; then the closest one is used. */
  goalMet: boolean;
  goal: string;
}

/**
 * One-sided 95 % Wilson lower bound of a precision measured as tp / (tp + fp): a precision of 1.0 on
 * three accepted tokens is weak evidence, and the bound says so (≈ 0.53).
 */
export function precisionLowerBound(tp: number, fp: number, z = 1.645): number {
  const n = tp + fp;
  if (n === 0) return 0;
  const p = tp / n;
  const z2 = z * z;
  return (p + z2 / (2 * n) - z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / (1 + z2 / n);
}

/** A threshold no sigmoid score reaches in practice: the judge accepts nothing, judge mode = exact. */
export const ACCEPT_NOTHING = 1;

/**
 * Precision goal: the lowest threshold whose held-out precision is at least P with 95 % confidence
 * (Wilson lower bound), i.e. the most recall at that precision. When none qualifies the head must
 * not accept anything (threshold 1): a judge that cannot show the precision would only add errors.
 * Recall goal: the highest threshold whose recall reaches it (most precision at that recall).
 * 'f1': the threshold with the best F1.
 */
export function chooseThreshold(curve: PrPoint[], goal: ThresholdGoal): ThresholdChoice {
  if (curve.length === 0) throw new Error('cannot choose a threshold: no held-out examples');
  if (goal === 'f1') {
    const f1 = (p: PrPoint) => (p.precision + p.recall ? (2 * p.precision * p.recall) / (p.precision + p.recall) : 0);
    const best = curve.reduce((a, b) => (f1(b) > f1(a) ? b : a));
    return { threshold: best.threshold, goalMet: true, goal: 'max F1' };
  }
  if ('precision' in goal) {
    const label = `precision >= ${goal.precision} (95 % lower bound)`;
    const ok = curve.filter((p) => precisionLowerBound(p.tp, p.fp) >= goal.precision);
    if (ok.length) return { threshold: ok[ok.length - 1].threshold, goalMet: true, goal: label };
    return { threshold: ACCEPT_NOTHING, goalMet: false, goal: label };
  }
  const ok = curve.filter((p) => p.recall >= goal.recall);
  if (ok.length) return { threshold: ok[0].threshold, goalMet: true, goal: `recall >= ${goal.recall}` };
  return { threshold: curve[curve.length - 1].threshold, goalMet: false, goal: `recall >= ${goal.recall}` };
}
