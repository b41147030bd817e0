import * as z from './zod.ts';
import { SpeculativeSchema, wholeNumber } from './speculative.ts';

/** Upper bounds the protocol itself enforces; a server may set lower ones. */
export const LIMITS = { maxTokens: 8192, maxStop: 4, maxPromptChars: 200_000, maxSeed: 2 ** 53 - 1, maxTopLogprobs: 20 } as const;

/**
 * Request fields Verdict accepts and ignores on purpose: they do not change the answer (`user` is only logged,
 * `metadata`, `store` and `service_tier` are OpenAI's platform bookkeeping, `parallel_tool_calls` means nothing
 * without tools). Every other field that is not implemented is refused (see {@link UNSUPPORTED_FIELDS}).
 */
export const IGNORED_FIELDS = ['user', 'metadata', 'store', 'service_tier', 'parallel_tool_calls'] as const;

/**
 * OpenAI request fields Verdict does not implement, with the value(s) that mean the same as leaving them out
 * (null always does). Any other value is a 400 naming the field (`param`, code `unsupported_parameter`), so a
 * client that asked for it never gets an answer that silently lacks it. Fields in neither this list, the
 * schemas nor {@link IGNORED_FIELDS} are refused too (`unknown_parameter`), as OpenAI does.
 */
export const UNSUPPORTED_FIELDS: Readonly<Record<string, { neutral: string; isNeutral: (v: unknown) => boolean }>> = {
  frequency_penalty: { neutral: '0', isNeutral: (v) => v === 0 },
  presence_penalty: { neutral: '0', isNeutral: (v) => v === 0 },
  repetition_penalty: { neutral: '1', isNeutral: (v) => v === 1 },
  logit_bias: { neutral: '{}', isNeutral: (v) => isEmptyObject(v) },
  tools: { neutral: '[]', isNeutral: (v) => Array.isArray(v) && v.length === 0 },
  functions: { neutral: '[]', isNeutral: (v) => Array.isArray(v) && v.length === 0 },
  tool_choice: { neutral: '"none"', isNeutral: (v) => v === 'none' },
  function_call: { neutral: '"none"', isNeutral: (v) => v === 'none' },
  response_format: { neutral: '{"type":"text"}', isNeutral: (v) => isObject(v) && v.type === 'text' && Object.keys(v).length === 1 },
  suffix: { neutral: '""', isNeutral: (v) => v === '' },
  best_of: { neutral: '1', isNeutral: (v) => v === 1 },
  modalities: { neutral: '["text"]', isNeutral: (v) => Array.isArray(v) && v.length === 1 && v[0] === 'text' },
  audio: { neutral: 'null', isNeutral: () => false },
  reasoning_effort: { neutral: 'null', isNeutral: () => false },
  web_search_options: { neutral: 'null', isNeutral: () => false },
  min_p: { neutral: '0', isNeutral: (v) => v === 0 },
};

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
function isEmptyObject(v: unknown): boolean {
  return isObject(v) && Object.keys(v).length === 0;
}

/**
 * Refuses every top-level field that is neither implemented (`known`) nor ignored on purpose, unless its value
 * means the same as leaving it out. Runs before the field checks, so `tools` is refused as unsupported rather
 * than for its shape.
 */
function refuseUnimplemented(known: ReadonlySet<string>) {
  return (body: unknown, ctx: RefinementCtx): void => {
    if (!isObject(body)) return;
    for (const [key, value] of Object.entries(body)) {
      if (known.has(key) || (IGNORED_FIELDS as readonly string[]).includes(key) || value === null || value === undefined) continue;
      const u = Object.hasOwn(UNSUPPORTED_FIELDS, key) ? UNSUPPORTED_FIELDS[key] : undefined;
      if (u?.isNeutral(value)) continue;
      ctx.addIssue({
        code: 'custom',
        path: [key],
        params: { code: u ? 'unsupported_parameter' : 'unknown_parameter' },
        message: u
          ? `${key} is not supported by this server${u.neutral === 'null' ? '' : ` (only ${u.neutral}, which means the same as leaving it out)`}`
          : `unrecognized request argument supplied: ${key}`,
      });
      return;
    }
  };
}

type RefinementCtx = z.core.$RefinementCtx;

/** The request schema: `refuse` runs first, and the field checks only when it found nothing. */
function requestSchema<T extends z.ZodMiniType>(fields: T & { shape: Record<string, unknown> }) {
  return z.pipe(z.unknown().check(z.superRefine(refuseUnimplemented(new Set(Object.keys(fields.shape))))), fields);
}

