import { argmax, softmax, warp, type SamplingParams, type WarpScratch } from './sampling.ts';

/** One position's next-token distribution, as the verification rules see it. */
export interface Dist {
  /** The most likely token (greedy decoding). */
  argmax(): number;
  /** The sampling distribution (temperature / top-k / top-p applied); temperature > 0 only. */
  probs(): Float32Array;
  /** The untempered softmax of the logits (for confidence and KL). */
  softmax(): Float32Array;
}

/**
 * A {@link Dist} over one row of a model's logits, computing each view lazily and at most once.
 * Its buffers are allocated on first use and reused for every later row, so a request pays for
 * them once, not per token.
 */
export class DistRow implements Dist {
  private logits: Float32Array = new Float32Array(0);
  private warpBuf: Float32Array | null = null;
  private softBuf: Float32Array | null = null;
  private warped = false;
  private softened = false;
  private best = -1;

  constructor(
    private readonly vocabSize: number,
    private readonly params: SamplingParams,
    private readonly scratch: WarpScratch,
  ) {}

  /** Point at new logits (a view into the model output; not copied). */
  set(logits: Float32Array): this {
    if (logits.length !== this.vocabSize) throw new Error(`logits row has ${logits.length} entries, vocabulary is ${this.vocabSize}`);
    this.logits = logits;
    this.warped = this.softened = false;
    this.best = -1;
    return this;
  }

  /** The logits row this points at (a view into the model output, valid until the next forward). */
  get row(): Float32Array {
    return this.logits;
  }

  argmax(): number {
    if (this.best < 0) this.best = argmax(this.logits);
    return this.best;
  }

  probs(): Float32Array {
    this.warpBuf ??= new Float32Array(this.vocabSize);
    if (!this.warped) warp(this.logits, this.warpBuf, this.params, this.scratch);
    this.warped = true;
    return this.warpBuf;
  }

  softmax(): Float32Array {
    this.softBuf ??= new Float32Array(this.vocabSize);
    if (!this.softened) softmax(this.logits, this.softBuf, 1);
    this.softened = true;
    return this.softBuf;
  }
}
