import { createExecutionContext, env, waitOnExecutionContext } from 'cloudflare:test';
import { createGateway } from '../../src/index.ts';
import { sha256Hex } from '../../src/shared/sha256.ts';
import type { GatewayEnv } from '../../src/env.ts';
import { FakeBackends, type FakeBackendOptions } from './fake-backend.ts';

export const KEY_A = 'sk-test-alice';
export const KEY_B = 'sk-test-bob';

export const allowAll: RateLimit = { limit: async () => ({ success: true }) };

/**
 * A fresh gateway (own health and single-flight state) in front of fake backends, with the bindings of the
 * test worker (KV, Cache API) and two known keys. Each harness uses its own model fingerprint, so cached
 * answers never leak between tests.
 */
export async function harness(hosts: Record<string, FakeBackendOptions>, vars: Partial<GatewayEnv> = {}, options: { random?: () => number } = {}) {
  const fingerprint = `fp-${crypto.randomUUID()}`;
  for (const h of Object.values(hosts)) h.fingerprint ??= fingerprint;
  const backends = new FakeBackends(hosts);
  const app = createGateway({ fetch: backends.fetch, random: options.random });
  const testEnv: GatewayEnv = {
    ...env,
    BACKENDS: JSON.stringify(Object.keys(hosts).map((h) => ({ url: `http://${h}`, weight: 1, models: ['tiny'] }))),
    API_KEY_HASHES: [await sha256Hex(KEY_A), await sha256Hex(KEY_B)].join(','),
    KEY_LIMITER: allowAll,
    IP_LIMITER: allowAll,
    STALL_TIMEOUT_MS: '300',
    UPSTREAM_TIMEOUT_MS: '300',
    ...vars,
  };
  /** One request through the gateway; `settled()` waits for its background work (cache writes). */
  async function request(path: string, init: RequestInit & { key?: string | null; json?: unknown } = {}) {
    const headers = new Headers(init.headers);
    const key = init.key === undefined ? KEY_A : init.key;
    if (key) headers.set('authorization', `Bearer ${key}`);
    let body = init.body;
    if (init.json !== undefined) {
      headers.set('content-type', 'application/json');
      body = JSON.stringify(init.json);
    }
    const ctx = createExecutionContext();
    const res = await app.request(`http://gateway${path}`, { ...init, headers, body }, testEnv, ctx);
    return Object.assign(res, { settled: () => waitOnExecutionContext(ctx) });
  }
  return { app, backends, env: testEnv, request };
}

export function chat(extra: Record<string, unknown> = {}) {
  return { model: 'tiny', messages: [{ role: 'user', content: 'Say hello' }], temperature: 0, ...extra };
}
