import { ENTROPY_DEFAULTS, type DecodeRequest } from './types.ts';
import { DistRow } from './dist.ts';
import { tokenLogprob, type TokenLogprob } from './logprobs.ts';
import type { KvCache, RowCache } from './kv-cache.ts';
import { Output } from './output.ts';
import { Rng, sample, WarpScratch, type SamplingParams } from './sampling.ts';
import type { JudgeSource } from './score.ts';
import { prefillChunks } from './prefill.ts';
import type { DecoderSession } from './session.ts';
import { StatsTotals } from './stats.ts';
import { predictionUsage, settleText, textProposalFor, textProvenance, type TextProposal } from './propose/text.ts';
import type { Verdict, VerifyInput } from './verify/index.ts';
import type { DecodeEvent, StepStats } from './types.ts';

/** What the engine shares with every decode: the two models and what surrounds them. */
export interface DecodeModels {
  target: DecoderSession;
  draft: DecoderSession;
  tokenizer: { decode(ids: number[]): string };
  eos: ReadonlySet<number>;
  judge: JudgeSource;
  /** Default judge threshold (the head's own). */
  judgeThreshold: number;
  maxContext: number;
  /** Longest prefill forward in tokens (0 = the whole prompt in one). */
  prefillChunk: number;
}

/**
 * One request's state: the accepted sequence, both KV caches, the distribution rows and scratch
 * buffers (allocated once here, reused every step), the random generator, the output and its stats.
 *
 * Cache invariant between steps, with N = seq.length: the target cache holds seq[0..N-2] and
 * seq[N-1] is fed next; the draft cache holds a prefix seq[0..c-1] and seq[c..N-1] is fed next
 * (usually one token; two after a step that accepted every draft).
 */
export class RequestState<C extends RowCache = KvCache> {
  readonly seq: number[];
  readonly targetCache: C;
  readonly draftCache: C | null;
  readonly targetRows: DistRow[];
  readonly draftRows: DistRow[];
  readonly rng: Rng;
  readonly greedy: boolean;
  readonly out: Output;
  readonly totals: StatsTotals;
  /** The n-gram or prediction proposer, when the request uses one (the draft model is its fallback). */
  readonly text: TextProposal | null;
  private readonly residual: Float32Array | null;
  private readonly threshold: number;

  /** `caches`: the request's own (the default), or its rows in a batch's caches; a draft cache only if {@link usesDraft}. */
  constructor(
    private readonly m: DecodeModels,
    readonly req: DecodeRequest,
    caches: { target: C; draft: C | null },
  ) {
    const V = m.target.spec.vocab_size;
    const k = usesDraft(req) ? req.k : 0;
    const params: SamplingParams = { temperature: req.temperature, topP: req.topP, topK: req.topK };
    const scratch = new WarpScratch(V);
    this.seq = [...req.promptIds];
    this.targetCache = caches.target;
    this.draftCache = caches.draft;
    this.targetRows = Array.from({ length: k + 1 }, () => new DistRow(V, params, scratch));
    this.draftRows = Array.from({ length: k }, () => new DistRow(V, params, scratch));
    this.rng = new Rng(req.seed);
    this.greedy = !(req.temperature > 0);
    this.residual = this.greedy ? null : new Float32Array(V);
    this.threshold = req.threshold ?? m.judgeThreshold;
    this.out = new Output(m.tokenizer, m.eos, req.stop, req.maxTokens);
    this.totals = new StatsTotals(req.promptIds.length);
    this.text = k > 0 ? textProposalFor(req, V) : null;
  }

  /**
   * Fill `target` and `draft` (this request's own caches, or the ones a batch copies from) with the
   * prompt minus its last token (which the first step feeds), in forwards of at most
   * `prefillChunk` tokens (see DEFAULT_PREFILL_CHUNK). With
   * `promptLogprobs` the target's logits are fetched too (only then: they are [S, V] floats), and
   * row i gives prompt token i+1's log-probability.
   */
  async prefill(target: KvCache, draft: KvCache | null): Promise<{ ms: number; targetMs: number; promptLogprobs?: (TokenLogprob | null)[] }> {
    const t0 = performance.now();
    const head = this.seq.slice(0, -1);
    const wantLogprobs = this.req.promptLogprobs === true && this.req.logprobs != null;
    const promptLogprobs: (TokenLogprob | null)[] | undefined = wantLogprobs ? [null] : undefined;
    for (const { at, part } of prefillChunks(head, this.m.prefillChunk)) {
      if (promptLogprobs) {
        const { logits } = await this.m.target.forward(target, part);
        const V = this.m.target.spec.vocab_size;
        for (let i = 0; i < part.length; i++) promptLogprobs.push(tokenLogprob(logits.subarray(i * V, (i + 1) * V), this.seq[at + i + 1], this.req.logprobs!));
      } else await this.m.target.prefill(target, part);
    }
    const targetMs = performance.now() - t0;
    if (draft) for (const { part } of prefillChunks(head, this.m.prefillChunk)) await this.m.draft.prefill(draft, part);
    const ms = performance.now() - t0;
    this.totals.prefill(ms);
    return { ms, targetMs, promptLogprobs };
  }

