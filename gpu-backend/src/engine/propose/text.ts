import { DEFAULTS, type Proposer, type Provenance } from '@verdict/protocol';
import type { DistRow } from '../dist.ts';
import type { DecodeRequest } from '../types.ts';
import type { Verdict } from '../verify/types.ts';
import { NgramProposer } from './ngram.ts';
import { PredictionProposer } from './prediction.ts';
import type { LookupLengths, TokenProposer } from './types.ts';

/** The proposer a request uses: its own, else `prediction` when it has prediction tokens, else `draft`. */
export function proposerOf(req: Pick<DecodeRequest, 'proposer' | 'predictionIds'>): Proposer {
  return req.proposer ?? (req.predictionIds ? 'prediction' : 'draft');
}

export function lookupLengths(req: Pick<DecodeRequest, 'promptLookupMin' | 'promptLookupMax'>): LookupLengths {
  const maxN = req.promptLookupMax ?? Math.max(DEFAULTS.prompt_lookup_max, req.promptLookupMin ?? 0);
  return { minN: req.promptLookupMin ?? Math.min(DEFAULTS.prompt_lookup_min, maxN), maxN };
}

/**
 * One request's text proposer (n-gram or prediction) and the draft rows its tokens are verified against.
 * A deterministic proposal is a one-hot draft distribution q = δ(d): the exact rule then keeps d with
 * probability p(d) and on rejection samples norm(max(0, p − δ(d))), which is still exact speculative
 * sampling (and at temperature 0 it is the greedy match, which never reads q).
 */
export class TextProposal {
  /** One −∞/0 logits row per draft position (softmax: one-hot), allocated on first use; `hot[i]`: its 0. */
  private readonly oneHot: Float32Array[] = [];
  private readonly hot: number[] = [];

  constructor(
    readonly source: Exclude<Proposer, 'draft'>,
    readonly proposer: TokenProposer,
    private readonly vocabSize: number,
  ) {}

  /** Point draft rows 0..n-1 at one-hot distributions on `tokens` (resetting only the previous hot entry). */
  setRows(rows: DistRow[], tokens: readonly number[]): void {
    for (let i = 0; i < tokens.length; i++) {
      const buf = (this.oneHot[i] ??= new Float32Array(this.vocabSize).fill(-Infinity));
      if (this.hot[i] !== undefined) buf[this.hot[i]] = -Infinity;
      buf[tokens[i]] = 0;
      this.hot[i] = tokens[i];
      rows[i].set(buf);
    }
  }
}

/** The request's text proposer, or null when it drafts with the draft model only. */
export function textProposalFor(req: DecodeRequest, vocabSize: number): TextProposal | null {
  const proposer = proposerOf(req);
  if (proposer === 'draft' || req.mode === 'target') return null;
  const lengths = lookupLengths(req);
  if (proposer === 'ngram') return new TextProposal('ngram', new NgramProposer(lengths), vocabSize);
  return new TextProposal('prediction', new PredictionProposer(req.predictionIds ?? [], req.promptIds.length, lengths), vocabSize);
}

/** What {@link proposeText} needs of a request's state (RequestState has it; a batch row can too). */
export interface TextProposing {
  readonly seq: readonly number[];
  readonly text: TextProposal | null;
  readonly draftRows: DistRow[];
}

/**
 * This step's drafts from the request's text proposer, with the draft rows set to their one-hot
 * distributions; null when there is none or it has nothing to offer: use the draft model (whose cache
 * catches up on the skipped tokens by itself, see RequestState.draftFeed). No model runs here.
 */
export function proposeText(r: TextProposing, k: number): number[] | null {
  if (!r.text || k <= 0) return null;
  const drafts = r.text.proposer.propose(r.seq, k);
  if (drafts.length === 0) return null;
  r.text.setRows(r.draftRows, drafts);
  return drafts;
}

/** Provenance of a step's tokens: drafts that came from the prediction and were kept are `prediction`. */
export function textProvenance(text: TextProposal | null, fromText: boolean, v: Verdict): Provenance[] {
  if (!fromText || text?.source !== 'prediction') return v.provenance;
  return v.provenance.map((p, i) => (i < v.accepted ? 'prediction' : p));
}

/** After commit: of the step's text drafts, the first `kept` are in the completion (usage counts). */
export function settleText(text: TextProposal | null, fromText: boolean, kept: number): void {
  if (fromText && text?.proposer instanceof PredictionProposer) text.proposer.settle(kept);
}

/** OpenAI's accepted / rejected prediction tokens so far (0 without a prediction). */
export function predictionUsage(text: TextProposal | null): { acceptedPredictionTokens: number; rejectedPredictionTokens: number } {
  const p = text?.proposer instanceof PredictionProposer ? text.proposer : null;
  return { acceptedPredictionTokens: p?.accepted ?? 0, rejectedPredictionTokens: p?.rejected ?? 0 };
}
