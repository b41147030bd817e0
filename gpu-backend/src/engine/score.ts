import type { DistRow } from './dist.ts';
import type { KvCache } from './kv-cache.ts';
import type { DecoderSession, ForwardResult } from './session.ts';

/** A linear judge head ready for the hot path. */
export interface JudgeWeights {
  weights: Float32Array;
  bias: number;
}

/** How the judge scores are obtained: folded into the graph, or computed here from hidden states. */
export type JudgeSource = { kind: 'folded' } | { kind: 'hidden'; head: JudgeWeights } | { kind: 'none' };

export interface Scored {
  /**
   * The head's logits for d1..dK, in judge mode (not sigmoid scores: those round to 1.0 for
   * confident tokens, and the rule compares in logit space so that threshold 1 accepts nothing).
   */
  judgeLogits?: Float64Array;
  /** Time spent turning model outputs into judge scores. */
  judgeMs: number;
}

/**
 * ONE target forward over [pending, d1..dK]. rows[i] (i = 0..K) is left on the distribution that
 * predicts d_{i+1} (rows[K]: the bonus token). The judge reads the output at the position whose
 * INPUT is d_i, i.e. index i, for i = 1..K.
 */
export async function score(
  target: DecoderSession,
  cache: KvCache,
  pending: number,
  drafts: number[],
  rows: DistRow[],
  judge: JudgeSource,
): Promise<Scored> {
  const K = drafts.length;
  const out = await target.forward(cache, [pending, ...drafts], {
    hidden: judge.kind === 'hidden' && K > 0,
    judge: judge.kind === 'folded' && K > 0,
  });
  const V = target.spec.vocab_size;
  for (let i = 0; i <= K; i++) rows[i].set(out.logits.subarray(i * V, (i + 1) * V));
  return judgeScores(judge, out, 0, K);
}

/**
 * The judge's logits for d1..dK from a forward's outputs, where position `base` held the pending
 * token (the judge reads positions base+1..base+K, whose inputs are the drafts).
 */
export function judgeScores(judge: JudgeSource, out: Pick<ForwardResult, 'hidden' | 'judgeLogits'>, base: number, K: number): Scored {
  if (judge.kind === 'none' || K === 0) return { judgeMs: 0 };
  const t0 = performance.now();
  const logits = new Float64Array(K);
  if (judge.kind === 'folded') {
    for (let i = 1; i <= K; i++) logits[i - 1] = out.judgeLogits![base + i];
  } else {
    const { weights, bias } = judge.head;
    const d = weights.length;
    const h = out.hidden!;
    for (let i = 1; i <= K; i++) {
      let z = bias;
      const at = (base + i) * d;
      for (let j = 0; j < d; j++) z += weights[j] * h[at + j];
      logits[i - 1] = z;
    }
  }
  return { judgeLogits: logits, judgeMs: performance.now() - t0 };
}

export function sigmoid(z: number): number {
  return 1 / (1 + Math.exp(-z));
}
