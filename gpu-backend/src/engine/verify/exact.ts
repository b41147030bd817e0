import { sample } from '../sampling.ts';
import type { Provenance } from '@verdict/protocol';
import type { Verdict, VerifyInput, VerifyRule } from './types.ts';

/**
 * Standard speculative decoding. Greedy: keep d_i while it is the target's argmax. Sampling
 * (Leviathan et al. / Chen et al.): keep d_i with probability min(1, p_i(d_i) / q_i(d_i)); on the
 * first rejection draw from norm(max(0, p_i - q_i)); if all K pass, draw the bonus from p_K.
 * The emitted sequence is then distributed exactly as the target's own samples.
 */
export const exact: VerifyRule = (input) => acceptPrefix(input, () => false);

/**
 * Walk the draft left to right: a token is kept when the exact rule accepts it ('draft') or, failing
 * that, when `lenient(i)` does ('judge'). The exact test always runs first so the random stream is
 * consumed identically whatever the lenient rule says (a judge that accepts nothing == exact).
 */
export function acceptPrefix(input: VerifyInput, lenient: (i: number) => boolean): Verdict {
  const provenance: Provenance[] = [];
  const K = input.draftTokens.length;
  for (let i = 0; i < K; i++) {
    if (exactAccepts(input, i)) provenance.push('draft');
    else if (lenient(i)) provenance.push('judge');
    else {
      provenance.push('target');
      return { accepted: i, next: correction(input, i), provenance };
    }
  }
  provenance.push('target');
  const bonus = input.target[K];
  return { accepted: K, next: input.greedy ? bonus.argmax() : sample(bonus.probs(), input.rng), provenance };
}

function exactAccepts(input: VerifyInput, i: number): boolean {
  const d = input.draftTokens[i];
  if (input.greedy) return input.target[i].argmax() === d;
  const p = input.target[i].probs()[d];
  const q = input.draft[i].probs()[d];
  return input.rng.next() * q < p; // u < p/q without dividing by a possibly tiny q
}

/** The target's token at the first rejected position. */
function correction(input: VerifyInput, i: number): number {
  if (input.greedy) return input.target[i].argmax();
  const p = input.target[i].probs();
  const q = input.draft[i].probs();
  const r = input.residual;
  let mass = 0;
  for (let j = 0; j < r.length; j++) {
    const v = p[j] - q[j];
    r[j] = v > 0 ? v : 0;
    mass += r[j];
  }
  // A rejection implies p < q somewhere, hence mass > 0; guard against rounding all the same.
  return mass > 0 ? sample(r, input.rng) : sample(p, input.rng);
}

