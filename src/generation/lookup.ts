import type { CachedAnswer } from '../cache/answer.ts';
import type { AnswerStore } from '../cache/store.ts';
import { logCacheError } from './cache-errors.ts';
import type { Generation } from './policy.ts';

export interface Hit {
  record: CachedAnswer;
  /** `kv`: from the global tier (this data centre's Cache API is re-populated by `backfill`). */
  tier: 'cache' | 'kv';
  backfill?: Promise<unknown>;
}

/**
 * Stage 2, lookup: the Cache API under each distinct fingerprint's key, then the KV tier (the Cache API is per
 * data centre; KV holds what any of them generated). Only an answer of the requested form (SSE or JSON) counts.
 */
export async function lookUpAnswer(g: Generation, store: AnswerStore, kv: KVNamespace | undefined): Promise<Hit | null> {
  if (g.policy !== 'lookup' || !g.distinct.length) return null;
  const wanted = (r: CachedAnswer | null | undefined): r is CachedAnswer => !!r && r.kind === (g.stream ? 'sse' : 'json');
  const keys = await Promise.all(g.distinct.map((f) => g.keyFor(f)));
  const local = (await Promise.all(keys.map((k) => store.get(k)))).find(wanted);
  if (local) return { record: local, tier: 'cache' };
  if (!kv) return null;
  const globals = await Promise.all(keys.map((k) => store.getGlobal(kv, k).catch(logCacheError('KV read'))));
  const i = globals.findIndex((found) => wanted(found?.record));
  if (i < 0) return null;
  const { record, ttlSeconds } = globals[i]!;
  return { record, tier: 'kv', backfill: store.put(keys[i], record, ttlSeconds).catch(logCacheError('cache write')) };
}
