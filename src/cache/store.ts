import type { CachedAnswer } from './answer.ts';

export const CACHE_NAME = 'verdict-answers';
// The Cache API keys on URLs; this host is never fetched, it only names entries.
export const KEY_ORIGIN = 'https://answers.verdict.invalid/v1/';
/** KV keys of answers (the namespace may hold other things): this prefix + the same cache key as the Cache API. */
export const KV_PREFIX = 'answer:v1:';
/** KV refuses an `expirationTtl` under 60 s and a value over 25 MiB: such answers stay in the Cache API only. */
export const KV_MIN_TTL_S = 60;
export const KV_MAX_VALUE_BYTES = 25 * 1024 * 1024;

/** Stored with each KV value, so a KV hit re-populates the Cache API for what is left of the TTL, not a new one. */
interface KvMetadata {
  expires: number;
}

export interface GlobalHit {
  record: CachedAnswer;
  /** Seconds the entry has left. */
  ttlSeconds: number;
}

function parseRecord(text: string): CachedAnswer | null {
  try {
    const record = JSON.parse(text) as CachedAnswer;
    return record?.v === 1 ? record : null;
  } catch {
    return null;
  }
}

/**
 * Cached answers in two tiers: the colo's Cache API (per data centre, always), and optionally a KV namespace
 * (`CACHE_KV`) for reuse across data centres. Both use the same key (scope + fingerprint + request).
 */
export class AnswerStore {
  private cache?: Promise<Cache>;

  private open(): Promise<Cache> {
    return (this.cache ??= caches.open(CACHE_NAME));
  }

  /** The Cache API tier. */
  async get(key: string): Promise<CachedAnswer | null> {
    const res = await (await this.open()).match(KEY_ORIGIN + key);
    return res ? parseRecord(await res.text()) : null;
  }

  async put(key: string, record: CachedAnswer, ttlSeconds: number): Promise<void> {
    const res = new Response(JSON.stringify(record), {
      headers: { 'content-type': 'application/json', 'cache-control': `public, max-age=${ttlSeconds}` },
    });
    await (await this.open()).put(KEY_ORIGIN + key, res);
  }

  /** The KV tier: the answer and what is left of its TTL, or null. */
  async getGlobal(kv: KVNamespace, key: string): Promise<GlobalHit | null> {
    const { value, metadata } = await kv.getWithMetadata<KvMetadata>(KV_PREFIX + key, 'text');
    if (value === null) return null;
    const record = parseRecord(value);
    const ttlSeconds = metadata?.expires ? Math.floor((metadata.expires - Date.now()) / 1000) : 0;
    // KV expires entries lazily; one past its time is a miss like any other.
    return record && ttlSeconds > 0 ? { record, ttlSeconds } : null;
  }

  /** Writes the answer to KV too, unless its TTL is under KV's minimum or it is over KV's size limit. Returns whether it did. */
  async putGlobal(kv: KVNamespace, key: string, record: CachedAnswer, ttlSeconds: number): Promise<boolean> {
    if (ttlSeconds < KV_MIN_TTL_S) return false;
    const value = JSON.stringify(record);
    // UTF-8 is at most 3 bytes per UTF-16 unit: only measure exactly when the bound says it might not fit.
    if (value.length * 3 > KV_MAX_VALUE_BYTES && new TextEncoder().encode(value).byteLength > KV_MAX_VALUE_BYTES) return false;
    const metadata: KvMetadata = { expires: Date.now() + ttlSeconds * 1000 };
    await kv.put(KV_PREFIX + key, value, { expirationTtl: ttlSeconds, metadata });
    return true;
  }
}
