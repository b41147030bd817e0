import { describe, expect, it } from 'vitest';
import { ChatCompletionRequestSchema, CompletionRequestSchema } from '@verdict/protocol';
import { cacheKey, canonicalJson } from './key.ts';

const chat = (r: unknown) => ChatCompletionRequestSchema.parse(r);
const base = { model: 'm', messages: [{ role: 'user', content: 'hi' }], temperature: 0 };

describe('cache key', () => {
  it('serialises objects with sorted keys at every level', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { f: 1, e: 2 }], c: null } })).toBe('{"a":{"c":null,"d":[1,{"e":2,"f":1}]},"b":1}');
  });

  it('is equal for equivalent spellings of one request', async () => {
    const k = await cacheKey('chat', chat(base), 'fp', 's');
    expect(await cacheKey('chat', chat({ ...base, messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }] }] }), 'fp', 's')).toBe(k);
    expect(await cacheKey('chat', chat({ temperature: 0, messages: base.messages, model: 'm', user: 'someone', logprobs: false, frequency_penalty: 0 }), 'fp', 's')).toBe(k);
    const withMax = await cacheKey('chat', chat({ ...base, max_tokens: 5 }), 'fp', 's');
    expect(await cacheKey('chat', chat({ ...base, max_completion_tokens: 5 }), 'fp', 's')).toBe(withMax);
    const withStop = await cacheKey('chat', chat({ ...base, stop: 'x' }), 'fp', 's');
    expect(await cacheKey('chat', chat({ ...base, stop: ['x'] }), 'fp', 's')).toBe(withStop);
    const predicted = await cacheKey('chat', chat({ ...base, prediction: { type: 'content', content: 'ab' } }), 'fp', 's');
    expect(await cacheKey('chat', chat({ ...base, prediction: { type: 'content', content: [{ type: 'text', text: 'a' }, { type: 'text', text: 'b' }] } }), 'fp', 's')).toBe(predicted);
  });

  it('differs for anything that changes the answer, the fingerprint, the scope, and stream vs JSON', async () => {
    const k = await cacheKey('chat', chat(base), 'fp', 's');
    const variants = [
      cacheKey('chat', chat({ ...base, model: 'n' }), 'fp', 's'),
      cacheKey('chat', chat({ ...base, messages: [{ role: 'user', content: 'hi!' }] }), 'fp', 's'),
      cacheKey('chat', chat({ ...base, messages: [{ role: 'system', content: 'hi' }] }), 'fp', 's'),
      cacheKey('chat', chat({ ...base, max_tokens: 3 }), 'fp', 's'),
      cacheKey('chat', chat({ ...base, top_k: 3 }), 'fp', 's'),
      cacheKey('chat', chat({ ...base, seed: 1 }), 'fp', 's'),
      cacheKey('chat', chat({ ...base, stream: true }), 'fp', 's'),
      cacheKey('chat', chat({ ...base, speculative: { mode: 'judge', k: 4 } }), 'fp', 's'),
      cacheKey('chat', chat({ ...base, speculative: { mode: 'judge', k: 5 } }), 'fp', 's'),
      cacheKey('chat', chat({ ...base, logprobs: true }), 'fp', 's'),
      cacheKey('chat', chat({ ...base, logprobs: true, top_logprobs: 2 }), 'fp', 's'),
      cacheKey('chat', chat({ ...base, prediction: { type: 'content', content: 'a guess' } }), 'fp', 's'),
      cacheKey('completion', CompletionRequestSchema.parse({ model: 'm', prompt: 'hi', temperature: 0, logprobs: 0 }), 'fp', 's'),
      cacheKey('completion', CompletionRequestSchema.parse({ model: 'm', prompt: 'hi', temperature: 0, echo: true }), 'fp', 's'),
      cacheKey('chat', chat(base), 'fp2', 's'),
      cacheKey('chat', chat(base), 'fp', 's2'),
      cacheKey('completion', CompletionRequestSchema.parse({ model: 'm', prompt: 'hi', temperature: 0 }), 'fp', 's'),
    ];
    const keys = await Promise.all(variants);
    expect(new Set([k, ...keys]).size).toBe(keys.length + 1);
    expect(k).toMatch(/^[0-9a-f]{64}$/);
  });
});
