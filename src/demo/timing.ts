import type { Timings } from '@verdict/protocol/browser';
import type { ServerTimingEntry } from '@verdict/protocol/browser';

/** The gateway's cache status (protocol's CACHE_STATUSES: hit, miss, bypass, draft), or unknown when nothing said. */
export type CacheStatus = 'hit' | 'miss' | 'bypass' | 'draft' | 'unknown';
const KNOWN = new Set<string>(['hit', 'miss', 'bypass', 'draft']);

/** One bar of the timing chart. */
export interface TimingBar {
  name: 'queue' | 'prefill' | 'draft' | 'verify' | 'judge' | 'edge' | 'upstream';
  ms: number;
  /** Where the figure came from: the final chunk's timings, or the Server-Timing header. */
  source: 'timings' | 'server-timing';
}

const FROM_TIMINGS: [TimingBar['name'], keyof Timings][] = [
  ['queue', 'queue_ms'],
  ['prefill', 'prefill_ms'],
  ['draft', 'draft_ms'],
  ['verify', 'verify_ms'],
  ['judge', 'judge_ms'],
  ['edge', 'edge_ms'],
  ['upstream', 'upstream_ms'],
];

/**
 * The breakdown the page draws after a stream ends. The final chunk's `timings` is complete (the gateway adds
 * edge/upstream to it); `Server-Timing` is sent with the headers, so on a stream it knows only what was known at
 * the first byte — it fills in what `timings` lacks (e.g. edge/upstream when the gateway didn't add them).
 */
export function timingBars(timings: Timings | null, serverTiming: readonly ServerTimingEntry[]): TimingBar[] {
  const bars: TimingBar[] = [];
  for (const [name, key] of FROM_TIMINGS) {
    const v = timings?.[key];
    if (typeof v === 'number' && Number.isFinite(v)) {
      bars.push({ name, ms: v, source: 'timings' });
      continue;
    }
    const entry = serverTiming.find((e) => e.name === name && typeof e.dur === 'number');
    if (entry) bars.push({ name, ms: entry.dur!, source: 'server-timing' });
  }
  return bars;
}

/** Whether the answer came from the edge cache: X-Cache first, then Server-Timing `cache;desc=…`, then timings.cache. */
export function cacheStatus(xCache: string | null, serverTiming: readonly ServerTimingEntry[], timings: Timings | null): CacheStatus {
  const fromHeader = xCache?.trim().toLowerCase();
  if (fromHeader && KNOWN.has(fromHeader)) return fromHeader as CacheStatus;
  const desc = serverTiming.find((e) => e.name === 'cache')?.desc?.toLowerCase();
  if (desc === 'hit-kv') return 'hit'; // the gateway's KV tier
  if (desc === 'draft-edit') return 'draft'; // a draft from the edited-turn index
  if (desc && KNOWN.has(desc)) return desc as CacheStatus;
  return timings?.cache ?? 'unknown';
}

/**
 * Bar widths as fractions of the scale (by default the longest bar; two panes pass a common one so their charts
 * compare), never below a visible sliver for non-zero values.
 */
export function barFractions(bars: readonly TimingBar[], scaleMs?: number): number[] {
  const max = Math.max(0, scaleMs ?? 0, ...bars.map((b) => b.ms));
  return bars.map((b) => (max <= 0 ? 0 : b.ms <= 0 ? 0 : Math.max(0.01, b.ms / max)));
}
