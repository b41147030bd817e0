import * as z from '@verdict/protocol/zod';
import { DEMO_MAX_TOKENS } from './demo/presets.ts';
import type { GatewayEnv } from './env.ts';

/** One `verdict serve` behind the gateway. */
export const BackendSchema = z.strictObject({
  url: z.pipe(
    z.url({ error: 'backend url must be an absolute http(s) URL' }),
    z.transform((u: string) => u.replace(/\/+$/, '')),
  ),
  weight: z._default(z.number().check(z.positive('backend weight must be > 0')), 1),
  /** Model ids this backend serves; "*" serves any. */
  models: z._default(z.array(z.string().check(z.minLength(1))).check(z.minLength(1)), ['*']),
  /** Name of a secret holding the Authorization header value to send to this backend. */
  auth_secret: z.optional(z.string().check(z.minLength(1))),
});
export type BackendConfig = z.infer<typeof BackendSchema> & { authorization?: string };

export interface GatewayConfig {
  backends: BackendConfig[];
  publicRoutes: Set<string>;
  /** Cache TTL in seconds by path; `default` for any other path. */
  cacheTtls: Record<string, number>;
  upstreamTimeoutMs: number;
  stallTimeoutMs: number;
  healthFailures: number;
  healthCooldownMs: number;
  timingAllowOrigin: string;
  corsOrigins: string[];
  rateLimitPeriodS: number;
  apiKeyHashes: Set<string>;
  /** Largest max_tokens a public demo route generates; bigger requests are clamped to it (default: the demo page's own DEMO_MAX_TOKENS). */
  demoMaxTokens: number;
  /** Caps on replaying a cached stream at its recorded pace. */
  replayMaxGapMs: number;
  replayMaxTotalMs: number;
  /** Largest request body accepted on the generation routes (413 above), checked before parsing. */
  maxBodyBytes: number;
  /**
   * Cache-as-draft (CACHE_AS_DRAFT): a request the cache cannot answer is sent with the text of a held answer
   * for the same conversation (other sampling settings, or an edited last user turn) as its `prediction`.
   */
  cacheAsDraft: boolean;
}

/** A configuration mistake: named after the variable so `wrangler tail` says what to fix. */
export class ConfigError extends Error {
  constructor(variable: string, problem: string) {
    super(`gateway configuration: ${variable}: ${problem}`);
    this.name = 'ConfigError';
  }
}

function parseJson(variable: string, raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch (e) {
    throw new ConfigError(variable, `not valid JSON (${(e as Error).message})`);
  }
}

function positiveInt(env: GatewayEnv, variable: keyof GatewayEnv & string, fallback: number): number {
  const raw = env[variable];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) throw new ConfigError(variable, `expected a positive integer, got ${JSON.stringify(raw)}`);
  return n;
}

function onOff(env: GatewayEnv, variable: keyof GatewayEnv & string, fallback: boolean): boolean {
  const raw = env[variable];
  if (raw === undefined || raw === '') return fallback;
  if (raw === 'on') return true;
  if (raw === 'off') return false;
  throw new ConfigError(variable, `expected "on" or "off", got ${JSON.stringify(raw)}`);
}

function list(raw: unknown): string[] {
  return typeof raw === 'string' ? raw.split(',').map((s) => s.trim()).filter(Boolean) : [];
}

function parseBackends(env: GatewayEnv): BackendConfig[] {
  const raw = parseJson('BACKENDS', env.BACKENDS ?? '[]');
  const parsed = z.array(BackendSchema).check(z.minLength(1, 'at least one backend is required')).safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ConfigError('BACKENDS', `${issue.path.length ? `[${issue.path.join('.')}] ` : ''}${issue.message}`);
  }
  return parsed.data.map((b) => {
    if (!b.auth_secret) return b;
    const value = env[b.auth_secret];
    if (typeof value !== 'string' || !value) throw new ConfigError('BACKENDS', `backend ${b.url} names auth_secret ${b.auth_secret}, which is not set (wrangler secret put ${b.auth_secret})`);
    return { ...b, authorization: value };
  });
}

function parseTtls(env: GatewayEnv): Record<string, number> {
  const raw = parseJson('CACHE_TTLS', env.CACHE_TTLS ?? '{"default":3600}');
  const parsed = z.record(z.string(), z.number().check(z.int(), z.gte(0))).safeParse(raw);
  if (!parsed.success) throw new ConfigError('CACHE_TTLS', 'expected an object of path → whole seconds ≥ 0');
  return { default: 3600, ...parsed.data };
}

const memo = new WeakMap<object, GatewayConfig>();

/** Reads and checks the whole configuration once per env object (env is stable within an isolate). */
export function loadConfig(env: GatewayEnv): GatewayConfig {
  const hit = memo.get(env);
  if (hit) return hit;
  const hashes = list(env.API_KEY_HASHES).map((h) => h.toLowerCase());
  const bad = hashes.find((h) => !/^[0-9a-f]{64}$/.test(h));
  if (bad) throw new ConfigError('API_KEY_HASHES', `${JSON.stringify(bad)} is not a SHA-256 hex digest (64 hex characters)`);
  const config: GatewayConfig = {
    backends: parseBackends(env),
    publicRoutes: new Set(list(env.PUBLIC_ROUTES)),
    cacheTtls: parseTtls(env),
    upstreamTimeoutMs: positiveInt(env, 'UPSTREAM_TIMEOUT_MS', 30_000),
    stallTimeoutMs: positiveInt(env, 'STALL_TIMEOUT_MS', 15_000),
    healthFailures: positiveInt(env, 'HEALTH_FAILURES', 3),
    healthCooldownMs: positiveInt(env, 'HEALTH_COOLDOWN_MS', 10_000),
    timingAllowOrigin: typeof env.TIMING_ALLOW_ORIGIN === 'string' ? env.TIMING_ALLOW_ORIGIN : '*',
    corsOrigins: list(env.CORS_ORIGINS ?? '*'),
    rateLimitPeriodS: positiveInt(env, 'RATE_LIMIT_PERIOD_S', 60),
    apiKeyHashes: new Set(hashes),
    demoMaxTokens: positiveInt(env, 'DEMO_MAX_TOKENS', DEMO_MAX_TOKENS),
    replayMaxGapMs: positiveInt(env, 'REPLAY_MAX_GAP_MS', 250),
    replayMaxTotalMs: positiveInt(env, 'REPLAY_MAX_TOTAL_MS', 8000),
    maxBodyBytes: positiveInt(env, 'MAX_BODY_BYTES', 1_048_576),
    // Off unless wrangler.toml turns it on: it changes what reaches the backends (an older deploy's vars keep today's behaviour).
    cacheAsDraft: onOff(env, 'CACHE_AS_DRAFT', false),
  };
  memo.set(env, config);
  return config;
}

export function cacheTtlFor(config: GatewayConfig, path: string): number {
  return config.cacheTtls[path] ?? config.cacheTtls.default ?? 0;
}
