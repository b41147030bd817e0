/**
 * What the gateway reads from its environment. Declared here (not only in the generated
 * worker-configuration.d.ts) so tests can build an env with other values, and so secrets that wrangler.toml
 * cannot list (API_KEY_HASHES, backend auth secrets) are typed too.
 */
export interface GatewayEnv {
  BACKENDS?: string;
  PUBLIC_ROUTES?: string;
  CACHE_TTLS?: string;
  UPSTREAM_TIMEOUT_MS?: string;
  STALL_TIMEOUT_MS?: string;
  HEALTH_FAILURES?: string;
  HEALTH_COOLDOWN_MS?: string;
  TIMING_ALLOW_ORIGIN?: string;
  CORS_ORIGINS?: string;
  RATE_LIMIT_PERIOD_S?: string;
  DEMO_MAX_TOKENS?: string;
  REPLAY_MAX_GAP_MS?: string;
  REPLAY_MAX_TOTAL_MS?: string;
  MAX_BODY_BYTES?: string;
  /** "on" | "off": cache-as-draft (docs/gateway.md, "Cache as draft"). */
  CACHE_AS_DRAFT?: string;
  /** Secret: comma-separated SHA-256 hex digests of accepted API keys (alternative or addition to the KV namespace). */
  API_KEY_HASHES?: string;
  API_KEYS?: KVNamespace;
  /** Optional global tier of the answer cache (docs/gateway.md, "Edge cache"); without it only the Cache API is used. */
  CACHE_KV?: KVNamespace;
  KEY_LIMITER?: RateLimit;
  IP_LIMITER?: RateLimit;
  /** Backend auth secrets are looked up by the name given in a backend's `auth_secret`. */
  [secret: string]: unknown;
}
