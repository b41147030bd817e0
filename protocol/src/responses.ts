import * as z from './zod.ts';
import { CACHE_STATUSES, type FinishReason, type Mode, type Provenance } from './vocabulary.ts';

/** Where the time of one request went, in milliseconds, plus the speculative-decoding counts. */
export const TimingsSchema = z.object({
  queue_ms: z.number(),
  prefill_ms: z.number(),
  draft_ms: z.number(),
  verify_ms: z.number(),
  judge_ms: z.number(),
  total_ms: z.number(),
  steps: z.number().check(z.int()),
  drafted: z.number().check(z.int()),
  accepted: z.number().check(z.int()),
  judge_accepted: z.number().check(z.int()),
  /** Tokens emitted per target forward (accepted drafts + the target's own token); 1.0 in target mode. */
  mean_accepted_per_step: z.number(),
  tokens_per_s: z.number(),
  /** Added by the gateway when the answer passed through it. */
  edge_ms: z.optional(z.number()),
  upstream_ms: z.optional(z.number()),
  cache: z.optional(z.enum(CACHE_STATUSES)),
});
export type Timings = z.infer<typeof TimingsSchema>;

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  /**
   * OpenAI's breakdowns. Verdict has no prompt cache, reasoning or audio: those counts are 0. With a `prediction`,
   * `accepted_prediction_tokens` counts the prediction's tokens that were kept in the completion and
   * `rejected_prediction_tokens` those proposed to the target and not kept (0 without a prediction).
   */
  prompt_tokens_details?: { cached_tokens: number; audio_tokens: number };
  completion_tokens_details?: { reasoning_tokens: number; audio_tokens: number; accepted_prediction_tokens: number; rejected_prediction_tokens: number };
}

/** One token's log-probability in a chat answer (OpenAI's shape). `bytes`: the token's UTF-8 bytes. */
export interface ChatTokenLogprob {
  token: string;
  logprob: number;
  bytes: number[] | null;
  top_logprobs: { token: string; logprob: number; bytes: number[] | null }[];
}

/** `choices[].logprobs` of a chat answer or chunk: the tokens of that answer or chunk. */
export interface ChatLogprobs {
  content: ChatTokenLogprob[] | null;
  refusal?: null;
}

/**
 * `choices[].logprobs` of a text completion (OpenAI's legacy shape), parallel arrays over the tokens: with
 * echo the prompt's first (whose first token has null, as nothing predicts it). `text_offset`: where each
 * token starts in the returned text, in JavaScript string (UTF-16) units.
 */
export interface TextLogprobs {
  tokens: string[];
  token_logprobs: (number | null)[];
  top_logprobs: (Record<string, number> | null)[];
  text_offset: number[];
}

/** Non-streamed answers name the mode that produced them (also in X-Verdict-Mode). */
export interface VerdictResponseExtension {
  mode: Mode;
  /** Draft tokens per step (0 in target mode). */
  k: number;
}


/** Our per-chunk extension; OpenAI clients ignore unknown fields. Every chunk names the mode; step chunks carry the rest. */
export interface VerdictChunkExtension {
  /** Present on step chunks. */
  provenance?: Provenance[];
  step?: number;
  mode?: Mode;
  /**
   * Optional: the text of each token of this step, parallel to `provenance` (pieces.join('') === delta text).
   * A token whose bytes end mid-character contributes '' and the character goes to the token that completes it.
   * Lets a client colour text per token; without it clients split the step's text proportionally.
   */
  pieces?: string[];
}

export interface ChatCompletion {
  id: string;
  object: 'chat.completion';
  created: number;
  model: string;
  /** The backend's answer-shaping fingerprint (the one GET /v1/models publishes). */
  system_fingerprint: string;
  choices: { index: 0; message: { role: 'assistant'; content: string }; finish_reason: FinishReason; logprobs: ChatLogprobs | null }[];
  usage: Usage;
  timings: Timings;
  x_verdict: VerdictResponseExtension;
}

export interface ChatCompletionChunk {
  id: string;
  object: 'chat.completion.chunk';
  created: number;
  model: string;
  /** Every chunk Verdict sends has it (optional in the type, as in OpenAI's SDK). */
  system_fingerprint?: string;
  choices: { index: 0; delta: { role?: 'assistant'; content?: string }; finish_reason: FinishReason | null; logprobs: ChatLogprobs | null }[];
  usage?: Usage | null;
  timings?: Timings;
  x_verdict?: VerdictChunkExtension;
}

export interface TextCompletion {
  id: string;
  object: 'text_completion';
  created: number;
  model: string;
  system_fingerprint: string;
  choices: { index: 0; text: string; finish_reason: FinishReason; logprobs: TextLogprobs | null }[];
  usage: Usage;
  timings: Timings;
  x_verdict: VerdictResponseExtension;
}

export interface TextCompletionChunk {
  id: string;
  object: 'text_completion';
  created: number;
  model: string;
  system_fingerprint?: string;
  choices: { index: 0; text: string; finish_reason: FinishReason | null; logprobs: TextLogprobs | null }[];
  usage?: Usage | null;
  timings?: Timings;
  x_verdict?: VerdictChunkExtension;
}

export interface ModelList {
  object: 'list';
  data: { id: string; object: 'model'; created: number; owned_by: string; x_verdict?: { fingerprint: string; modes: Mode[] } }[];
}
