import { LIMITS, messageText, promptText, type ChatCompletionRequest, type CompletionRequest } from '@verdict/protocol';
import { EDIT_MIN_SIMILARITY, turnSimilarity } from '../cache/draft-key.ts';
import { cutText, type DraftStore } from '../cache/draft-store.ts';
import type { Generation } from './policy.ts';

/** A held answer's text, to be sent as the request's `prediction`. */
export interface Draft {
  text: string;
  /** Which index found it: the same conversation (other sampling settings), or the one with an edited last user turn. */
  source: 'conversation' | 'edit';
  /** Set by the upstream stage when the backend refused the `prediction` and the request went again without it. */
  refused?: boolean;
}

/**
 * Stage 4, draft (cache-as-draft, between join and upstream): for a request the answer cache could not serve,
 * the latest held answer for the same conversation, else for the same conversation with an edited last user
 * turn that is still alike (see `turnSimilarity`). Null when the policy says no, the request brings its own
 * `prediction`, or nothing is held.
 */
export async function findDraft(g: Generation, drafts: DraftStore): Promise<Draft | null> {
  if (!g.drafts.use) return null;
  const keys = await g.draftKeys();
  const same = drafts.get(keys.conversation);
  let found: Draft | null = null;
  if (same) found = { text: same.text, source: 'conversation' };
  else if (keys.edit) {
    const edited = drafts.get(keys.edit.key);
    if (edited?.turn && turnSimilarity(edited.turn, keys.edit.turn) >= EDIT_MIN_SIMILARITY) found = { text: edited.text, source: 'edit' };
  }
  if (!found) return null;
  // The protocol counts a prediction toward the prompt's limit: a draft is cut to what still fits.
  const room = LIMITS.maxPromptChars - promptChars(g);
  if (room <= 0) return null;
  found.text = cutText(found.text, room);
  return found;
}

/** The prompt's characters as the protocol counts them toward LIMITS.maxPromptChars. */
function promptChars(g: Generation): number {
  if (g.kind === 'chat') return (g.request as ChatCompletionRequest).messages.reduce((n, m) => n + messageText(m).length, 0);
  return promptText(g.request as CompletionRequest).length;
}

/** The body sent upstream: the validated request, with the draft as its `prediction` when there is one. */
export function withPrediction(request: Generation['request'], draft: Draft | null): Record<string, unknown> {
  return draft ? { ...request, prediction: { type: 'content', content: draft.text } } : { ...request };
}
