import * as z from '@verdict/protocol/zod';

export const JUDGE_FORMAT = 'verdict-judge/1';

/**
 * judge.json: a linear head on the target's final-norm hidden state, score = sigmoid(w·h + b).
 * Any feature standardisation used in training is folded into `weights` and `bias` at export,
 * so the head is applied to raw hidden states.
 */
export const JudgeHeadSchema = z
  .object({
    format: z.literal(JUDGE_FORMAT),
    hidden_size: z.number().check(z.int(), z.positive()),
    weights: z.array(z.number()),
    bias: z.number(),
    /** Default acceptance threshold on the sigmoid score, chosen on held-out data. */
    threshold: z.number().check(z.gte(0), z.lte(1)),
    /** sha256 of the target ONNX the head was trained on. */
    target_sha256: z.string().check(z.regex(/^[0-9a-f]{64}$/)),
    /** How it was made: data size, rule, held-out metrics. */
    training: z.optional(z.record(z.string(), z.unknown())),
  })
  .check(
    z.refine((h) => h.weights.length === h.hidden_size, {
      message: 'weights must have exactly hidden_size entries',
      path: ['weights'],
    }),
  );
export type JudgeHead = z.infer<typeof JudgeHeadSchema>;
