import { messageText, promptText, type ChatCompletionRequest, type CompletionRequest, type RequestKind } from '@verdict/protocol';
import { sha256Hex } from '../shared/sha256.ts';
import type { CapturedAnswer } from '../upstream/flight.ts';
import { canonicalJson } from './key.ts';

/**
 * The keys of the draft index (cache-as-draft, docs/gateway.md): where a held answer's text is found again for
 * a request that the answer cache cannot serve.
 *  - `conversation`: the conversation without its sampling settings (model, messages or prompt; no temperature,
 *    seed, max_tokens, stop, speculative, logprobs…), so a T = 0.7 regeneration finds the T = 0 answer;
 *  - `edit` (chat only): the same minus the text of the last user turn, so an edited question finds the answer to
 *    the one before; `turn` is that text, to check the two are alike (see {@link turnSimilarity}).
 * Both are scoped like the answer cache (the API key's digest, or `public`). The model's fingerprint is left out
 * on purpose: a draft is only a proposal the target verifies, so one from an older build costs nothing but
 * acceptance.
 */
export interface DraftKeys {
  conversation: string;
  edit: { key: string; turn: string } | null;
}

type Msg = { role: string; content: string | null; name: string | null };

export async function draftKeys(kind: RequestKind, r: ChatCompletionRequest | CompletionRequest, scope: string): Promise<DraftKeys> {
  const base = { v: 1, scope, kind, model: r.model };
  if (kind !== 'chat') return { conversation: await sha256Hex(canonicalJson({ ...base, index: 'conversation', prompt: promptText(r as CompletionRequest) })), edit: null };
  const messages: Msg[] = (r as ChatCompletionRequest).messages.map((m) => ({ role: m.role, content: messageText(m), name: m.name ?? null }));
  const conversation = sha256Hex(canonicalJson({ ...base, index: 'conversation', messages }));
  const last = messages.findLastIndex((m) => m.role === 'user');
  const turn = last >= 0 ? (messages[last].content ?? '') : '';
  if (!turn.trim()) return { conversation: await conversation, edit: null };
  const edited = messages.map((m, i) => (i === last ? { ...m, content: null } : m));
  const edit = sha256Hex(canonicalJson({ ...base, index: 'edit', edited: last, messages: edited }));
  return { conversation: await conversation, edit: { key: await edit, turn } };
}

/** Character bigrams of a text, lower-cased with runs of white space folded (a multiset, as counts). */
function bigrams(text: string): Map<string, number> {
  const s = Array.from(text.toLowerCase().replace(/\s+/g, ' ').trim());
  const out = new Map<string, number>();
  for (let i = 0; i + 1 < s.length; i++) {
    const b = s[i] + s[i + 1];
    out.set(b, (out.get(b) ?? 0) + 1);
  }
  return out;
}

/**
 * How alike two user turns are: the Sørensen–Dice coefficient over character bigrams, 0 (nothing shared) to 1
 * (the same text up to case and spacing). An edited turn ("…about cats" → "…about dogs") scores high; an
 * unrelated new question, whose old answer would be a useless draft, scores low.
 */
export function turnSimilarity(a: string, b: string): number {
  const x = bigrams(a);
  const y = bigrams(b);
  let nx = 0;
  let ny = 0;
  let shared = 0;
  for (const n of x.values()) nx += n;
  for (const [g, n] of y) {
    ny += n;
    shared += Math.min(n, x.get(g) ?? 0);
  }
  if (nx + ny === 0) return a.trim().toLowerCase() === b.trim().toLowerCase() ? 1 : 0;
  return (2 * shared) / (nx + ny);
}

/** An edited turn is used as a draft source only when it is at least this alike to the answered one. */
export const EDIT_MIN_SIMILARITY = 0.5;

/**
 * The answer's generated text, from what the flight captured: the JSON answer's message content (chat) or text
 * (completions), or the concatenated `delta.content` / `text` of every SSE chunk. Null when there is none.
 */
export function answerText(kind: RequestKind, captured: CapturedAnswer): string | null {
  const pick = (v: unknown): string => {
    const choice = (v as { choices?: { message?: { content?: unknown }; delta?: { content?: unknown }; text?: unknown }[] } | null)?.choices?.[0];
    const t = kind === 'chat' ? (choice?.message?.content ?? choice?.delta?.content) : choice?.text;
    return typeof t === 'string' ? t : '';
  };
  let text = '';
  try {
    if (captured.kind === 'json') text = pick(JSON.parse(captured.body));
    else for (const e of captured.events) text += pick(JSON.parse(e.data));
  } catch {
    return null;
  }
  return text || null;
}
