import * as z from './zod.ts';
import { MAX_K, MAX_PROMPT_LOOKUP, MODES, PROPOSERS } from './vocabulary.ts';

export const ModeSchema = z.enum(MODES, {
  error: (iss) => `unknown mode ${JSON.stringify(iss.input)}; expected one of ${MODES.join(', ')}`,
});

export const ProposerSchema = z.enum(PROPOSERS, {
  error: (iss) => `unknown proposer ${JSON.stringify(iss.input)}; expected one of ${PROPOSERS.join(', ')}`,
});

/** A whole number in [min, max] (max optional), each check with its own message when given. */
export function wholeNumber(min: number, max?: number, msgs: { int?: string; min?: string; max?: string } = {}) {
  const checks = [z.int(msgs.int), z.gte(min, msgs.min), ...(max === undefined ? [] : [z.lte(max, msgs.max)])];
  return z.number().check(...checks);
}

/** A number in [min, max] (max optional). */
export function boundedNumber(min: number, max?: number) {
  return max === undefined ? z.number().check(z.gte(min)) : z.number().check(z.gte(min), z.lte(max));
}

const lookupLength = (name: string) =>
  z.optional(wholeNumber(1, MAX_PROMPT_LOOKUP, { int: `${name} must be a whole number`, min: `${name} must be at least 1`, max: `${name} must be at most ${MAX_PROMPT_LOOKUP}` }));

/** Our request extension. Every field optional: the server fills its defaults. */
export const SpeculativeSchema = z
  .object({
    mode: z.optional(ModeSchema),
    k: z.optional(wholeNumber(1, MAX_K, { min: 'k must be at least 1', max: `k must be at most ${MAX_K}` })),
    /** judge: accept a draft token when sigmoid(judge logit) >= threshold. */
    threshold: z.optional(boundedNumber(0, 1)),
    /** kl: accept where KL(p_target || p_draft) <= kl_threshold (nats). */
    kl_threshold: z.optional(boundedNumber(0)),
    /** kl: positions where the target's top-1 probability exceeds this use the exact rule. */
    kl_confidence: z.optional(boundedNumber(0, 1)),
    /** entropy: keep a mismatch only where the target's entropy is at least this (nats). */
    entropy_threshold: z.optional(boundedNumber(0)),
    /** entropy: how many following draft tokens must agree with the target's argmax. */
    entropy_window: z.optional(wholeNumber(1, MAX_K - 1, { min: 'entropy_window must be at least 1', max: `entropy_window must be at most ${MAX_K - 1}` })),
    /** Where draft tokens come from; default `prediction` when the request has one, else `draft`. */
    proposer: z.optional(ProposerSchema),
    /** ngram proposer: the longest / shortest suffix of the text so far that is looked up (vLLM's names). */
    prompt_lookup_max: lookupLength('prompt_lookup_max'),
    prompt_lookup_min: lookupLength('prompt_lookup_min'),
  })
  .check(
    z.superRefine((s, ctx) => {
      if (s.prompt_lookup_min != null && s.prompt_lookup_max != null && s.prompt_lookup_min > s.prompt_lookup_max) {
        ctx.addIssue({ code: 'custom', path: ['prompt_lookup_min'], message: `prompt_lookup_min (${s.prompt_lookup_min}) must not exceed prompt_lookup_max (${s.prompt_lookup_max})` });
      }
    }),
  );
export type Speculative = z.infer<typeof SpeculativeSchema>;
