/**
 * How long a forward takes as a function of the tokens in it (rows × positions), fitted live:
 * ms ≈ a + b·tokens by least squares over recent forwards, older ones fading (weight ×`decay`
 * per observation). Prefills land here too, which gives the fit its spread in tokens.
 */
export class ForwardCost {
  private w = 0;
  private sx = 0;
  private sy = 0;
  private sxx = 0;
  private sxy = 0;

  constructor(
    private readonly decay = 0.97,
    /** Slope assumed while the observations have no spread: per token, as a fraction of the mean time (8 tokens ≈ 1.2× one). */
    private readonly priorSlope = 0.03,
  ) {}

  get observed(): boolean {
    return this.w > 0;
  }

  observe(tokens: number, ms: number): void {
    const d = this.decay;
    this.w = this.w * d + 1;
    this.sx = this.sx * d + tokens;
    this.sy = this.sy * d + ms;
    this.sxx = this.sxx * d + tokens * tokens;
    this.sxy = this.sxy * d + tokens * ms;
  }

  /** Predicted milliseconds of a forward over `tokens` (0 before any observation). */
  predict(tokens: number): number {
    if (this.w === 0) return 0;
    const mx = this.sx / this.w;
    const my = this.sy / this.w;
    const varX = this.sxx / this.w - mx * mx;
    // No spread yet: the prior slope, scaled to the mean time.
    let b = varX > 1 ? (this.sxy / this.w - mx * my) / varX : (this.priorSlope * my) / (1 + this.priorSlope * mx);
    b = Math.max(b, 0);
    const a = Math.max(my - b * mx, 0);
    return a + b * tokens;
  }
}

/**
 * A request's acceptance rate per draft token: drafts kept over drafts kept plus rejections (one
 * per step that stopped short of its K), the maximum-likelihood rate of a geometric run, fading
 * with `decay` per step, starting from a prior of `prior` over `priorWeight` drafts.
 */
export class Acceptance {
  private kept: number;
  private rejections: number;

  constructor(
    prior = 0.6,
    priorWeight = 2,
    private readonly decay = 0.9,
  ) {
    this.kept = prior * priorWeight;
    this.rejections = (1 - prior) * priorWeight;
  }

  observe(drafted: number, accepted: number): void {
    if (drafted === 0) return;
    this.kept = this.kept * this.decay + accepted;
    this.rejections = this.rejections * this.decay + (accepted < drafted ? 1 : 0);
  }

  get rate(): number {
    return this.kept / (this.kept + this.rejections);
  }

  /** Expected tokens a step with K drafts commits: 1 + α + … + α^K. */
  expectedTokens(k: number): number {
    const a = Math.min(this.rate, 0.999);
    return (1 - a ** (k + 1)) / (1 - a);
  }
}

export interface KChoice {
  /** Draft length cap for this step (0: no speculation). */
  k: number;
  /** Predicted tokens per millisecond at that cap. */
  rate: number;
  why: 'auto' | 'fixed' | 'disabled' | 'probe';
}

/**
 * This step's draft length cap: the K in 0..max(want) that maximises the expected tokens the batch
 * commits per millisecond, Σ_r E_r(min(K, want_r)) / (K·draft(B_d) + target(B·(K+1))), each row's
 * E from its acceptance. `want[r]`: what row r may draft (its request's k, less near its limits; 0 for
 * target mode); `drafting`: rows in the draft batch.
 */
export function chooseK(want: readonly number[], acceptance: readonly Acceptance[], drafting: number, draft: ForwardCost, target: ForwardCost): KChoice {
  const maxK = Math.max(0, ...want);
  const B = want.length;
  if (maxK === 0 || !draft.observed || !target.observed) return { k: maxK, rate: 0, why: 'auto' };
  let best: KChoice = { k: 0, rate: B / Math.max(target.predict(B), 1e-6), why: 'auto' };
  for (let k = 1; k <= maxK; k++) {
    let tokens = 0;
    for (let r = 0; r < B; r++) tokens += acceptance[r].expectedTokens(Math.min(k, want[r]));
    const widest = Math.max(...want.map((w) => Math.min(k, w)));
    const ms = widest * draft.predict(drafting) + target.predict(B * (widest + 1));
    const rate = tokens / Math.max(ms, 1e-6);
    if (rate > best.rate) best = { k, rate, why: 'auto' };
  }
  return best;
}
