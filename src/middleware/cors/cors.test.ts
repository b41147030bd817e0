import { describe, expect, it } from 'vitest';
import { harness } from '../../../test/worker/harness.ts';

describe('CORS', () => {
  it('answers a preflight from an allowed origin and exposes the timing headers; other origins get no grant', async () => {
    const g = await harness({ 'a.test': {} }, { CORS_ORIGINS: 'https://demo.example' });
    const preflight = { method: 'OPTIONS', key: null, headers: { 'access-control-request-method': 'POST' } } as const;
    const ok = await g.request('/v1/chat/completions', { ...preflight, headers: { ...preflight.headers, origin: 'https://demo.example' } });
    expect(ok.status).toBe(204);
    expect(ok.headers.get('access-control-allow-origin')).toBe('https://demo.example');
    expect(ok.headers.get('access-control-allow-headers')).toContain('authorization');
    const other = await g.request('/v1/chat/completions', { ...preflight, headers: { ...preflight.headers, origin: 'https://elsewhere.example' } });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
    const res = await g.request('/v1/models', { headers: { origin: 'https://demo.example' } });
    const exposed = (res.headers.get('access-control-expose-headers') ?? '').toLowerCase().split(/,\s*/);
    // A page can read the timings, cache status, ids and back-off, and every spec-decode stat the backend sends.
    for (const h of ['server-timing', 'x-cache', 'x-request-id', 'retry-after', 'x-verdict-coalesced', 'x-verdict-mode', 'x-verdict-k', 'x-verdict-accepted-per-step']) expect(exposed).toContain(h);
  });
});
