import { DEFAULTS } from '@verdict/protocol';
import type { Mode, Proposer, Provenance } from '@verdict/protocol';
import type { TokenLogprob } from './logprobs.ts';

export type { Mode, Proposer, Provenance, TokenLogprob };

/** Defaults of the entropy-gated rule (FLy-style). */
export const ENTROPY_DEFAULTS = { threshold: DEFAULTS.entropy_threshold, window: DEFAULTS.entropy_window } as const;

/** One generation, fully resolved (server defaults already applied). */
export interface DecodeRequest {
  promptIds: number[];
  maxTokens: number;
  mode: Mode;
  /** Draft tokens proposed per step (ignored in `target` mode). */
  k: number;
  /** judge: accept when sigmoid(w·h+b) >= threshold. Defaults to the head's own threshold. */
  threshold?: number;
  /** kl: accept where KL(p_target || p_draft) <= klThreshold. */
  klThreshold: number;
  /** kl: where the target's top-1 probability exceeds this, the exact rule decides. */
  klConfidence: number;
  /** entropy: lenient only at target positions with entropy >= this (nats); default {@link ENTROPY_DEFAULTS}. */
  entropyThreshold?: number;
  /** entropy: following draft tokens that must be the target's argmax; default {@link ENTROPY_DEFAULTS}. */
  entropyWindow?: number;
  temperature: number;
  topP: number;
  /** 0 = disabled. */
  topK: number;
  seed: number;
  /** Stop sequences (text). The matched sequence is not emitted. */
  stop: string[];
  /**
   * When set, every emitted token carries the target's log-probability (raw logits, temperature 1) and the
   * `logprobs` most likely alternatives (0–20). Unset: no log-probability work at all.
   */
  logprobs?: number;
  /** Also the prompt tokens' log-probabilities (the prefill fetches the target's logits); needs `logprobs`. */
  promptLogprobs?: boolean;
  /**
   * Where drafts come from (`propose/`): the draft model, n-gram matches in the prompt and the tokens so far, or
   * `predictionIds`. The text proposers fall back to the draft model on steps where they have nothing.
   * Default: `prediction` when `predictionIds` is set, else `draft`.
   */
  proposer?: Proposer;
  /** The prediction's token ids (OpenAI's Predicted Outputs), proposed as the draft. */
  predictionIds?: number[];
  /** n-gram lengths the ngram proposer (and the prediction's realignment) match; defaults in protocol's DEFAULTS. */
  promptLookupMin?: number;
  promptLookupMax?: number;
}

/** What one speculative step cost and produced. Times are measured around the work, never estimated. */
export interface StepStats {
  draftMs: number;
  verifyMs: number;
  judgeMs: number;
  /** KV cache fix-up after a rejection (roll back rejected positions). */
  rollbackMs: number;
  drafted: number;
  /** Draft tokens kept (by either rule). */
  accepted: number;
  /** Of those, kept only because the judge (or kl rule) said so. */
  judgeAccepted: number;
}

export interface DecodeStats {
  promptTokens: number;
  completionTokens: number;
  steps: number;
  drafted: number;
  accepted: number;
  judgeAccepted: number;
  /** completionTokens / steps: tokens per target forward. 1.0 in target mode. */
  meanAcceptedPerStep: number;
  prefillMs: number;
  draftMs: number;
  verifyMs: number;
  judgeMs: number;
  rollbackMs: number;
  totalMs: number;
  /** completionTokens / (totalMs - prefillMs) * 1000. */
  tokensPerS: number;
  /** With a prediction: its tokens kept in the completion / proposed and never kept (OpenAI's usage counts). */
  acceptedPredictionTokens?: number;
  rejectedPredictionTokens?: number;
}

export type FinishReason = 'stop' | 'length' | 'cancelled';

export type DecodeEvent =
  | {
      type: 'prefill';
      promptTokens: number;
      ms: number;
      /** With `promptLogprobs`: one entry per prompt token, null for the first (nothing predicts it). */
      promptLogprobs?: (TokenLogprob | null)[];
    }
  | {
      type: 'step';
      step: number;
      /** Tokens emitted by this step, after stop/max_tokens truncation. */
      tokens: number[];
      provenance: Provenance[];
      /** The text these tokens add (UTF-8 safe: bytes of an incomplete character wait for the next step). */
      text: string;
      /** Each token's text, joining to `text`; absent when held-back stop-prefix text makes them not line up. */
      pieces?: string[];
      /** With `logprobs`: one entry per token of `tokens`, the target's distribution at its position. */
      logprobs?: TokenLogprob[];
      stats: StepStats;
    }
  | { type: 'done'; finishReason: FinishReason; tokens: number[]; text: string; stats: DecodeStats };
