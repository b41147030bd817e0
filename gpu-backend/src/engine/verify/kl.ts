import { acceptPrefix } from './exact.ts';
import type { VerifyRule } from './types.ts';

/**
 * Training-free judge (arXiv 2601.04766). Where the target is confident (top-1 probability above
 * klConfidence) only the exact rule decides; elsewhere a draft token the exact rule rejects is still
 * kept when KL(p_target || p_draft) <= klThreshold. Both distributions are untempered softmaxes.
 * With klThreshold = 0 nothing is kept beyond what exact keeps.
 */
export const kl: VerifyRule = (input) =>
  acceptPrefix(input, (i) => {
    const p = input.target[i].softmax();
    if (maxOf(p) > input.klConfidence) return false;
    return klDivergence(p, input.draft[i].softmax()) <= input.klThreshold;
  });

/** KL(p || q) in nats; q is floored so a vanishing draft probability gives a large finite value. */
export function klDivergence(p: Float32Array, q: Float32Array): number {
  let d = 0;
  for (let j = 0; j < p.length; j++) {
    const pj = p[j];
    if (pj > 0) d += pj * Math.log(pj / Math.max(q[j], 1e-30));
  }
  return d > 0 ? d : 0;
}

function maxOf(x: Float32Array): number {
  let m = -Infinity;
  for (let j = 0; j < x.length; j++) if (x[j] > m) m = x[j];
  return m;
}