  /** The target's log-probabilities of the committed tokens, a prefix of the last `advance` chunk (token i: row i). */
  logprobsOf(tokens: readonly number[]): TokenLogprob[] {
    return tokens.map((t, i) => tokenLogprob(this.targetRows[i].row, t, this.req.logprobs!));
  }

  /** Drafts for the next step: K, fewer near the token budget or the context end; -1 when the context is full. */
  draftLength(): number {
    const room = this.m.maxContext - this.seq.length; // the verify forward needs N + K positions
    if (room < 0) return -1;
    if (!this.draftCache) return 0;
    return Math.max(0, Math.min(this.req.k, this.out.remaining - 1, room));
  }

  get pending(): number {
    return this.seq[this.seq.length - 1];
  }

  /** Accepted tokens the draft cache has not seen. */
  draftFeed(): number[] {
    return this.seq.slice(this.draftCache!.length);
  }

  verifyInput(draftTokens: number[], judgeLogits: Float64Array | undefined): VerifyInput {
    const K = draftTokens.length;
    return {
      draftTokens,
      target: this.targetRows.slice(0, K + 1),
      draft: this.draftRows.slice(0, K),
      judgeLogits,
      greedy: this.greedy,
      rng: this.rng,
      residual: this.residual ?? new Float32Array(0),
      threshold: this.threshold,
      klThreshold: this.req.klThreshold,
      klConfidence: this.req.klConfidence,
      entropyThreshold: this.req.entropyThreshold ?? ENTROPY_DEFAULTS.threshold,
      entropyWindow: this.req.entropyWindow ?? ENTROPY_DEFAULTS.window,
    };
  }

  /** No drafts: the target's own next token. */
  plainStep(): Verdict {
    const row = this.targetRows[0];
    return { accepted: 0, next: this.greedy ? row.argmax() : sample(row.probs(), this.rng), provenance: ['target'] };
  }

  /** Extend the sequence by the verdict and roll both caches back to the invariant. */
  advance(drafts: number[], v: Verdict): number[] {
    const chunk = [...drafts.slice(0, v.accepted), v.next];
    this.seq.push(...chunk);
    const N = this.seq.length;
    this.targetCache.truncate(N - 1);
    if (this.draftCache) this.draftCache.truncate(Math.min(this.draftCache.length, N - 1));
    return chunk;
  }

  /**
   * Extend by the verdict (caches rolled back, see {@link advance}), commit to the output and
   * account the step: the step event to emit.
   */
  step(step: number, drafts: number[], v: Verdict, times: Omit<StepStats, 'drafted' | 'accepted' | 'judgeAccepted' | 'rollbackMs'>, fromText: boolean): DecodeEvent {
    const t = performance.now();
    const chunk = this.advance(drafts, v);
    const rollbackMs = performance.now() - t;
    const committed = this.out.commit(chunk, textProvenance(this.text, fromText, v));
    settleText(this.text, fromText, Math.min(v.accepted, committed.tokens.length));
    const judgeAccepted = v.provenance.filter((p) => p === 'judge').length;
    const stats: StepStats = { ...times, rollbackMs, drafted: drafts.length, accepted: v.accepted, judgeAccepted };
    this.totals.step(stats, committed.tokens.length);
    // The committed tokens are a prefix of the chunk, whose token i the target's row i predicted.
    const logprobs = this.req.logprobs != null ? { logprobs: this.logprobsOf(committed.tokens) } : {};
    return { type: 'step', step, ...committed, ...logprobs, stats };
  }

  /** The final event, once the output has finished. */
  done(): DecodeEvent {
    return { type: 'done', finishReason: this.out.finishReason!, tokens: [...this.out.tokens], text: this.out.text, stats: { ...this.totals.finish(), ...predictionUsage(this.text) } };
  }

  release(): void {
    this.targetCache.release();
    this.draftCache?.release();
  }
}

/** Whether the request drafts with the draft model (and so needs a draft cache). */
export function usesDraft(req: DecodeRequest): boolean {
  return req.mode !== 'target' && req.k > 0;
}

/** A request's own caches, for decoding alone. */
export function soloCaches(m: DecodeModels, req: DecodeRequest): { target: KvCache; draft: KvCache | null } {
  return { target: m.target.newCache(), draft: usesDraft(req) ? m.draft.newCache() : null };
}
