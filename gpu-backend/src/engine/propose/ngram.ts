import type { LookupLengths, TokenProposer } from './types.ts';

/**
 * Whether the n tokens ending at `seq`'s end occur in `hay` at index `at` (hay[at..at+n) = seq[N-n..N)).
 * Compared from the last token back: that is where unrelated places differ first.
 */
export function suffixMatchesAt(hay: readonly number[], at: number, seq: readonly number[], n: number): boolean {
  const off = seq.length - n;
  for (let j = n - 1; j >= 0; j--) if (hay[at + j] !== seq[off + j]) return false;
  return true;
}

/**
 * Prompt lookup (vLLM's `ngram` method, Saxena's prompt lookup decoding): find the longest suffix of `seq`,
 * of n tokens with maxN ≥ n ≥ minN, that occurred earlier in `seq` itself (the prompt and the tokens so far),
 * and return up to k tokens that followed its most recent earlier occurrence. Empty when no suffix of at
 * least minN tokens recurs. Pure: O(|seq| · (maxN − minN + 1) · n) compares, no state.
 */
export function ngramLookup(seq: readonly number[], k: number, { minN, maxN }: LookupLengths): number[] {
  const N = seq.length;
  if (k <= 0) return [];
  for (let n = Math.min(maxN, N - 1); n >= minN; n--) {
    // an earlier occurrence starts before N - n (the suffix itself) and has at least one token after it
    for (let at = N - n - 1; at >= 0; at--) {
      if (suffixMatchesAt(seq, at, seq, n)) return seq.slice(at + n, Math.min(at + n + k, N));
    }
  }
  return [];
}

/** The `ngram` proposer: {@link ngramLookup} over the prompt and the text so far. Stateless. */
export class NgramProposer implements TokenProposer {
  constructor(private readonly lengths: LookupLengths) {}

  propose(seq: readonly number[], k: number): number[] {
    return ngramLookup(seq, k, this.lengths);
  }
}
