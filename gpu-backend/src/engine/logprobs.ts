/**
 * Log-probabilities of tokens under the TARGET's raw distribution: log softmax of its logits at
 * temperature 1, whatever the request's sampling settings (OpenAI reports the model's own
 * distribution, not the warped one tokens were sampled from). Computed in float64.
 * Only when a request asks (`DecodeRequest.logprobs`): the hot loop does none of this otherwise.
 */
export interface TokenLogprob {
  /** log p(token). */
  logprob: number;
  /** The `top` most likely token ids at this position, most likely first (ties: lower id first). */
  topIds: number[];
  /** Their log-probabilities, parallel to topIds. */
  topLogprobs: number[];
}

/** log Σ exp(logits), stable. */
export function logSumExp(logits: Float32Array): number {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i] > max) max = logits[i];
  if (max === -Infinity) return -Infinity;
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i] - max);
  return max + Math.log(sum);
}

/** `token`'s log-probability in one row of logits, plus the `top` most likely tokens (0–20). */
export function tokenLogprob(logits: Float32Array, token: number, top: number): TokenLogprob {
  const lse = logSumExp(logits);
  const ids = topIds(logits, top);
  return { logprob: logits[token] - lse, topIds: ids, topLogprobs: ids.map((i) => logits[i] - lse) };
}

/** The n largest entries' indices, largest first; among equal values the lower index first. O(V·n), n ≤ 20. */
export function topIds(logits: Float32Array, n: number): number[] {
  const ids: number[] = [];
  if (n <= 0) return ids;
  for (let i = 0; i < logits.length; i++) {
    const v = logits[i];
    if (ids.length === n && !(v > logits[ids[n - 1]])) continue;
    let j = ids.length < n ? ids.length : n - 1;
    if (ids.length < n) ids.push(i);
    while (j > 0 && v > logits[ids[j - 1]]) {
      ids[j] = ids[j - 1];
      j--;
    }
    ids[j] = i;
  }
  return ids;
}
