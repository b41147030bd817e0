import { isDeterministic } from '@verdict/protocol';
import type { CachedAnswer } from '../cache/answer.ts';
import { answerText } from '../cache/draft-key.ts';
import type { DraftStore } from '../cache/draft-store.ts';
import type { AnswerStore } from '../cache/store.ts';
import type { CapturedAnswer, Flight } from '../upstream/flight.ts';
import { logCacheError } from './cache-errors.ts';
import type { Generation } from './policy.ts';

/**
 * Stage 6, record: once the flight has finished cleanly, its answer goes into the Cache API (and the KV tier
 * when bound) under the fingerprint of the backend that produced it, and (cache-as-draft) its text into the
 * draft index. Only a complete answer is ever recorded: `flight.finished` is null for an error, a truncated,
 * stalled, cancelled or malformed stream. Resolves when the writes are done; never rejects.
 */
export async function recordAnswer(g: Generation, flight: Flight, store: AnswerStore, kv: KVNamespace | undefined, drafts?: DraftStore): Promise<void> {
  try {
    const captured = await flight.finished;
    if (!captured) return;
    if (drafts) await recordDraft(g, captured, drafts);
    if (g.policy === 'bypass') return;
    const fingerprint = g.fingerprints.get((await flight.opening).backend);
    if (!fingerprint) return;
    const record: CachedAnswer = { v: 1, ...captured, created: Date.now() };
    const key = await g.keyFor(fingerprint);
    await Promise.all([
      store.put(key, record, g.ttl).catch(logCacheError('cache write')),
      kv ? store.putGlobal(kv, key, record, g.ttl).catch(logCacheError('KV write')) : undefined,
    ]);
  } catch (err) {
    logCacheError('cache write')(err);
  }
}

/**
 * The draft index's share of the record stage: a complete answer's text under the conversation's key and (chat)
 * under the key without its last user turn, for the route's cache TTL. Returns whether anything was held.
 */
export async function recordDraft(g: Generation, captured: CapturedAnswer, drafts: DraftStore): Promise<boolean> {
  if (!g.drafts.record) return false;
  const text = answerText(g.kind, captured);
  if (!text) return false;
  const keys = await g.draftKeys();
  const entry = { text, deterministic: isDeterministic(g.request), turn: keys.edit?.turn ?? null };
  const held = drafts.put(keys.conversation, entry, g.ttl);
  const heldEdit = keys.edit ? drafts.put(keys.edit.key, entry, g.ttl) : false;
  return held || heldEdit;
}
