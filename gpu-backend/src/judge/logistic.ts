/**
 * Logistic regression pieces in plain TypeScript on Float32Arrays: feature statistics,
 * Adam steps on class-weighted, L2-regularised log loss, and folding the standardisation
 * into raw-feature weights.
 */

export interface Standardiser {
  mean: Float64Array;
  /** Standard deviation, floored so that constant features get weight ~0 instead of NaN. */
  std: Float64Array;
}

/** Streaming mean/variance (sums in float64). */
export class FeatureStats {
  private sum: Float64Array;
  private sumSq: Float64Array;
  count = 0;
  positives = 0;

  constructor(readonly dim: number) {
    this.sum = new Float64Array(dim);
    this.sumSq = new Float64Array(dim);
  }

  add(features: Float32Array, offset: number, label: number): void {
    for (let j = 0; j < this.dim; j++) {
      const v = features[offset + j];
      this.sum[j] += v;
      this.sumSq[j] += v * v;
    }
    this.count++;
    this.positives += label;
  }

  standardiser(): Standardiser {
    const mean = new Float64Array(this.dim);
    const std = new Float64Array(this.dim);
    for (let j = 0; j < this.dim; j++) {
      mean[j] = this.sum[j] / this.count;
      const variance = Math.max(0, this.sumSq[j] / this.count - mean[j] * mean[j]);
      std[j] = Math.max(Math.sqrt(variance), 1e-6);
    }
    return { mean, std };
  }
}

export const sigmoid = (z: number): number => (z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z)));

/** -log p(label | z) computed stably. */
export function logLoss(z: number, label: number): number {
  // softplus(z) - label*z
  const softplus = z > 0 ? z + Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z));
  return softplus - label * z;
}

export interface AdamOptions {
  lr: number;
  l2: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
}

/** A linear model on standardised features, trained by Adam. */
export class LogisticModel {
  readonly w: Float64Array;
  b = 0;
  private mW: Float64Array;
  private vW: Float64Array;
  private mB = 0;
  private vB = 0;
  private t = 0;
  private grad: Float64Array;
  private z: Float64Array;

  constructor(
    readonly dim: number,
    private readonly std: Standardiser,
  ) {
    this.w = new Float64Array(dim);
    this.mW = new Float64Array(dim);
    this.vW = new Float64Array(dim);
    this.grad = new Float64Array(dim);
    this.z = new Float64Array(dim);
  }

  /** Logit of raw row `r` of `features`. */
  logit(features: Float32Array, row: number): number {
    const { mean, std } = this.std;
    const o = row * this.dim;
    let s = this.b;
    for (let j = 0; j < this.dim; j++) s += this.w[j] * ((features[o + j] - mean[j]) / std[j]);
    return s;
  }

  /**
   * One Adam step on the rows `rows` of `features` with per-class weights.
   * Loss = Σ weight·logloss / Σ weight + l2/2·|w|².
   */
  step(features: Float32Array, labels: Uint8Array, rows: ArrayLike<number>, classWeight: [number, number], opt: AdamOptions): void {
    const { mean, std } = this.std;
    const g = this.grad.fill(0);
    let gB = 0;
    let totalWeight = 0;
    for (let k = 0; k < rows.length; k++) {
      const r = rows[k];
      const o = r * this.dim;
      let s = this.b;
      for (let j = 0; j < this.dim; j++) {
        const x = (features[o + j] - mean[j]) / std[j];
        this.z[j] = x;
        s += this.w[j] * x;
      }
      const y = labels[r];
      const cw = classWeight[y];
      const d = cw * (sigmoid(s) - y);
      for (let j = 0; j < this.dim; j++) g[j] += d * this.z[j];
      gB += d;
      totalWeight += cw;
    }
    if (totalWeight === 0) return;
    const { lr, l2, beta1 = 0.9, beta2 = 0.999, eps = 1e-8 } = opt;
    this.t++;
    const c1 = 1 - beta1 ** this.t;
    const c2 = 1 - beta2 ** this.t;
    for (let j = 0; j < this.dim; j++) {
      const gj = g[j] / totalWeight + l2 * this.w[j];
      this.mW[j] = beta1 * this.mW[j] + (1 - beta1) * gj;
      this.vW[j] = beta2 * this.vW[j] + (1 - beta2) * gj * gj;
      this.w[j] -= (lr * (this.mW[j] / c1)) / (Math.sqrt(this.vW[j] / c2) + eps);
    }
    const gb = gB / totalWeight;
    this.mB = beta1 * this.mB + (1 - beta1) * gb;
    this.vB = beta2 * this.vB + (1 - beta2) * gb * gb;
    this.b -= (lr * (this.mB / c1)) / (Math.sqrt(this.vB / c2) + eps);
  }

  snapshot(): { w: Float64Array; b: number } {
    return { w: Float64Array.from(this.w), b: this.b };
  }

  restore(s: { w: Float64Array; b: number }): void {
    this.w.set(s.w);
    this.b = s.b;
  }

  /** Weights and bias on raw (unstandardised) features: w'ⱼ = wⱼ/σⱼ, b' = b − Σ wⱼμⱼ/σⱼ. */
  folded(): { weights: number[]; bias: number } {
    const { mean, std } = this.std;
    const weights: number[] = new Array(this.dim);
    let bias = this.b;
    for (let j = 0; j < this.dim; j++) {
      weights[j] = this.w[j] / std[j];
      bias -= weights[j] * mean[j];
    }
    return { weights, bias };
  }
}

/** Deterministic held-out membership of a data record (a hash, so no index list is kept). */
export function isHeldOut(record: number, seed: number, fraction: number): boolean {
  let h = (record ^ Math.imul(seed, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  h = (h ^ (h >>> 16)) >>> 0;
  return h / 4294967296 < fraction;
}

/** mulberry32: a small seeded generator for shuffling mini-batches. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
