import type { Context } from 'hono';
import type { GatewayConfig } from './config.ts';
import type { GatewayEnv } from './env.ts';
import type { HealthTracker } from './upstream/health.ts';
import type { FingerprintCache } from './upstream/fingerprint.ts';
import type { FlightRegistry } from './cache/single-flight.ts';

/** Who is calling: a known API key, or anonymous traffic on a public demo route. */
export type Principal = { kind: 'key'; keyHash: string; name?: string } | { kind: 'anonymous'; ip: string };

/** What the gateway measured for one request; rendered into Server-Timing and the final chunk's timings. */
export interface EdgeTiming {
  /** performance.now() when the request entered the worker. */
  start: number;
  /** Milliseconds spent waiting for the backend's first byte (response headers), when a backend was called. */
  upstreamMs?: number;
  cache?: 'hit' | 'miss' | 'bypass';
  /** Set on a hit from the KV tier (`Server-Timing: cache;desc=hit-kv`); a Cache API hit leaves it unset. */
  cacheTier?: 'kv';
  /** Fixed when the response starts, so Server-Timing and the final chunk report the same figure. */
  edgeMs?: number;
  /** The backend's Server-Timing, kept and extended by the timing middleware. */
  backendServerTiming?: string | null;
}

/** Per-isolate state shared by all requests of one app instance (tests build a fresh instance each). */
export interface GatewayState {
  health: HealthTracker;
  fingerprints: FingerprintCache;
  flights: FlightRegistry;
  /** The fetch used for every backend call; tests substitute a fake upstream. */
  fetch: typeof fetch;
  /** Uniform [0, 1) source of the weighted backend order. */
  random: () => number;
}

export interface AppEnv {
  Bindings: GatewayEnv;
  Variables: {
    config: GatewayConfig;
    state: GatewayState;
    principal: Principal;
    /** Cache and single-flight scope: the key's hash, or "public" on demo routes. */
    scope: string;
    /** Whether this path is a public demo route. */
    isPublic: boolean;
    timing: EdgeTiming;
  };
}

export type AppContext = Context<AppEnv>;
