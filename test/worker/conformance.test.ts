import { describe, expect, it } from 'vitest';
import { NEUTRAL_EXAMPLES, UNSUPPORTED_EXAMPLES } from '../../protocol/src/testing.ts';
import { chat, harness } from './harness.ts';

type ErrorBody = { error: { message: string; type: string; param: string | null; code: string | null } };

describe('OpenAI conformance at the edge', () => {
  it('refuses every field Verdict does not implement with a 400 naming it, on both routes, never calling a backend', async () => {
    const g = await harness({ 'a.test': {} });
    for (const [field, value] of Object.entries(UNSUPPORTED_EXAMPLES)) {
      for (const [path, body] of [
        ['/v1/chat/completions', chat({ [field]: value })],
        ['/v1/completions', { model: 'tiny', prompt: 'hi', [field]: value }],
      ] as const) {
        const res = await g.request(path, { method: 'POST', json: body });
        expect(res.status, `${path} ${field}`).toBe(400);
        const { error } = (await res.json()) as ErrorBody;
        expect(Object.keys(error).sort()).toEqual(['code', 'message', 'param', 'type']);
        expect(error).toMatchObject({ type: 'invalid_request_error', param: field, code: 'unsupported_parameter' });
      }
    }
    const unknown = await g.request('/v1/chat/completions', { method: 'POST', json: chat({ temprature: 0 }) });
    expect(unknown.status).toBe(400);
    expect(((await unknown.json()) as ErrorBody).error).toMatchObject({ param: 'temprature', code: 'unknown_parameter' });
    expect(g.backends.generations()).toHaveLength(0);
  });

  it('accepts the fields ignored on purpose and neutral values, and forwards only what the backend implements', async () => {
    const g = await harness({ 'a.test': {} });
    const res = await g.request('/v1/chat/completions', { method: 'POST', json: chat({ ...NEUTRAL_EXAMPLES, logprobs: true, top_logprobs: 2 }) });
    expect(res.status).toBe(200);
    const forwarded = g.backends.generations()[0].body as Record<string, unknown>;
    expect(forwarded).toMatchObject({ user: 'u1', logprobs: true, top_logprobs: 2 });
    expect(forwarded).not.toHaveProperty('frequency_penalty');
    expect(forwarded).not.toHaveProperty('metadata');
  });
});
