import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../src/server/start.ts';
import { NEUTRAL_EXAMPLES, UNSUPPORTED_EXAMPLES } from '../../protocol/src/testing.ts';
import { postJson, start, tinyJudgeBundle } from './server-helpers.ts';

// Bad requests get the right 4xx in OpenAI's error shape, and the server keeps serving.
let server: RunningServer;
let cleanup: () => Promise<void>;
const MODEL = 'synth-tiny';
const chat = (over: Record<string, unknown>) => ({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 4, ...over });

beforeAll(async () => {
  const b = await tinyJudgeBundle();
  cleanup = b.cleanup;
  server = await start({ bundle: b.dir, maxBodyBytes: 4096 });
});
afterAll(async () => {
  await server?.close();
  await cleanup?.();
});

async function expectError(res: Response, status: number, param: string | null, code?: string) {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/application\/json/);
  const body = await res.json();
  expect(Object.keys(body)).toEqual(['error']);
  expect(typeof body.error.message).toBe('string');
  expect(body.error.message.length).toBeGreaterThan(0);
  expect(typeof body.error.type).toBe('string');
  expect(body.error.param).toBe(param);
  if (code) expect(body.error.code).toBe(code);
  return body.error as { message: string; type: string };
}

describe('request errors', () => {
  const url = () => `${server.url}/v1/chat/completions`;

  it('malformed JSON -> 400', async () => {
    await expectError(await postJson(url(), '{"model": "synth-tiny", "messages": ['), 400, null, 'invalid_json');
  });

  it('wrong types -> 400 naming the field', async () => {
    await expectError(await postJson(url(), chat({ messages: 'hi' })), 400, 'messages');
    await expectError(await postJson(url(), chat({ temperature: 'hot' })), 400, 'temperature');
    await expectError(await postJson(url(), chat({ stream: 'yes' })), 400, 'stream');
    await expectError(await postJson(`${server.url}/v1/completions`, { model: MODEL, prompt: 42 }), 400, 'prompt');
  });

  it('negative, zero, fractional and huge max_tokens -> 400', async () => {
    await expectError(await postJson(url(), chat({ max_tokens: -1 })), 400, 'max_tokens');
    await expectError(await postJson(url(), chat({ max_tokens: 0 })), 400, 'max_tokens');
    await expectError(await postJson(url(), chat({ max_tokens: 2.5 })), 400, 'max_tokens');
    await expectError(await postJson(url(), chat({ max_tokens: 1e9 })), 400, 'max_tokens');
    await expectError(await postJson(url(), chat({ max_completion_tokens: -3 })), 400, 'max_completion_tokens');
    // Within the protocol's limit but beyond this model's 512-token context.
    const e = await expectError(await postJson(url(), chat({ max_tokens: 4000 })), 400, 'max_tokens', 'context_length_exceeded');
    expect(e.message).toMatch(/context of 512/);
  });

  it('a prompt longer than the context -> 400 naming the context length (not a 500), for both routes', async () => {
    const words = 'zeka trail aim '.repeat(250); // > 512 tokens, under the 4096-byte body limit
    const c = await expectError(await postJson(url(), chat({ messages: [{ role: 'user', content: words }] })), 400, 'messages', 'context_length_exceeded');
    expect(c.message).toMatch(/this model's context is 512 tokens/);
    const t = await expectError(await postJson(`${server.url}/v1/completions`, { model: MODEL, prompt: words }), 400, 'prompt', 'context_length_exceeded');
    expect(t.message).toMatch(/the prompt is \d+ tokens; this model's context is 512 tokens/);
    expect(Number(/prompt is (\d+) tokens/.exec(t.message)![1])).toBeGreaterThan(512);
  });

  it('five stop strings -> 400 naming the limit; max_completion_tokens errors name that field', async () => {
    const s = await expectError(await postJson(url(), chat({ stop: ['a', 'b', 'c', 'd', 'e'] })), 400, 'stop');
    expect(s.message).toContain('at most 4');
    const m = await expectError(await postJson(url(), chat({ max_completion_tokens: 1e9 })), 400, 'max_completion_tokens');
    expect(m.message).toContain('max_completion_tokens must be at most 8192');
  });

  it('a body over --max-body-bytes -> 413', async () => {
    const big = chat({ messages: [{ role: 'user', content: 'x'.repeat(10_000) }] });
    const e = await expectError(await postJson(url(), big), 413, null, 'body_too_large');
    expect(e.message).toMatch(/4096 bytes/);
  });

  it('unknown model -> 404', async () => {
    const e = await expectError(await postJson(url(), chat({ model: 'gpt-4o' })), 404, 'model', 'model_not_found');
    expect(e.message).toContain('gpt-4o');
  });

  it('unknown mode, bad k, n != 1 -> 400', async () => {
    const e = await expectError(await postJson(url(), chat({ speculative: { mode: 'medusa' } })), 400, 'speculative.mode');
    expect(e.message).toContain('medusa');
    await expectError(await postJson(url(), chat({ speculative: { k: 0 } })), 400, 'speculative.k');
    const n = await expectError(await postJson(url(), chat({ n: 2 })), 400, 'n');
    expect(n.message).toMatch(/n=1/);
  });

  it('unknown route -> 404 in OpenAI shape', async () => {
    await expectError(await fetch(`${server.url}/v1/embeddings`, { method: 'POST', body: '{}' }), 404, null, 'unknown_route');
  });

  it('every field Verdict does not implement -> 400 naming it, on both routes; unknown fields too', async () => {
    for (const [field, value] of Object.entries(UNSUPPORTED_EXAMPLES)) {
      const e = await expectError(await postJson(url(), chat({ [field]: value })), 400, field, 'unsupported_parameter');
      expect(e.message).toContain(`${field} is not supported`);
      await expectError(await postJson(`${server.url}/v1/completions`, { model: MODEL, prompt: 'hi', max_tokens: 4, [field]: value }), 400, field, 'unsupported_parameter');
    }
    const e = await expectError(await postJson(url(), chat({ temprature: 0 })), 400, 'temprature', 'unknown_parameter');
    expect(e.message).toMatch(/unrecognized request argument/);
  });

  it('keeps serving after all of that; fields ignored on purpose and neutral values are accepted', async () => {
    const res = await postJson(url(), chat(NEUTRAL_EXAMPLES));
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body.usage.completion_tokens).toBeLessThanOrEqual(4);
    const ready = await fetch(`${server.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready', running: 0, queued: 0 });
  });
});
