import { z } from 'zod';
import { MAX_K, MAX_PROMPT_LOOKUP, MODES, PROPOSERS } from './vocabulary.ts';

export const ModeSchema = z.enum(MODES, {
  error: (iss) => `unknown mode ${JSON.stringify(iss.input)}; expected one of ${MODES.join(', ')}`,
});

export const ProposerSchema = z.enum(PROPOSERS, {
  error: (iss) => `unknown proposer ${JSON.stringify(iss.input)}; expected one of ${PROPOSERS.join(', ')}`,
});

const lookupLength = (name: string) =>
  z.number().int(`${name} must be a whole number`).min(1, `${name} must be at least 1`).max(MAX_PROMPT_LOOKUP, `${name} must be at most ${MAX_PROMPT_LOOKUP}`).optional();

/** Our request extension. Every field optional: the server fills its defaults. */
export const SpeculativeSchema = z
  .object({
    mode: ModeSchema.optional(),
    k: z.number().int().min(1, 'k must be at least 1').max(MAX_K, `k must be at most ${MAX_K}`).optional(),
    /** judge: accept a draft token when sigmoid(judge logit) >= threshold. */
    threshold: z.number().min(0).max(1).optional(),
    /** kl: accept where KL(p_target || p_draft) <= kl_threshold (nats). */
    kl_threshold: z.number().min(0).optional(),
    /** kl: positions where the target's top-1 probability exceeds this use the exact rule. */
    kl_confidence: z.number().min(0).max(1).optional(),
    /** entropy: keep a mismatch only where the target's entropy is at least this (nats). */
    entropy_threshold: z.number().min(0).optional(),
    /** entropy: how many following draft tokens must agree with the target's argmax. */
    entropy_window: z.number().int().min(1, 'entropy_window must be at least 1').max(MAX_K - 1, `entropy_window must be at most ${MAX_K - 1}`).optional(),
    /** Where draft tokens come from; default `prediction` when the request has one, else `draft`. */
    proposer: ProposerSchema.optional(),
    /** ngram proposer: the longest / shortest suffix of the text so far that is looked up (vLLM's names). */
    prompt_lookup_max: lookupLength('prompt_lookup_max'),
    prompt_lookup_min: lookupLength('prompt_lookup_min'),
  })
  .strip()
  .superRefine((s, ctx) => {
    if (s.prompt_lookup_min != null && s.prompt_lookup_max != null && s.prompt_lookup_min > s.prompt_lookup_max) {
      ctx.addIssue({ code: 'custom', path: ['prompt_lookup_min'], message: `prompt_lookup_min (${s.prompt_lookup_min}) must not exceed prompt_lookup_max (${s.prompt_lookup_max})` });
    }
  });
export type Speculative = z.infer<typeof SpeculativeSchema>;
