import { ENTROPY_DEFAULTS, type DecodeRequest } from './types.ts';
import { DistRow } from './dist.ts';
import { tokenLogprob, type TokenLogprob } from './logprobs.ts';
import type { KvCache } from './kv-cache.ts';
import { Output } from './output.ts';
import { Rng, sample, WarpScratch, type SamplingParams } from './sampling.ts';
import type { JudgeSource } from './score.ts';
import type { DecoderSession } from './session.ts';
import { StatsTotals } from './stats.ts';
import { textProposalFor, type TextProposal } from './propose/text.ts';
import type { Verdict, VerifyInput } from './verify/index.ts';

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
}

/**
 * One request's state: the accepted sequence, both KV caches, the distribution rows and scratch
 * buffers (allocated once here, reused every step), the random generator, the output and its stats.
 *
 * Cache invariant between steps, with N = seq.length: the target cache holds seq[0..N-2] and
 * seq[N-1] is fed next; the draft cache holds a prefix seq[0..c-1] and seq[c..N-1] is fed next
 * (usually one token; two after a step that accepted every draft).
 */
export class RequestState {
  readonly seq: number[];
  readonly targetCache: KvCache;
  readonly draftCache: KvCache | null;
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

  constructor(
    private readonly m: DecodeModels,
    readonly req: DecodeRequest,
  ) {
    const V = m.target.spec.vocab_size;
    const k = req.mode === 'target' ? 0 : req.k;
    const params: SamplingParams = { temperature: req.temperature, topP: req.topP, topK: req.topK };
    const scratch = new WarpScratch(V);
    this.seq = [...req.promptIds];
    this.targetCache = m.target.newCache();
    this.draftCache = k > 0 ? m.draft.newCache() : null;
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
   * Fill both caches with the prompt minus its last token (which the first step feeds). With
   * `promptLogprobs` the target's logits are fetched too (only then: they are [S, V] floats), and
   * row i gives prompt token i+1's log-probability.
   */
  async prefill(): Promise<{ ms: number; promptLogprobs?: (TokenLogprob | null)[] }> {
    const t0 = performance.now();
    const head = this.seq.slice(0, -1);
    const wantLogprobs = this.req.promptLogprobs === true && this.req.logprobs != null;
    const promptLogprobs: (TokenLogprob | null)[] | undefined = wantLogprobs ? [null] : undefined;
    if (head.length > 0) {
      if (promptLogprobs) {
        const { logits } = await this.m.target.forward(this.targetCache, head);
        const V = this.m.target.spec.vocab_size;
        for (let i = 0; i < head.length; i++) promptLogprobs.push(tokenLogprob(logits.subarray(i * V, (i + 1) * V), this.seq[i + 1], this.req.logprobs!));
      } else await this.m.target.prefill(this.targetCache, head);
      if (this.draftCache) await this.m.draft.prefill(this.draftCache, head);
    }
    const ms = performance.now() - t0;
    this.totals.prefill(ms);
    return { ms, promptLogprobs };
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

  release(): void {
    this.targetCache.release();
    this.draftCache?.release();
  }
}
