import { z } from 'zod';
import type { Provenance, Mode } from './speculative.ts';

/** Where the time of one request went, in milliseconds, plus the speculative-decoding counts. */
export const TimingsSchema = z.object({
  queue_ms: z.number(),
  prefill_ms: z.number(),
  draft_ms: z.number(),
  verify_ms: z.number(),
  judge_ms: z.number(),
  total_ms: z.number(),
  steps: z.number().int(),
  drafted: z.number().int(),
  accepted: z.number().int(),
  judge_accepted: z.number().int(),
  /** Tokens emitted per target forward (accepted drafts + the target's own token); 1.0 in target mode. */
  mean_accepted_per_step: z.number(),
  tokens_per_s: z.number(),
  /** Added by the gateway when the answer passed through it. */
  edge_ms: z.number().optional(),
  upstream_ms: z.number().optional(),
  cache: z.enum(['hit', 'miss', 'bypass']).optional(),
});
export type Timings = z.infer<typeof TimingsSchema>;

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

export type FinishReason = 'stop' | 'length';

/** Our per-chunk extension; OpenAI clients ignore unknown fields. */
export interface VerdictChunkExtension {
  provenance: Provenance[];
  step: number;
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
  choices: { index: 0; message: { role: 'assistant'; content: string }; finish_reason: FinishReason; logprobs: null }[];
  usage: Usage;
  timings: Timings;
}

export interface ChatCompletionChunk {
  id: string;
  object: 'chat.completion.chunk';
  created: number;
  model: string;
  choices: { index: 0; delta: { role?: 'assistant'; content?: string }; finish_reason: FinishReason | null; logprobs: null }[];
  usage?: Usage | null;
  timings?: Timings;
  x_verdict?: VerdictChunkExtension;
}

export interface TextCompletion {
  id: string;
  object: 'text_completion';
  created: number;
  model: string;
  choices: { index: 0; text: string; finish_reason: FinishReason; logprobs: null }[];
  usage: Usage;
  timings: Timings;
}

export interface TextCompletionChunk {
  id: string;
  object: 'text_completion';
  created: number;
  model: string;
  choices: { index: 0; text: string; finish_reason: FinishReason | null; logprobs: null }[];
  usage?: Usage | null;
  timings?: Timings;
  x_verdict?: VerdictChunkExtension;
}

export interface ModelList {
  object: 'list';
  data: { id: string; object: 'model'; created: number; owned_by: string; x_verdict?: { fingerprint: string; modes: Mode[] } }[];
}
