import { Template } from '@huggingface/jinja';
import type { ChatMessage } from './types.ts';

/**
 * Used when bundle.json has no `chat_template`. Each turn is `<|role|>\n content EOS \n`, and the
 * generation prompt opens an assistant turn, so the model's EOS ends its reply. It does not emit
 * bos_token: `encodePrompt` prepends BOS itself.
 */
export const DEFAULT_CHAT_TEMPLATE =
  '{% for message in messages %}<|{{ message.role }}|>\n{{ message.content }}{{ eos_token }}\n{% endfor %}' +
  '{% if add_generation_prompt %}<|assistant|>\n{% endif %}';

export interface ChatTemplateVars {
  bos_token: string;
  eos_token: string;
}

/** Compiles a Hugging Face `chat_template` (Jinja) once; rendering follows transformers' apply_chat_template. */
export function compileChatTemplate(source: string, vars: ChatTemplateVars): (messages: ChatMessage[]) => string {
  const template = new Template(source);
  return (messages) => template.render({ messages, add_generation_prompt: true, ...vars });
}
