/**
 * A text proposer: drafts tokens from text (the prompt, the tokens so far, a prediction) without running a
 * model. Pure and synchronous: given the accepted sequence (prompt + completion so far), up to `k` tokens
 * for the target to verify; none when it has nothing to offer (the engine then runs the draft model).
 */
export interface TokenProposer {
  propose(seq: readonly number[], k: number): number[];
}

/** n-gram lengths matched: the longest suffix first, down to the shortest (vLLM's prompt_lookup_max / _min). */
export interface LookupLengths {
  minN: number;
  maxN: number;
}
