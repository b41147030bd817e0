import { acceptPrefix } from './exact.ts';
import type { VerifyInput, VerifyRule } from './types.ts';

/**
 * Entropy-gated, training-free lenient rule (after FLy, ICLR 2026). A draft token d_i the exact
 * rule rejects is still kept when
 *  - the target is unsure there: the entropy of its untempered softmax at position i is at least
 *    `entropyThreshold` nats, and
 *  - the draft's continuation after it agrees with the target: each of the next `entropyWindow`
 *    draft tokens d_{i+1..i+W} is the target's argmax at its position (those target rows were
 *    computed after d_i, so they say whether the target "goes along" with the deviation).
 * Without W following drafts to look at (the last W positions of a step) nothing is kept leniently.
 * With `entropyThreshold = Infinity` this is the exact rule. Pure: it reads only its input, and the
 * exact test runs first, so the random stream is consumed as in `exact`.
 */
export const entropy: VerifyRule = (input) => acceptPrefix(input, (i) => entropyAccepts(input, i));

export function entropyAccepts(input: VerifyInput, i: number): boolean {
  const W = input.entropyWindow;
  const K = input.draftTokens.length;
  if (!(W >= 1) || i + W >= K) return false; // no lookahead: reject
  if (!(shannonEntropy(input.target[i].softmax()) >= input.entropyThreshold)) return false;
  for (let j = i + 1; j <= i + W; j++) if (input.target[j].argmax() !== input.draftTokens[j]) return false;
  return true;
}

/** H(p) in nats. */
export function shannonEntropy(p: Float32Array): number {
  let h = 0;
  for (let j = 0; j < p.length; j++) {
    const x = p[j];
    if (x > 0) h -= x * Math.log(x);
  }
  return h;
}
