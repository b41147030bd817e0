import { acceptPrefix } from './exact.ts';
import type { VerifyRule } from './types.ts';

/**
 * Whether a head logit z passes threshold t, i.e. sigmoid(z) >= t, decided in logit space:
 * z >= logit(t). A float32 (or even float64) sigmoid rounds to exactly 1 above z ≈ 17.4 (≈ 36.7),
 * so comparing probabilities would let t = 1 accept confident tokens. Here t = 1 accepts nothing
 * (logit(1) = +Infinity is never reached) and t = 0 accepts every finite logit.
 */
export function judgeAccepts(z: number, threshold: number): boolean {
  if (threshold >= 1) return false;
  if (threshold <= 0) return !Number.isNaN(z);
  return z >= Math.log(threshold / (1 - threshold));
}

/**
 * Judge decoding (Bachmann et al., ICLR 2025): keep d_i when the exact rule accepts it OR the
 * judge head's score on the target hidden state at d_i's position reaches the threshold.
 */
export const judge: VerifyRule = (input) => {
  const logits = input.judgeLogits;
  if (!logits || logits.length < input.draftTokens.length) {
    throw new Error(`judge rule needs ${input.draftTokens.length} judge scores, got ${logits?.length ?? 'none'}`);
  }
  return acceptPrefix(input, (i) => judgeAccepts(logits[i], input.threshold));
};
