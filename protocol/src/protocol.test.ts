import { describe, expect, it } from 'vitest';
import {
  ChatCompletionRequestSchema,
  CompletionRequestSchema,
  fromZodError,
  formatServerTiming,
  isDeterministic,
  parseServerTiming,
  requestedMaxTokens,
  SseParser,
  sseData,
  stopList,
} from './index.ts';

const chat = (extra: object = {}) => ({ model: 'm', messages: [{ role: 'user', content: 'hi' }], ...extra });

describe('request schemas', () => {
  it('accepts an OpenAI SDK body and drops unknown fields', () => {
    const r = ChatCompletionRequestSchema.parse(chat({ frequency_penalty: 0, logit_bias: {}, speculative: { mode: 'judge', k: 8, extra: 1 } }));
    expect(r).not.toHaveProperty('frequency_penalty');
    expect(r.speculative).toEqual({ mode: 'judge', k: 8 });
    const e = ChatCompletionRequestSchema.parse(chat({ speculative: { mode: 'entropy', entropy_threshold: 2, entropy_window: 3 } }));
    expect(e.speculative).toEqual({ mode: 'entropy', entropy_threshold: 2, entropy_window: 3 });
  });

  it('names the offending field in OpenAI error shape', () => {
    const res = ChatCompletionRequestSchema.safeParse(chat({ max_tokens: -3 }));
    expect(res.success).toBe(false);
    const err = fromZodError(res.error!);
    expect(err.status).toBe(400);
    expect(err.param).toBe('max_tokens');
    expect(err.toBody().error.message).toMatch(/max_tokens/);
  });

  it.each([
    [{ max_tokens: 1e9 }, 'max_tokens'],
    [{ n: 2 }, 'n'],
    [{ messages: [] }, 'messages'],
    [{ speculative: { mode: 'fast' } }, 'speculative.mode'],
    [{ speculative: { k: 0 } }, 'speculative.k'],
    [{ speculative: { mode: 'entropy', entropy_window: 0 } }, 'speculative.entropy_window'],
    [{ speculative: { mode: 'entropy', entropy_threshold: -1 } }, 'speculative.entropy_threshold'],
    [{ temperature: 'hot' }, 'temperature'],
  ])('refuses %j', (extra, param) => {
    const res = ChatCompletionRequestSchema.safeParse(chat(extra));
    expect(res.success).toBe(false);
    expect(fromZodError(res.error!).param).toBe(param);
  });

  it('explains an unknown mode', () => {
    const res = ChatCompletionRequestSchema.safeParse(chat({ speculative: { mode: 'fast' } }));
    expect(fromZodError(res.error!).message).toMatch(/unknown mode "fast"; expected one of target, exact, judge, kl/);
  });

  it('derives max tokens, stops and determinism', () => {
    const r = ChatCompletionRequestSchema.parse(chat({ max_tokens: 5, max_completion_tokens: 7, stop: 'x', temperature: 0 }));
    expect(requestedMaxTokens(r)).toBe(7);
    expect(stopList(r)).toEqual(['x']);
    expect(isDeterministic(r)).toBe(true);
    const c = CompletionRequestSchema.parse({ model: 'm', prompt: ['p'], temperature: 1 });
    expect(isDeterministic(c)).toBe(false);
    expect(isDeterministic({ ...c, seed: 3 })).toBe(true);
  });
});

describe('Server-Timing', () => {
  it('round-trips', () => {
    const h = formatServerTiming([{ name: 'queue', dur: 0.1234 }, { name: 'cache', desc: 'hit' }, { name: 'edge', dur: 2, desc: 'in worker' }]);
    expect(h).toBe('queue;dur=0.123, cache;desc=hit, edge;dur=2;desc="in worker"');
    expect(parseServerTiming(h)).toEqual([
      { name: 'queue', dur: 0.123 },
      { name: 'cache', desc: 'hit' },
      { name: 'edge', dur: 2, desc: 'in worker' },
    ]);
  });

  it('tolerates odd input', () => {
    expect(parseServerTiming('a;dur=x, ;;, b;DUR=3;desc="x,y"')).toEqual([{ name: 'a' }, { name: 'b', dur: 3, desc: 'x,y' }]);
    expect(parseServerTiming(null)).toEqual([]);
  });
});

describe('SSE', () => {
  it('parses events split anywhere, with CRLF and comments', () => {
    const text = ': keepalive\r\n' + sseData({ a: 1 }) + 'data: line1\r\ndata: line2\r\n\r\n' + sseData('[DONE]');
    for (let cut = 0; cut < text.length; cut++) {
      const p = new SseParser();
      const events = [...p.push(text.slice(0, cut)), ...p.push(text.slice(cut))];
      expect(events.map((e) => e.data)).toEqual(['{"a":1}', 'line1\nline2', '[DONE]']);
    }
  });
});
