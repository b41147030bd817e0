import { z } from 'zod';
import { SpeculativeSchema } from './speculative.ts';

/** Upper bounds the protocol itself enforces; a server may set lower ones. */
export const LIMITS = { maxTokens: 8192, maxStop: 4, maxPromptChars: 200_000, maxSeed: 2 ** 53 - 1 } as const;

const TextPart = z.object({ type: z.literal('text'), text: z.string() }).strip();
const Content = z.union([z.string(), z.array(TextPart).min(1)]);

export const MessageSchema = z
  .object({
    role: z.enum(['system', 'developer', 'user', 'assistant', 'tool']),
    content: Content.nullable().optional(),
    name: z.string().optional(),
  })
  .strip();
export type Message = z.infer<typeof MessageSchema>;

const Stop = z
  .union([z.string().min(1, 'stop strings must not be empty'), z.array(z.string().min(1, 'stop strings must not be empty')).max(LIMITS.maxStop, `at most ${LIMITS.maxStop} stop sequences`)])
  .nullable()
  .optional();

function maxTokensField(name: string) {
  return z.number().int(`${name} must be a whole number`).min(1, `${name} must be at least 1`).max(LIMITS.maxTokens, `${name} must be at most ${LIMITS.maxTokens}`).nullable().optional();
}

/** Refuses a prompt longer than LIMITS.maxPromptChars, naming the field (`messages` / `prompt`) and the limit. */
function promptLimit(param: 'messages' | 'prompt', chars: number, ctx: z.RefinementCtx): void {
  if (chars <= LIMITS.maxPromptChars) return;
  ctx.addIssue({ code: 'custom', path: [param], message: `the prompt is ${chars} characters; at most ${LIMITS.maxPromptChars} characters are accepted` });
}

/** Sampling and control fields shared by chat and completions. Unknown fields are dropped, as OpenAI clients send many. */
const Common = {
  model: z.string({ error: "'model' is required" }).min(1, "'model' must not be empty"),
  max_tokens: maxTokensField('max_tokens'),
  temperature: z.number().min(0).max(2).nullable().optional(),
  top_p: z.number().gt(0).max(1).nullable().optional(),
  top_k: z.number().int().min(0).nullable().optional(),
  seed: z.number().int().min(0).max(LIMITS.maxSeed).nullable().optional(),
  stop: Stop,
  stream: z.boolean().nullable().optional(),
  stream_options: z.object({ include_usage: z.boolean().optional() }).strip().nullable().optional(),
  n: z.literal(1, { error: 'only n=1 is supported' }).nullable().optional(),
  user: z.string().optional(),
  speculative: SpeculativeSchema.optional(),
};

export const ChatCompletionRequestSchema = z
  .object({
    ...Common,
    messages: z.array(MessageSchema, { error: "'messages' must be an array" }).min(1, "'messages' must not be empty"),
    max_completion_tokens: maxTokensField('max_completion_tokens'),
  })
  .strip()
  .superRefine((r, ctx) => promptLimit('messages', r.messages.reduce((n, m) => n + messageText(m).length, 0), ctx));
export type ChatCompletionRequest = z.infer<typeof ChatCompletionRequestSchema>;

export const CompletionRequestSchema = z
  .object({
    ...Common,
    prompt: z.union([z.string(), z.array(z.string()).length(1, 'only one prompt per request is supported')], { error: "'prompt' must be a string" }),
  })
  .strip()
  .superRefine((r, ctx) => promptLimit('prompt', promptText(r).length, ctx));
export type CompletionRequest = z.infer<typeof CompletionRequestSchema>;

/** The text of a message, whether its content is a string or text parts. */
export function messageText(m: Message): string {
  if (m.content == null) return '';
  return typeof m.content === 'string' ? m.content : m.content.map((p) => p.text).join('');
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
