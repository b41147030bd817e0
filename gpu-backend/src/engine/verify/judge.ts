import { acceptPrefix } from './exact.ts';
import type { VerifyRule } from './types.ts';

/**
 * Judge decoding (Bachmann et al., ICLR 2025): keep d_i when the exact rule accepts it OR the
 * judge head's score on the target hidden state at d_i's position reaches the threshold.
 */
export const judge: VerifyRule = (input) => {
  const scores = input.judgeScores;
  if (!scores || scores.length < input.draftTokens.length) {
    throw new Error(`judge rule needs ${input.draftTokens.length} judge scores, got ${scores?.length ?? 'none'}`);
  }
  return acceptPrefix(input, (i) => scores[i] >= input.threshold);
};
