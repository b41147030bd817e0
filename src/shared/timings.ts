import { formatServerTiming, round, type CacheStatus, type ServerTimingEntry } from '@verdict/protocol';

/** What the gateway measured for one request; rendered into Server-Timing and the final chunk's timings. */
export interface EdgeTiming {
  /** performance.now() when the request entered the worker. */
  start: number;
  /** Milliseconds spent waiting for the backend's first byte (response headers), when a backend was called. */
  upstreamMs?: number;
  cache?: CacheStatus;
  /**
   * Set on a hit from the KV tier (`Server-Timing: cache;desc=hit-kv`; a Cache API hit leaves it unset), and on
   * a draft taken from the edit index (`cache;desc=draft-edit`; one for the same conversation leaves it unset).
   */
  cacheTier?: 'kv' | 'edit';
  /** Fixed when the response starts, so Server-Timing and the final chunk report the same figure. */
  edgeMs?: number;
  /** The backend's Server-Timing, kept and extended by the timing middleware. */
  backendServerTiming?: string | null;
}

/** The gateway's figures, as added to the final chunk's (or the JSON answer's) `timings`. */
export interface GatewayFigures {
  edge_ms: number;
  upstream_ms?: number;
  cache: CacheStatus;
}

/**
 * Fixes the gateway's figures at the moment the response starts: `edge` is the time in the worker excluding
 * the wait for the backend's first byte (`upstream`). Workers only advance the clock across I/O, so `edge`
 * reflects awaited work (KV, cache, crypto), not pure CPU time.
 */
export function settleFigures(timing: EdgeTiming): GatewayFigures {
  if (timing.edgeMs === undefined) timing.edgeMs = Math.max(0, performance.now() - timing.start - (timing.upstreamMs ?? 0));
  const figures: GatewayFigures = { edge_ms: round(timing.edgeMs), cache: timing.cache ?? 'bypass' };
  if (timing.upstreamMs !== undefined) figures.upstream_ms = round(timing.upstreamMs);
  return figures;
}

/** Adds the gateway's figures to a JSON payload that carries `timings` (the final SSE chunk or a whole answer). */
export function withGatewayTimings(data: string, figures: GatewayFigures): string {
  if (!data.includes('"timings"')) return data;
  try {
    const value = JSON.parse(data) as { timings?: unknown };
    if (!value || typeof value !== 'object' || !value.timings || typeof value.timings !== 'object') return data;
    Object.assign(value.timings, figures);
    return JSON.stringify(value);
  } catch {
    return data;
  }
}

/** Server-Timing's `cache;desc=…`: the cache status, refined by where a hit or a draft came from. */
export function cacheDesc(cache: CacheStatus, tier: 'kv' | 'edit' | undefined): string {
  if (cache === 'hit' && tier === 'kv') return 'hit-kv';
  if (cache === 'draft' && tier === 'edit') return 'draft-edit';
  return cache;
}

const OURS = new Set(['edge', 'upstream', 'cache']);

/** The backend's Server-Timing kept as sent, followed by the gateway's own entries. */
export function serverTimingValue(backend: string | null, figures: GatewayFigures, cacheTier?: 'kv' | 'edit'): string {
  const ours: ServerTimingEntry[] = [{ name: 'edge', dur: figures.edge_ms }];
  if (figures.upstream_ms !== undefined) ours.push({ name: 'upstream', dur: figures.upstream_ms });
  // A hit from the KV tier says so (hit-kv), and a draft from the edit index (draft-edit); X-Cache and the final
  // chunk's `cache` say HIT / hit and DRAFT / draft for both.
  ours.push({ name: 'cache', desc: cacheDesc(figures.cache, cacheTier) });
  const kept = backend?.split(',').filter((part) => !OURS.has(part.split(';')[0].trim())).join(',').trim();
  return kept ? `${kept}, ${formatServerTiming(ours)}` : formatServerTiming(ours);
}
