import type { CachedAnswer } from '../cache/answer.ts';
import type { AnswerStore } from '../cache/store.ts';
import type { Flight } from '../upstream/flight.ts';
import { logCacheError } from './cache-errors.ts';
import type { Generation } from './policy.ts';

/**
 * Stage 5, record: once the flight has finished cleanly, its answer goes into the Cache API (and the KV tier
 * when bound) under the fingerprint of the backend that produced it. Resolves when the writes are done; never rejects.
 */
export async function recordAnswer(g: Generation, flight: Flight, store: AnswerStore, kv: KVNamespace | undefined): Promise<void> {
  try {
    const captured = await flight.finished;
    if (!captured || g.policy === 'bypass') return;
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
