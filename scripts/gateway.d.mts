/** Types of scripts/gateway.mjs, the one local launcher of the gateway (npm start, e2e tests, bench). */
export interface GatewayOptions {
  /** The backend pool (BACKENDS); default one backend at $VERDICT_BACKEND_URL or http://127.0.0.1:8080. */
  backends?: { url: string; weight?: number; models?: string[] }[];
  port?: number;
  host?: string;
  /** Plain keys accepted (their SHA-256 goes into API_KEY_HASHES); default the dev key. */
  apiKeys?: string[];
  /** Overrides of wrangler.toml's [vars]. */
  vars?: Record<string, string>;
  /** Overrides of a rate-limit binding's limit (the bench's load loop must not reach it); the period stays wrangler.toml's. */
  rateLimits?: Record<string, { limit: number }>;
  /** false: no static assets (public/) in front of the worker; only to measure the asset router's share. */
  assets?: boolean;
  /** false: skip wrangler.toml's [build] command (the demo page bundle). */
  build?: boolean;
  logLevel?: 'none' | 'error' | 'warn' | 'info' | 'log' | 'debug';
}
export interface RunningGateway {
  url: URL;
  /** The Miniflare instance (its API, e.g. getKVNamespace, for callers that need a binding). */
  miniflare: unknown;
  stop: () => Promise<void>;
}
export const DEV_API_KEY: string;
export const LOCAL_CF: Record<string, unknown>;
export function sha256Hex(text: string): string;
export function startGateway(options?: GatewayOptions): Promise<RunningGateway>;
/** A worker that only forwards to `backendUrl`, in the same Miniflare: the simulator's own share of the latency. */
export function startForwardingWorker(backendUrl: string): Promise<{ url: URL; stop: () => Promise<void> }>;
export function checkRateLimitPeriod(vars?: Record<string, unknown>, ratelimits?: Record<string, { simple?: { period?: number } }>): void;
