import type { RequestState } from '../request.ts';
import { sample } from '../sampling.ts';
import { judgeScores, type JudgeSource, type Scored } from '../score.ts';
import type { DecoderSession } from '../session.ts';
import type { BatchKvCache, BatchRow } from './batch-cache.ts';
import type { ForwardCost } from './cost-model.ts';

type Row = RequestState<BatchRow>;

/**
 * Draft up to ks[r] tokens for every row, with max(ks) forwards over the whole draft batch (the
 * batched {@link import('../propose.ts').propose}). Forward 0 feeds each drafting row its
 * unseen accepted tokens; a row that drafts nothing this step catches its cache up all but its
 * last token, which keeps the invariant that the next draft step has a token to feed. Rows past
 * their K feed nothing (masked padding). Each row samples with its own generator, in the same
 * order as alone.
 */
export async function proposeBatch(draft: DecoderSession, cache: BatchKvCache, rows: readonly Row[], ks: readonly number[], cost: ForwardCost): Promise<number[][]> {
  const drafts = rows.map((): number[] => []);
  const maxK = Math.max(0, ...ks);
  const V = draft.spec.vocab_size;
  for (let i = 0; i < maxK; i++) {
    const feeds = new Map<BatchRow, readonly number[]>();
    rows.forEach((r, j) => {
      if (!r.draftCache) return;
      if (i === 0) feeds.set(r.draftCache, ks[j] > 0 ? r.draftFeed() : r.draftFeed().slice(0, -1));
      else if (i < ks[j]) feeds.set(r.draftCache, [drafts[j][i - 1]]);
    });
    const t = performance.now();
    const out = await draft.forwardBatch(cache, (row) => feeds.get(row) ?? []);
    cost.observe(cache.size * out.S, performance.now() - t);
    rows.forEach((r, j) => {
      if (i >= ks[j]) return;
      const dc = r.draftCache!;
      const at = (dc.index * out.S + feeds.get(dc)!.length - 1) * V;
      const row = r.draftRows[i].set(out.logits.subarray(at, at + V));
      drafts[j].push(r.greedy ? row.argmax() : sample(row.probs(), r.rng));
    });
  }
  return drafts;
}

/**
 * ONE target forward over every row's [pending, d1..dK] (the batched {@link import('../score.ts').score}):
 * each row's targetRows[i] is left on the distribution that predicts its d_{i+1}, and judge rows get
 * their head's logits.
 */
export async function scoreBatch(target: DecoderSession, cache: BatchKvCache, rows: readonly Row[], drafts: readonly number[][], judges: readonly JudgeSource[], cost: ForwardCost): Promise<{ scored: Scored[]; forwardMs: number }> {
  const feeds = new Map<BatchRow, readonly number[]>(rows.map((r, j) => [r.targetCache, [r.pending, ...drafts[j]]]));
  const needs = (kind: JudgeSource['kind']) => judges.some((jd, j) => jd.kind === kind && drafts[j].length > 0);
  const t = performance.now();
  const out = await target.forwardBatch(cache, (row) => feeds.get(row)!, { hidden: needs('hidden'), judge: needs('folded') });
  const forwardMs = performance.now() - t;
  cost.observe(cache.size * out.S, forwardMs);
  const V = target.spec.vocab_size;
  const scored = rows.map((r, j) => {
    const base = r.targetCache.index * out.S;
    const K = drafts[j].length;
    for (let i = 0; i <= K; i++) r.targetRows[i].set(out.logits.subarray((base + i) * V, (base + i + 1) * V));
    return judgeScores(judges[j], out, base, K);
  });
  return { scored, forwardMs };
}
