import { Template } from '@huggingface/jinja';
import type { ChatMessage } from './types.ts';
import { SPECIAL_TOKEN_NAMES, type SpecialTokenName } from './manifest.ts';

/**
 * Used when bundle.json has no `chat_template`. Each turn is `<|role|>\n content EOS \n`, and the
 * generation prompt opens an assistant turn, so the model's EOS ends its reply. It does not emit
 * bos_token: `encodePrompt` prepends BOS itself.
 */
export const DEFAULT_CHAT_TEMPLATE =
  '{% for message in messages %}<|{{ message.role }}|>\n{{ message.content }}{{ eos_token }}\n{% endfor %}' +
  '{% if add_generation_prompt %}<|assistant|>\n{% endif %}';

/**
 * The special-token variables a template sees (`bos_token`, `eos_token`, `pad_token`, …: token text).
 * Hugging Face renders with the tokenizer's special tokens map spread into the context; a token the
 * tokenizer does not have is absent (undefined in the template), not an empty string.
 */
export type SpecialTokens = Partial<Record<SpecialTokenName, string>>;


export interface RenderOptions {
  /** Open the assistant's turn at the end (default true: serving always wants the reply next). */
  add_generation_prompt?: boolean;
}

export type ChatRenderer = (messages: ChatMessage[], opts?: RenderOptions) => string;

/**
 * The special tokens of a Hugging Face `tokenizer_config.json`, as transformers renders them: each
 * name's value, a plain string or an `AddedToken` object's `content`; null/empty entries are left out.
 */
export function specialTokensFromConfig(config: Record<string, unknown>): SpecialTokens {
  const out: SpecialTokens = {};
  for (const name of SPECIAL_TOKEN_NAMES) {
    const item = config[name];
    if (!item) continue;
    if (typeof item === 'string') out[name] = item;
    else if (typeof item === 'object' && typeof (item as { content?: unknown }).content === 'string') {
      const content = (item as { content: string }).content;
      if (content) out[name] = content;
    } else throw new Error(`tokenizer_config.json: ${name} is neither a string nor an AddedToken`);
  }
  return out;
}

/**
 * Compiles a Hugging Face `chat_template` (Jinja) once. Rendering follows transformers'
 * apply_chat_template: `messages`, `add_generation_prompt`, `tools`/`documents` (null) and the
 * special tokens in the context; `raise_exception` and `strftime_now` come from @huggingface/jinja.
 */
export function compileChatTemplate(source: string, specialTokens: SpecialTokens): ChatRenderer {
  const template = new Template(source);
  const tokens: Record<string, string> = {};
  for (const [k, v] of Object.entries(specialTokens)) if (v) tokens[k] = v;
  return (messages, opts = {}) =>
    template.render({ messages, add_generation_prompt: opts.add_generation_prompt ?? true, tools: null, documents: null, ...tokens });
}