const TextPart = z.object({ type: z.literal('text'), text: z.string() });
const Content = z.union([z.string(), z.array(TextPart).check(z.minLength(1))]);

export const MessageSchema = z.object({
  role: z.enum(['system', 'developer', 'user', 'assistant', 'tool']),
  content: z.optional(z.nullable(Content)),
  name: z.optional(z.string()),
});
export type Message = z.infer<typeof MessageSchema>;

const StopString = z.string().check(z.minLength(1, 'stop strings must not be empty'));
const Stop = z.optional(z.nullable(z.union([StopString, z.array(StopString).check(z.maxLength(LIMITS.maxStop, `at most ${LIMITS.maxStop} stop sequences`))])));

/** OpenAI's optional fields also take null, meaning the same as leaving them out. */
const nullish = <T extends z.ZodMiniType>(t: T) => z.optional(z.nullable(t));

function maxTokensField(name: string, min = 1) {
  return z.optional(z.nullable(wholeNumber(min, LIMITS.maxTokens, { int: `${name} must be a whole number`, min: `${name} must be at least ${min}`, max: `${name} must be at most ${LIMITS.maxTokens}` })));
}

/**
 * OpenAI's Predicted Outputs: text the answer is expected to (mostly) repeat, e.g. the file being edited. Its tokens
 * are the draft: they cost no draft-model forward, and the target verifies them as any draft.
 */
export const PredictionSchema = z.object(
  {
    type: z.literal('content', { error: "prediction.type must be 'content'" }),
    content: z.union([z.string(), z.array(TextPart).check(z.minLength(1, 'prediction.content must not be an empty array'))], {
      error: 'prediction.content must be a string or an array of text parts [{"type":"text","text":"…"}]',
    }),
  },
  { error: 'prediction must be an object {"type":"content","content":"…"}' },
);
export type Prediction = z.infer<typeof PredictionSchema>;

/**
 * Refuses a prompt longer than LIMITS.maxPromptChars, naming the field (`messages` / `prompt`) and the limit. The
 * prediction counts toward the same limit (it is tokenized and held as the prompt is); when it is what pushes the
 * request over, `prediction` is named.
 */
function promptLimit(param: 'messages' | 'prompt', chars: number, prediction: Prediction | null | undefined, ctx: RefinementCtx): void {
  const predicted = prediction ? predictionText(prediction).length : 0;
  if (chars + predicted <= LIMITS.maxPromptChars) return;
  if (chars <= LIMITS.maxPromptChars) {
    ctx.addIssue({ code: 'custom', path: ['prediction'], message: `the prompt (${chars} characters) and the prediction (${predicted}) together are over the limit of ${LIMITS.maxPromptChars} characters` });
  } else ctx.addIssue({ code: 'custom', path: [param], message: `the prompt is ${chars} characters; at most ${LIMITS.maxPromptChars} characters are accepted` });
}

/** `speculative.proposer: "prediction"` needs a prediction to propose from. */
function proposerNeedsPrediction(r: { prediction?: Prediction | null; speculative?: { proposer?: string } }, ctx: RefinementCtx): void {
  if (r.speculative?.proposer === 'prediction' && r.prediction == null) {
    ctx.addIssue({ code: 'custom', path: ['speculative', 'proposer'], message: "proposer 'prediction' needs a prediction: {\"type\":\"content\",\"content\":\"…\"}" });
  }
}

/** Sampling and control fields shared by chat and completions. Unimplemented fields are refused (see refuseUnimplemented). */
const Common = {
  model: z.string({ error: "'model' is required" }).check(z.minLength(1, "'model' must not be empty")),
  max_tokens: maxTokensField('max_tokens'),
  temperature: nullish(z.number().check(z.gte(0), z.lte(2))),
  top_p: nullish(z.number().check(z.gt(0), z.lte(1))),
  top_k: nullish(wholeNumber(0)),
  seed: nullish(wholeNumber(0, LIMITS.maxSeed)),
  stop: Stop,
  stream: nullish(z.boolean()),
  stream_options: nullish(z.object({ include_usage: z.optional(z.boolean()) })),
  n: nullish(z.literal(1, { error: 'only n=1 is supported' })),
  user: z.optional(z.string()),
  speculative: z.optional(SpeculativeSchema),
  /** Predicted Outputs (OpenAI's chat field, accepted on completions too): its tokens are proposed as the draft. */
  prediction: nullish(PredictionSchema),
};

