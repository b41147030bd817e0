import type { CachedAnswer } from './record.ts';

const CACHE_NAME = 'verdict-answers';
// The Cache API keys on URLs; this host is never fetched, it only names entries.
const KEY_ORIGIN = 'https://answers.verdict.invalid/v1/';

/** Cached answers in the colo's Cache API (per data centre; a KV tier could add global reuse). */
export class AnswerStore {
  private cache?: Promise<Cache>;

  private open(): Promise<Cache> {
    return (this.cache ??= caches.open(CACHE_NAME));
  }

  async get(key: string): Promise<CachedAnswer | null> {
    const res = await (await this.open()).match(KEY_ORIGIN + key);
    if (!res) return null;
    try {
      const record = (await res.json()) as CachedAnswer;
      return record?.v === 1 ? record : null;
    } catch {
      return null;
    }
  }

  async put(key: string, record: CachedAnswer, ttlSeconds: number): Promise<void> {
    const res = new Response(JSON.stringify(record), {
      headers: { 'content-type': 'application/json', 'cache-control': `public, max-age=${ttlSeconds}` },
    });
    await (await this.open()).put(KEY_ORIGIN + key, res);
  }
}
