import { describe, expect, it } from 'vitest';
import { env } from 'cloudflare:test';
import { sha256Hex } from '../../shared/sha256.ts';
import { chat, harness, KEY_A } from '../../../test/worker/harness.ts';

describe('auth', () => {
  it('refuses a request without a key with OpenAI-shaped 401', async () => {
    const g = await harness({ 'a.test': {} });
    const res = await g.request('/v1/chat/completions', { method: 'POST', key: null, json: chat() });
    expect(res.status).toBe(401);
    const body = (await res.json()) as { error: { type: string; code: string; message: string; param: null } };
    expect(body.error).toMatchObject({ type: 'authentication_error', code: 'missing_api_key', param: null });
    expect(res.headers.get('www-authenticate')).toContain('Bearer');
    expect(g.backends.calls).toHaveLength(0);
  });

  it('refuses an unknown key and a malformed header', async () => {
    const g = await harness({ 'a.test': {} });
    const bad = await g.request('/v1/models', { key: 'sk-wrong' });
    expect(bad.status).toBe(401);
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe('invalid_api_key');
    const malformed = await g.request('/v1/models', { key: null, headers: { authorization: 'Basic abc' } });
    expect(malformed.status).toBe(401);
  });

  it('accepts a key listed by hash in API_KEY_HASHES', async () => {
    const g = await harness({ 'a.test': {} });
    const res = await g.request('/v1/models', { key: KEY_A });
    expect(res.status).toBe(200);
  });

  it('accepts a key stored by hash in the API_KEYS KV namespace, and not a disabled one', async () => {
    const g = await harness({ 'a.test': {} });
    await env.API_KEYS.put(await sha256Hex('sk-from-kv'), JSON.stringify({ name: 'carol' }));
    await env.API_KEYS.put(await sha256Hex('sk-disabled'), JSON.stringify({ name: 'dave', disabled: true }));
    expect((await g.request('/v1/models', { key: 'sk-from-kv' })).status).toBe(200);
    expect((await g.request('/v1/models', { key: 'sk-disabled' })).status).toBe(401);
  });

  it('admits anonymous callers only on public demo routes', async () => {
    const g = await harness({ 'a.test': {} }, { PUBLIC_ROUTES: '/demo/v1/chat/completions' });
    const demo = await g.request('/demo/v1/chat/completions', { method: 'POST', key: null, json: chat() });
    expect(demo.status).toBe(200);
    const api = await g.request('/v1/chat/completions', { method: 'POST', key: null, json: chat() });
    expect(api.status).toBe(401);
  });

  it('serves /healthz without a key', async () => {
    const g = await harness({ 'a.test': {} }, { PUBLIC_ROUTES: '' });
    expect((await g.request('/healthz', { key: null })).status).toBe(200);
  });
});
