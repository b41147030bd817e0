/**
 * Sampling primitives over Float32Array logits: a seeded generator, a numerically stable softmax,
 * and the temperature / top-k / top-p warp. Everything writes into caller-owned buffers so the
 * decode hot path allocates nothing vocabulary-sized per token.
 */

export interface SamplingParams {
  /** 0 = greedy (argmax). */
  temperature: number;
  /** 1 = disabled. */
  topP: number;
  /** 0 = disabled. */
  topK: number;
}

/** xoshiro128** seeded through splitmix32: reproducible for any integer seed up to 2^53. */
export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  constructor(seed: number) {
    let x = (seed >>> 0) ^ Math.imul(Math.floor(seed / 2 ** 32) >>> 0, 0x9e3779b9);
    const next = () => {
      x = (x + 0x9e3779b9) | 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next();
  }

  /** Uniform in [0, 1). */
  next(): number {
    const r = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return r / 4294967296;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** Index of the largest value; the lowest index wins ties, so greedy decoding is deterministic. */
export function argmax(x: Float32Array): number {
  let best = 0;
  let bestV = x[0];
  for (let i = 1; i < x.length; i++) {
    if (x[i] > bestV) {
      bestV = x[i];
      best = i;
    }
  }
  return best;
}

/**
 * out = softmax(logits / temperature), stable (max subtracted). Returns out.
 * The difference to the max is divided by the temperature rather than multiplied by its inverse:
 * 1 / T overflows to Infinity below ~5.6e-309, and 0 · Infinity is NaN, whereas 0 / T is 0 for
 * every T > 0. So a tiny temperature puts all mass on the largest logit(s), as the limit should.
 */
export function softmax(logits: Float32Array, out: Float32Array, temperature = 1): Float32Array {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i] > max) max = logits[i];
  let sum = 0;
  for (let i = 0; i < logits.length; i++) {
    const e = Math.exp((logits[i] - max) / temperature);
    out[i] = e;
    sum += e;
  }
  const norm = 1 / sum;
  for (let i = 0; i < logits.length; i++) out[i] *= norm;
  return out;
}

/**
 * Scratch space for {@link warp}, vocabulary-sized, shared by a request's rows. Each buffer is
 * allocated on first use (top-k, top-p), so greedy or plain-temperature sampling never pays for it.
 */
export class WarpScratch {
  private valuesBuf: Float32Array | null = null;
  private orderBuf: Int32Array | null = null;
  constructor(private readonly vocabSize: number) {}

  get values(): Float32Array {
    return (this.valuesBuf ??= new Float32Array(this.vocabSize));
  }

  get order(): Int32Array {
    return (this.orderBuf ??= new Int32Array(this.vocabSize));
  }
}

/**
 * out = the sampling distribution for temperature > 0: softmax(logits / T), then top-k, then top-p
 * (HF order), renormalised; excluded tokens get exactly 0. Ties at the top-k boundary are kept.
 */
export function warp(logits: Float32Array, out: Float32Array, p: SamplingParams, scratch: WarpScratch): Float32Array {
  if (!(p.temperature > 0)) throw new Error(`warp needs temperature > 0, got ${p.temperature}`);
  softmax(logits, out, p.temperature);
  const V = out.length;
  if (p.topK > 0 && p.topK < V) {
    const kth = kthLargest(out, p.topK, scratch.values);
    for (let i = 0; i < V; i++) if (out[i] < kth) out[i] = 0;
    normalise(out);
  }
  if (p.topP < 1) applyTopP(out, p.topP, scratch.order);
  return out;
}

/**
 * Keep the smallest set of most likely tokens whose mass reaches topP. Only tokens with
 * p >= (1 - topP) / V can belong to it (all the others together weigh less than 1 - topP),
 * so only those are sorted: usually a handful, never more than V.
 */
function applyTopP(probs: Float32Array, topP: number, order: Int32Array): void {
  const V = probs.length;
  const floor = (1 - topP) / V;
  let n = 0;
  for (let i = 0; i < V; i++) if (probs[i] >= floor && probs[i] > 0) order[n++] = i;
  const cand = order.subarray(0, n);
  cand.sort((a, b) => probs[b] - probs[a] || a - b);
  let cum = 0;
  let keep = n;
  for (let j = 0; j < n; j++) {
    cum += probs[cand[j]];
    if (cum >= topP) {
      keep = j + 1;
      break;
    }
  }
  // Zero everything, then restore the nucleus (values saved before zeroing).
  const kept: number[] = [];
  for (let j = 0; j < keep; j++) kept.push(probs[cand[j]]);
  probs.fill(0);
  let sum = 0;
  for (let j = 0; j < keep; j++) sum += kept[j];
  for (let j = 0; j < keep; j++) probs[cand[j]] = kept[j] / sum;
}

/** The k-th largest value (1-based) by quickselect on a copy in `scratch`. */
function kthLargest(x: Float32Array, k: number, scratch: Float32Array): number {
  const a = scratch.subarray(0, x.length);
  a.set(x);
  let lo = 0;
  let hi = a.length - 1;
  const target = k - 1; // index in descending order
  while (lo < hi) {
    const pivot = a[(lo + hi) >>> 1];
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i] > pivot) i++;
      while (a[j] < pivot) j--;
      if (i <= j) {
        const t = a[i];
        a[i] = a[j];
        a[j] = t;
        i++;
        j--;
      }
    }
    if (target <= j) hi = j;
    else if (target >= i) lo = i;
    else break;
  }
  return a[target];
}

export function normalise(x: Float32Array): void {
  let sum = 0;
  for (let i = 0; i < x.length; i++) sum += x[i];
  const inv = 1 / sum;
  for (let i = 0; i < x.length; i++) x[i] *= inv;
}

/** Draw an index from an (unnormalised, non-negative) distribution. */
export function sample(weights: Float32Array, rng: Rng): number {
  let sum = 0;
  for (let i = 0; i < weights.length; i++) sum += weights[i];
  let u = rng.next() * sum;
  let last = -1;
  for (let i = 0; i < weights.length; i++) {
    if (weights[i] <= 0) continue;
    last = i;
    u -= weights[i];
    if (u < 0) return i;
  }
  if (last < 0) throw new Error('cannot sample from a distribution with no mass');
  return last; // rounding left u a hair above 0
}