const topLogprobs = (name: string) =>
  nullish(wholeNumber(0, LIMITS.maxTopLogprobs, { int: `${name} must be a whole number`, min: `${name} must be at least 0`, max: `${name} must be at most ${LIMITS.maxTopLogprobs}` }));

const ChatFields = z
  .object({
    ...Common,
    messages: z.array(MessageSchema, { error: "'messages' must be an array" }).check(z.minLength(1, "'messages' must not be empty")),
    max_completion_tokens: maxTokensField('max_completion_tokens'),
    /** Return the target's log-probability of each emitted token. */
    logprobs: nullish(z.boolean()),
    /** With logprobs: the N most likely tokens at each position too (0–20). */
    top_logprobs: topLogprobs('top_logprobs'),
  })
  .check(
    z.superRefine((r, ctx) => {
      promptLimit('messages', r.messages.reduce((n, m) => n + messageText(m).length, 0), r.prediction, ctx);
      proposerNeedsPrediction(r, ctx);
      if (r.top_logprobs != null && r.logprobs !== true) ctx.addIssue({ code: 'custom', path: ['top_logprobs'], message: 'top_logprobs needs logprobs: true' });
    }),
  );

export const ChatCompletionRequestSchema = requestSchema(ChatFields);
export type ChatCompletionRequest = z.infer<typeof ChatCompletionRequestSchema>;

const CompletionFields = z
  .object({
    ...Common,
    /** 0 only with echo: score the prompt without generating (evaluation harnesses). */
    max_tokens: maxTokensField('max_tokens', 0),
    prompt: z.union([z.string(), z.array(z.string()).check(z.length(1, 'only one prompt per request is supported'))], { error: "'prompt' must be a string" }),
    /** Log-probabilities of each token, plus the N most likely at each position (0–20). */
    logprobs: topLogprobs('logprobs'),
    /** Return the prompt before the completion (with logprobs: the prompt tokens' log-probabilities too). */
    echo: nullish(z.boolean()),
  })
  .check(
    z.superRefine((r, ctx) => {
      promptLimit('prompt', promptText(r).length, r.prediction, ctx);
      proposerNeedsPrediction(r, ctx);
      if (r.max_tokens === 0 && r.echo !== true) ctx.addIssue({ code: 'custom', path: ['max_tokens'], message: 'max_tokens must be at least 1 (0 is allowed only with echo: true)' });
    }),
  );

export const CompletionRequestSchema = requestSchema(CompletionFields);
export type CompletionRequest = z.infer<typeof CompletionRequestSchema>;

/** How many top alternatives a request wants per token, or null when it asked for no log-probabilities. */
export function requestedLogprobs(r: ChatCompletionRequest | CompletionRequest): number | null {
  if ('messages' in r) return r.logprobs === true ? (r.top_logprobs ?? 0) : null;
  return r.logprobs ?? null;
}

/** The text of a message, whether its content is a string or text parts. */
export function messageText(m: Message): string {
  if (m.content == null) return '';
  return typeof m.content === 'string' ? m.content : m.content.map((p) => p.text).join('');
}

/** The prediction's text, whether its content is a string or text parts. */
export function predictionText(p: Prediction): string {
  return typeof p.content === 'string' ? p.content : p.content.map((part) => part.text).join('');
}

/** The completion prompt as one string. */
export function promptText(r: CompletionRequest): string {
  return typeof r.prompt === 'string' ? r.prompt : r.prompt[0];
}

/** Requested token budget: max_completion_tokens wins over the legacy max_tokens. */
export function requestedMaxTokens(r: ChatCompletionRequest | CompletionRequest): number | undefined {
  const m = 'max_completion_tokens' in r ? (r.max_completion_tokens ?? r.max_tokens) : r.max_tokens;
  return m ?? undefined;
}

export function stopList(r: ChatCompletionRequest | CompletionRequest): string[] {
  return r.stop == null ? [] : typeof r.stop === 'string' ? [r.stop] : r.stop;
}

/** Deterministic answers can be cached: greedy decoding, or sampling with a fixed seed. */
export function isDeterministic(r: ChatCompletionRequest | CompletionRequest): boolean {
  return r.temperature === 0 || r.seed != null;
}
