/** What the cache may do for one request. */
export type CachePolicy =
  /** Look up, join an identical generation in flight, store the answer. */
  | 'lookup'
  /** `Cache-Control: no-cache`: generate afresh (no lookup, no joining) and store the new answer. */
  | 'refresh'
  /** Not deterministic, caching disabled for the route, or `Cache-Control: no-store`: no cache at all. */
  | 'bypass';

export function cachePolicy(requestCacheControl: string | undefined, deterministic: boolean, ttlSeconds: number): CachePolicy {
  if (!deterministic || ttlSeconds <= 0) return 'bypass';
  const directives = (requestCacheControl ?? '').toLowerCase().split(',').map((d) => d.trim());
  if (directives.includes('no-store')) return 'bypass';
  if (directives.includes('no-cache') || directives.includes('max-age=0')) return 'refresh';
  return 'lookup';
}
