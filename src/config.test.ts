import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.ts';
import { harness } from '../test/worker/harness.ts';

describe('configuration', () => {
  it('reads the pool, lists and numbers with defaults', () => {
    const c = loadConfig({ BACKENDS: '[{"url":"http://x.test/","weight":2,"models":["tiny"]}]', PUBLIC_ROUTES: '/a, /b', CACHE_TTLS: '{"/a":5}' });
    expect(c.backends).toEqual([{ url: 'http://x.test', weight: 2, models: ['tiny'] }]);
    expect([...c.publicRoutes]).toEqual(['/a', '/b']);
    expect(c.cacheTtls).toEqual({ default: 3600, '/a': 5 });
    expect(c.stallTimeoutMs).toBe(15_000);
    expect(c.maxBodyBytes).toBe(1_048_576);
    expect(loadConfig({ BACKENDS: '[{"url":"http://x.test"}]', MAX_BODY_BYTES: '4096' }).maxBodyBytes).toBe(4096);
    expect(() => loadConfig({ BACKENDS: '[{"url":"http://x.test"}]', MAX_BODY_BYTES: '-1' })).toThrow(/MAX_BODY_BYTES/);
    expect(c.cacheAsDraft).toBe(false);
    expect(loadConfig({ BACKENDS: '[{"url":"http://x.test"}]', CACHE_AS_DRAFT: 'on' }).cacheAsDraft).toBe(true);
    expect(loadConfig({ BACKENDS: '[{"url":"http://x.test"}]', CACHE_AS_DRAFT: 'off' }).cacheAsDraft).toBe(false);
    expect(() => loadConfig({ BACKENDS: '[{"url":"http://x.test"}]', CACHE_AS_DRAFT: 'true' })).toThrow(/CACHE_AS_DRAFT: expected "on" or "off"/);
  });

  it('names the variable and the problem', () => {
    expect(() => loadConfig({ BACKENDS: '[{"url":"nope"}]' })).toThrow(/BACKENDS: \[0\.url\]/);
    expect(() => loadConfig({ BACKENDS: '[' })).toThrow(/BACKENDS: not valid JSON/);
    expect(() => loadConfig({ BACKENDS: '[]' })).toThrow(/at least one backend/);
    expect(() => loadConfig({ BACKENDS: '[{"url":"http://x.test","auth_secret":"B_TOKEN"}]' })).toThrow(/wrangler secret put B_TOKEN/);
    expect(() => loadConfig({ BACKENDS: '[{"url":"http://x.test"}]', STALL_TIMEOUT_MS: 'soon' })).toThrow(ConfigError);
    expect(() => loadConfig({ BACKENDS: '[{"url":"http://x.test"}]', API_KEY_HASHES: 'plaintext-key' })).toThrow(/API_KEY_HASHES/);
  });

  it('sends the backend auth header from the named secret', async () => {
    const g = await harness({ 'a.test': {} }, { BACKENDS: '[{"url":"http://a.test","models":["tiny"],"auth_secret":"BACKEND_A_TOKEN"}]', BACKEND_A_TOKEN: 'Bearer backend-secret' });
    const res = await g.request('/v1/models');
    expect(res.status).toBe(200);
    expect(g.backends.calls.length).toBeGreaterThan(0);
    expect(g.backends.calls.every((c) => c.authorization === 'Bearer backend-secret')).toBe(true);
  });

  it('answers a misconfigured gateway with a 500 that says what to fix', async () => {
    const g = await harness({ 'a.test': {} }, { BACKENDS: '{"url":"http://a.test"}' });
    const res = await g.request('/v1/models');
    expect(res.status).toBe(500);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('gateway_misconfigured');
    expect(body.error.message).toContain('BACKENDS');
  });
});
