import type { KvCache } from '../engine/kv-cache.ts';
import type { DecoderSession } from '../engine/session.ts';

/**
 * SelfJudge-style labels without ground truth. `cache` holds the context (every token before the
 * questioned position); this feeds `token`, lets the target continue greedily for `n` tokens and
 * returns the target's log-likelihood (nats) of that continuation, then truncates the cache back.
 * The token itself is not counted: the question is how well the target can go on after it.
 */
export async function continuationLogLik(target: DecoderSession, cache: KvCache, token: number, n: number): Promise<number> {
  const base = cache.length;
  const V = target.spec.vocab_size;
  try {
    let out = await target.forward(cache, [token]);
    let ll = 0;
    for (let t = 0; t < n; t++) {
      const row = out.logits.subarray(out.logits.length - V);
      const { index, logProb } = maxLogSoftmax(row);
      ll += logProb;
      if (t + 1 < n) out = await target.forward(cache, [index]);
    }
    return ll;
  } finally {
    cache.truncate(base);
  }
}

/** The argmax of a logit row and its log-softmax probability. */
export function maxLogSoftmax(row: Float32Array): { index: number; logProb: number } {
  let m = -Infinity;
  let index = 0;
  for (let j = 0; j < row.length; j++) if (row[j] > m) [m, index] = [row[j], j];
  let z = 0;
  for (let j = 0; j < row.length; j++) z += Math.exp(row[j] - m);
  return { index, logProb: -Math.log(z) };
}

/**
 * Decides one mismatch: harmless when LL(continuation after the draft token) ≥ LL(after the
 * target's own token) − δ. `context` is every token before the questioned one.
 */
export async function selfJudgeHarmless(
  target: DecoderSession,
  context: readonly number[],
  draftToken: number,
  ownToken: number,
  n: number,
  delta: number,
): Promise<{ harmless: boolean; gap: number }> {
  const cache = target.newCache();
  try {
    await target.prefill(cache, context);
    const own = await continuationLogLik(target, cache, ownToken, n);
    const alt = await continuationLogLik(target, cache, draftToken, n);
    return { harmless: alt >= own - delta, gap: own - alt };
  } finally {
    cache.release();
  }
}
