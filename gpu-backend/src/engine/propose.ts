import type { DistRow } from './dist.ts';
import type { KvCache } from './kv-cache.ts';
import { sample, type Rng } from './sampling.ts';
import type { DecoderSession } from './session.ts';

/**
 * Draft K tokens autoregressively. `feed` holds the accepted tokens the draft cache has not seen yet
 * (one token, or two after a step that accepted every draft). rows[i] is left pointing at the
 * distribution d_{i+1} was drawn from. The last draft token is not fed back: the next step either
 * rejects it or feeds it along with the target's bonus token.
 */
export async function propose(
  draft: DecoderSession,
  cache: KvCache,
  feed: number[],
  k: number,
  rows: DistRow[],
  greedy: boolean,
  rng: Rng,
): Promise<number[]> {
  const V = draft.spec.vocab_size;
  const tokens: number[] = [];
  let input = feed;
  for (let i = 0; i < k; i++) {
    const { logits } = await draft.forward(cache, input);
    const row = rows[i].set(logits.subarray(logits.length - V));
    const d = greedy ? row.argmax() : sample(row.probs(), rng);
    tokens.push(d);
    input = [d];
  }
  return tokens;
}
