import { describe, expect, it } from 'vitest';
import {
  ChatCompletionRequestSchema,
  CompletionRequestSchema,
  fromZodError,
  formatServerTiming,
  IGNORED_FIELDS,
  requestedLogprobs,
  UNSUPPORTED_FIELDS,
  isDeterministic,
  LIMITS,
  parseServerTiming,
  predictionText,
  requestedMaxTokens,
  SseParser,
  sseData,
  stopList,
} from './index.ts';
import { NEUTRAL_EXAMPLES, UNSUPPORTED_EXAMPLES } from './testing.ts';

const chat = (extra: object = {}) => ({ model: 'm', messages: [{ role: 'user', content: 'hi' }], ...extra });

describe('request schemas', () => {
  it('accepts an OpenAI SDK body: fields ignored on purpose and neutral values of unimplemented ones are dropped', () => {
    const r = ChatCompletionRequestSchema.parse(chat({ ...NEUTRAL_EXAMPLES, speculative: { mode: 'judge', k: 8, extra: 1 } }));
    expect(r).not.toHaveProperty('frequency_penalty');
    expect(r).not.toHaveProperty('metadata');
    expect(r.user).toBe('u1');
    expect(r.speculative).toEqual({ mode: 'judge', k: 8 });
    expect(CompletionRequestSchema.parse({ model: 'm', prompt: 'p', suffix: '', best_of: 1, ...NEUTRAL_EXAMPLES })).toEqual({ model: 'm', prompt: 'p', user: 'u1' });
    const e = ChatCompletionRequestSchema.parse(chat({ speculative: { mode: 'entropy', entropy_threshold: 2, entropy_window: 3 } }));
    expect(e.speculative).toEqual({ mode: 'entropy', entropy_threshold: 2, entropy_window: 3 });
  });

  it('refuses every unimplemented field, on both routes, naming it in param', () => {
    expect(Object.keys(UNSUPPORTED_EXAMPLES).sort()).toEqual(Object.keys(UNSUPPORTED_FIELDS).sort());
    for (const [field, value] of Object.entries(UNSUPPORTED_EXAMPLES)) {
      for (const res of [ChatCompletionRequestSchema.safeParse(chat({ [field]: value })), CompletionRequestSchema.safeParse({ model: 'm', prompt: 'p', [field]: value })]) {
        expect(res.success, field).toBe(false);
        const e = fromZodError(res.error!);
        expect(e.param).toBe(field);
        expect(e.code).toBe('unsupported_parameter');
        expect(e.message).toContain(`${field} is not supported`);
      }
    }
    // refused even when the rest of the body is wrong too: the unsupported field is named first
    expect(fromZodError(ChatCompletionRequestSchema.safeParse(chat({ tools: [{}], temperature: 'hot' })).error!).param).toBe('tools');
  });

  it('refuses a field it does not know at all, as OpenAI does', () => {
    const e = fromZodError(ChatCompletionRequestSchema.safeParse(chat({ temprature: 0 })).error!);
    expect(e).toMatchObject({ status: 400, param: 'temprature', code: 'unknown_parameter' });
    expect(e.message).toMatch(/unrecognized request argument supplied: temprature/);
    // the completion-only fields are unknown to chat, and the chat-only ones to completions
    expect(fromZodError(ChatCompletionRequestSchema.safeParse(chat({ echo: true })).error!).param).toBe('echo');
    expect(fromZodError(CompletionRequestSchema.safeParse({ model: 'm', prompt: 'p', top_logprobs: 2 }).error!).param).toBe('top_logprobs');
    expect(IGNORED_FIELDS).toContain('user');
  });

  it('log-probability fields: chat logprobs + top_logprobs (0–20), completions logprobs (0–20) + echo, max_tokens 0 only with echo', () => {
    expect(requestedLogprobs(ChatCompletionRequestSchema.parse(chat({})))).toBeNull();
    expect(requestedLogprobs(ChatCompletionRequestSchema.parse(chat({ logprobs: false })))).toBeNull();
    expect(requestedLogprobs(ChatCompletionRequestSchema.parse(chat({ logprobs: true })))).toBe(0);
    expect(requestedLogprobs(ChatCompletionRequestSchema.parse(chat({ logprobs: true, top_logprobs: 20 })))).toBe(20);
    expect(requestedLogprobs(CompletionRequestSchema.parse({ model: 'm', prompt: 'p', logprobs: 3, echo: true, max_tokens: 0 }))).toBe(3);
    const bad: [unknown, object, string, RegExp][] = [
      [ChatCompletionRequestSchema, chat({ logprobs: true, top_logprobs: 21 }), 'top_logprobs', /at most 20/],
      [ChatCompletionRequestSchema, chat({ top_logprobs: 2 }), 'top_logprobs', /needs logprobs: true/],
      [ChatCompletionRequestSchema, chat({ logprobs: 2 }), 'logprobs', /boolean/],
      [CompletionRequestSchema, { model: 'm', prompt: 'p', logprobs: 21 }, 'logprobs', /at most 20/],
      [CompletionRequestSchema, { model: 'm', prompt: 'p', max_tokens: 0 }, 'max_tokens', /0 is allowed only with echo/],
      [ChatCompletionRequestSchema, chat({ max_tokens: 0 }), 'max_tokens', /at least 1/],
    ];
    for (const [schema, body, param, message] of bad) {
      const e = fromZodError((schema as typeof CompletionRequestSchema).safeParse(body).error!);
      expect(e.param).toBe(param);
      expect(e.message).toMatch(message);
    }
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

  it('refuses a prompt over LIMITS.maxPromptChars, naming messages / prompt and the limit', () => {
    const long = 'x'.repeat(LIMITS.maxPromptChars + 1);
    const split = [{ role: 'system', content: 'x'.repeat(LIMITS.maxPromptChars) }, { role: 'user', content: [{ type: 'text', text: 'yy' }] }];
    for (const res of [ChatCompletionRequestSchema.safeParse(chat({ messages: [{ role: 'user', content: long }] })), ChatCompletionRequestSchema.safeParse(chat({ messages: split }))]) {
      expect(res.success).toBe(false);
      const err = fromZodError(res.error!);
      expect(err.param).toBe('messages');
      expect(err.message).toContain(`at most ${LIMITS.maxPromptChars} characters`);
    }
    for (const prompt of [long, [long]]) {
      const res = CompletionRequestSchema.safeParse({ model: 'm', prompt });
      expect(res.success).toBe(false);
      const err = fromZodError(res.error!);
      expect(err.param).toBe('prompt');
      expect(err.message).toContain(`at most ${LIMITS.maxPromptChars} characters`);
    }
    // exactly at the limit is fine
    expect(CompletionRequestSchema.safeParse({ model: 'm', prompt: 'x'.repeat(LIMITS.maxPromptChars) }).success).toBe(true);
    expect(ChatCompletionRequestSchema.safeParse(chat({ messages: [{ role: 'user', content: 'x'.repeat(LIMITS.maxPromptChars) }] })).success).toBe(true);
  });

  it('names the limit and the field: five stop strings, max_completion_tokens out of range', () => {
    const stops = fromZodError(ChatCompletionRequestSchema.safeParse(chat({ stop: ['a', 'b', 'c', 'd', 'e'] })).error!);
    expect(stops.param).toBe('stop');
    expect(stops.message).toContain(`at most ${LIMITS.maxStop}`);
    for (const v of [0, LIMITS.maxTokens + 1]) {
      const e = fromZodError(ChatCompletionRequestSchema.safeParse(chat({ max_completion_tokens: v })).error!);
      expect(e.param).toBe('max_completion_tokens');
      expect(e.message).toMatch(/max_completion_tokens must be/);
      expect(e.message).not.toMatch(/max_tokens/);
    }
    expect(fromZodError(ChatCompletionRequestSchema.safeParse(chat({ max_completion_tokens: LIMITS.maxTokens + 1 })).error!).message).toContain(`at most ${LIMITS.maxTokens}`);
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

describe('prediction (Predicted Outputs) and speculative.proposer', () => {
  it("accepts the OpenAI SDK's ChatCompletionPredictionContent shapes on both routes: a string or text parts", () => {
    const parts = { type: 'content', content: [{ type: 'text', text: 'Once upon ' }, { type: 'text', text: 'a time' }] };
    const c = ChatCompletionRequestSchema.parse(chat({ prediction: parts }));
    expect(c.prediction).toEqual(parts);
    expect(predictionText(c.prediction!)).toBe('Once upon a time');
    const t = CompletionRequestSchema.parse({ model: 'm', prompt: 'p', prediction: { type: 'content', content: 'Once upon a time' } });
    expect(predictionText(t.prediction!)).toBe('Once upon a time');
    // null means absent (as every optional OpenAI field), an empty string is a prediction of nothing
    expect(ChatCompletionRequestSchema.parse(chat({ prediction: null })).prediction).toBeNull();
    expect(predictionText(ChatCompletionRequestSchema.parse(chat({ prediction: { type: 'content', content: '' } })).prediction!)).toBe('');
  });

  it.each([
    [{ prediction: 'Once upon a time' }, 'prediction', /must be an object/],
    [{ prediction: { content: 'x' } }, 'prediction.type', /prediction.type must be 'content'/],
    [{ prediction: { type: 'text', content: 'x' } }, 'prediction.type', /prediction.type must be 'content'/],
    [{ prediction: { type: 'content' } }, 'prediction.content', /string or an array of text parts/],
    [{ prediction: { type: 'content', content: 3 } }, 'prediction.content', /string or an array of text parts/],
    [{ prediction: { type: 'content', content: [] } }, 'prediction.content', /must not be an empty array/],
    [{ prediction: { type: 'content', content: [{ type: 'image_url', image_url: { url: 'x' } }] } }, 'prediction.content.0.type', /text/],
    [{ speculative: { proposer: 'prediction' } }, 'speculative.proposer', /needs a prediction/],
    [{ speculative: { proposer: 'eagle' } }, 'speculative.proposer', /unknown proposer "eagle"; expected one of draft, ngram, prediction/],
    [{ speculative: { proposer: 'ngram', prompt_lookup_max: 0 } }, 'speculative.prompt_lookup_max', /at least 1/],
    [{ speculative: { proposer: 'ngram', prompt_lookup_max: 17 } }, 'speculative.prompt_lookup_max', /at most 16/],
    [{ speculative: { proposer: 'ngram', prompt_lookup_min: 3, prompt_lookup_max: 2 } }, 'speculative.prompt_lookup_min', /must not exceed prompt_lookup_max/],
  ])('refuses %j naming param', (extra, param, message) => {
    for (const res of [ChatCompletionRequestSchema.safeParse(chat(extra)), CompletionRequestSchema.safeParse({ model: 'm', prompt: 'p', ...extra })]) {
      expect(res.success).toBe(false);
      const e = fromZodError(res.error!);
      expect(e.param).toBe(param);
      expect(e.message).toMatch(message);
    }
  });

  it('accepts the proposers and their n-gram lengths', () => {
    const r = ChatCompletionRequestSchema.parse(chat({ prediction: { type: 'content', content: 'x' }, speculative: { proposer: 'prediction', k: 8 } }));
    expect(r.speculative).toEqual({ proposer: 'prediction', k: 8 });
    const n = CompletionRequestSchema.parse({ model: 'm', prompt: 'p', speculative: { proposer: 'ngram', prompt_lookup_min: 1, prompt_lookup_max: 3 } });
    expect(n.speculative).toEqual({ proposer: 'ngram', prompt_lookup_min: 1, prompt_lookup_max: 3 });
  });

  it('counts the prediction toward the character limit, naming prediction when it is what goes over', () => {
    const half = 'x'.repeat(LIMITS.maxPromptChars / 2);
    const at = ChatCompletionRequestSchema.safeParse(chat({ messages: [{ role: 'user', content: half }], prediction: { type: 'content', content: half } }));
    expect(at.success).toBe(true);
    const over = [
      ChatCompletionRequestSchema.safeParse(chat({ messages: [{ role: 'user', content: half }], prediction: { type: 'content', content: [{ type: 'text', text: half + 'y' }] } })),
      CompletionRequestSchema.safeParse({ model: 'm', prompt: half, prediction: { type: 'content', content: half + 'y' } }),
    ];
    for (const res of over) {
      expect(res.success).toBe(false);
      const e = fromZodError(res.error!);
      expect(e.param).toBe('prediction');
      expect(e.message).toContain(`limit of ${LIMITS.maxPromptChars} characters`);
    }
    // a prompt over the limit on its own is still named as the prompt
    const long = CompletionRequestSchema.safeParse({ model: 'm', prompt: 'x'.repeat(LIMITS.maxPromptChars + 1), prediction: { type: 'content', content: 'y' } });
    expect(fromZodError(long.error!).param).toBe('prompt');
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
