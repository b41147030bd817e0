import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBackend, startGatewayFor, synthTinyBundle, type Backend, type Gateway } from './gateway-stack.ts';

// The official `openai` SDK, unchanged, against the gateway (Miniflare) in front of a real `verdict serve`.
const KEY = 'sk-e2e-sdk';
const MODEL = 'synth-tiny';

let bundle: { dir: string; cleanup: () => Promise<void> };
let backend: Backend;
let gw: Gateway;
let client: OpenAI;
let fingerprint: string;

beforeAll(async () => {
  bundle = await synthTinyBundle();
  backend = await startBackend(bundle.dir);
  gw = await startGatewayFor([backend], [KEY], { STALL_TIMEOUT_MS: '10000' });
  client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: KEY, maxRetries: 0 });
  const models = (await (await fetch(`${backend.url}/v1/models`)).json()) as { data: { x_verdict: { fingerprint: string } }[] };
  fingerprint = models.data[0].x_verdict.fingerprint;
}, 180_000);

afterAll(async () => {
  await gw?.stop();
  await backend?.kill();
  await bundle?.cleanup();
});

const messages = [{ role: 'user' as const, content: 'tell me about the sea' }];

describe('the official openai SDK through the gateway', () => {
  it('chat, non-streaming', async () => {
    const { data, response } = await client.chat.completions.create({ model: MODEL, messages, max_tokens: 12, temperature: 0 }).withResponse();
    expect(data.object).toBe('chat.completion');
    expect(data.choices[0].message.role).toBe('assistant');
    expect(data.choices[0].message.content!.length).toBeGreaterThan(0);
    expect(data.choices[0].finish_reason).toBe('length');
    expect(data.usage).toMatchObject({ completion_tokens: 12, completion_tokens_details: { reasoning_tokens: 0 }, prompt_tokens_details: { cached_tokens: 0 } });
    expect(data.system_fingerprint).toBe(fingerprint);
    expect(response.headers.get('x-cache')).toMatch(/MISS|HIT/);
  });

  it('chat, streaming with include_usage: usage null on every chunk but the last, which has usage and timings', async () => {
    const body = { model: MODEL, messages, max_tokens: 10, temperature: 0, seed: 7 };
    const whole = await client.chat.completions.create(body);
    const stream = await client.chat.completions.create({ ...body, stream: true, stream_options: { include_usage: true } });
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    for await (const c of stream) chunks.push(c);
    expect(chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('')).toBe(whole.choices[0].message.content);
    const last = chunks.at(-1)!;
    expect(last.choices).toEqual([]);
    expect(last.usage).toMatchObject({ completion_tokens: 10, total_tokens: whole.usage!.total_tokens });
    expect((last as unknown as { timings: { edge_ms: number } }).timings.edge_ms).toBeGreaterThanOrEqual(0);
    for (const c of chunks.slice(0, -1)) expect(c.usage).toBeNull();
    for (const c of chunks) expect(c.system_fingerprint).toBe(fingerprint);
    expect(chunks.at(-2)!.choices[0].finish_reason).toBe('length');
  });

  it('chat logprobs through the gateway, also from its cache', async () => {
    const body = { model: MODEL, messages, max_tokens: 8, temperature: 0, logprobs: true, top_logprobs: 2 };
    const first = await client.chat.completions.create(body);
    const content = first.choices[0].logprobs!.content!;
    expect(content).toHaveLength(8);
    for (const c of content) {
      expect(c.logprob).toBeLessThanOrEqual(0);
      expect(c.top_logprobs).toHaveLength(2);
    }
    const { data: again, response } = await client.chat.completions.create(body).withResponse();
    expect(response.headers.get('x-cache')).toBe('HIT');
    expect(again.choices[0].logprobs).toEqual(first.choices[0].logprobs);
    // the same request without logprobs is another cache entry, answered without them
    const plain = await client.chat.completions.create({ ...body, logprobs: undefined, top_logprobs: undefined });
    expect(plain.choices[0].logprobs).toBeNull();
  });

  it('completions, streaming and not, and the evaluation-harness shape (echo, logprobs, max_tokens 0)', async () => {
    const body = { model: MODEL, prompt: 'once upon a time', max_tokens: 8, temperature: 0 };
    const whole = await client.completions.create(body);
    expect(whole.object).toBe('text_completion');
    const stream = await client.completions.create({ ...body, stream: true });
    let text = '';
    for await (const c of stream) text += c.choices[0]?.text ?? '';
    expect(text).toBe(whole.choices[0].text);
    const scored = await client.completions.create({ model: MODEL, prompt: 'once upon a time', echo: true, logprobs: 1, max_tokens: 0 });
    expect(scored.choices[0].text).toBe('once upon a time');
    expect(scored.choices[0].logprobs!.token_logprobs![0]).toBeNull();
    expect(scored.choices[0].logprobs!.token_logprobs!.slice(1).every((x) => typeof x === 'number' && x <= 0)).toBe(true);
  });

  it('errors surface as the SDK\'s APIError subclasses with the right status, param and code', async () => {
    const unsupported = await client.chat.completions.create({ model: MODEL, messages, presence_penalty: 1 }).catch((e: unknown) => e);
    expect(unsupported).toBeInstanceOf(OpenAI.BadRequestError);
    expect(unsupported).toMatchObject({ status: 400, param: 'presence_penalty', code: 'unsupported_parameter' });
    const unknownModel = await client.chat.completions.create({ model: 'gpt-4o', messages }).catch((e: unknown) => e);
    expect(unknownModel).toBeInstanceOf(OpenAI.NotFoundError);
    expect((unknownModel as OpenAI.APIError).status).toBe(404);
    const badKey = await new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'sk-wrong', maxRetries: 0 }).chat.completions.create({ model: MODEL, messages }).catch((e: unknown) => e);
    expect(badKey).toBeInstanceOf(OpenAI.AuthenticationError);
    expect((badKey as OpenAI.APIError).status).toBe(401);
    const zeroTokens = await client.completions.create({ model: MODEL, prompt: 'x', max_tokens: 0 }).catch((e: unknown) => e);
    expect(zeroTokens).toBeInstanceOf(OpenAI.APIError);
    expect(zeroTokens).toMatchObject({ status: 400, param: 'max_tokens' });
  });
});
