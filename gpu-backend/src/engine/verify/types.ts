import type { Provenance } from '@verdict/protocol';
import type { Dist } from '../dist.ts';
import type { Rng } from '../sampling.ts';

/** Everything a verification rule may look at for one speculative step. */
export interface VerifyInput {
  /** The draft tokens d1..dK. */
  draftTokens: readonly number[];
  /** K+1 target distributions: target[i] predicts draftTokens[i]; target[K] gives the bonus token. */
  target: readonly Dist[];
  /** K draft distributions: draft[i] is the one draftTokens[i] was drawn from. */
  draft: readonly Dist[];
  /**
   * judge mode: the head's logit w·h_i + b for each draft token (h_i = target hidden state at d_i's
   * position); its score is sigmoid of it, compared with the threshold in logit space.
   */
  judgeLogits?: Float64Array;
  /** Temperature 0: greedy matching instead of rejection sampling. */
  greedy: boolean;
  rng: Rng;
  /** Vocabulary-sized scratch for the rejection residual. */
  residual: Float32Array;
  threshold: number;
  klThreshold: number;
  klConfidence: number;
  /** entropy: lenient only where the target's entropy (nats) is at least this. */
  entropyThreshold: number;
  /** entropy: how many following draft tokens must be the target's argmax. */
  entropyWindow: number;
}

/** How many draft tokens to keep, the token to append after them, and where each came from. */
export interface Verdict {
  accepted: number;
  next: number;
  /** accepted + 1 entries: 'draft' or 'judge' for kept drafts, then 'target' for `next`. */
  provenance: Provenance[];
}

/** A pure acceptance rule (its only state is the request's random generator). */
export type VerifyRule = (input: VerifyInput) => Verdict;
