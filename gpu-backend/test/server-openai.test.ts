import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SseParser, TimingsSchema, parseServerTiming } from '@verdict/protocol';
import { answerFingerprint } from '../src/server/fingerprint.ts';
import { openTinySdkServer, postJson, scrape, type TinySdkServer } from './server-helpers.ts';

// The real tiny bundle served over HTTP, with the official OpenAI SDK as the client.
let fx: TinySdkServer;
const MODEL = 'synth-tiny';

beforeAll(async () => {
  fx = await openTinySdkServer();
});
afterAll(() => fx?.close());

describe('OpenAI SDK against verdict serve', () => {
  it('lists the model with its fingerprint and modes', async () => {
    const list = await fx.client.models.list();
    expect(list.data).toHaveLength(1);
    const m = list.data[0] as unknown as { id: string; x_verdict: { fingerprint: string; modes: string[] } };
    expect(m.id).toBe(MODEL);
    expect(m.x_verdict.fingerprint).toMatch(/^[0-9a-f]{64}$/);
    // the fingerprint of everything that shapes an answer (weights, tokenizer, template, server defaults), not the target's hash
    expect(m.x_verdict.fingerprint).toBe(answerFingerprint(fx.server.state.bundle!, fx.server.state.config, m.x_verdict.modes as never));
    expect(m.x_verdict.fingerprint).not.toBe(fx.server.state.bundle!.manifest.target.sha256);
    expect(m.x_verdict.modes).toEqual(['target', 'exact', 'judge', 'kl', 'entropy']);
  });

  it('chat, non-streaming: content, usage, timings and headers', async () => {
    const { data, response } = await fx.client.chat.completions
      .create({ model: MODEL, messages: [{ role: 'user', content: 'hello there' }], max_tokens: 12, temperature: 0, speculative: { mode: 'exact', k: 3 } } as never)
      .withResponse();
    expect(data.object).toBe('chat.completion');
    expect(data.choices[0].message.role).toBe('assistant');
    expect(data.choices[0].finish_reason).toBe('length');
    expect(data.usage?.completion_tokens).toBe(12);
    expect(data.usage!.total_tokens).toBe(data.usage!.prompt_tokens + 12);
    const timings = TimingsSchema.parse((data as unknown as { timings: unknown }).timings);
    expect(timings.steps).toBeGreaterThan(0);
    expect(timings.steps).toBeLessThanOrEqual(12);
    expect(timings.mean_accepted_per_step).toBeCloseTo(12 / timings.steps, 2);
    expect(response.headers.get('x-verdict-mode')).toBe('exact');
    expect(response.headers.get('x-verdict-k')).toBe('3');
    expect(Number(response.headers.get('x-verdict-accepted-per-step'))).toBeCloseTo(timings.mean_accepted_per_step, 3);
    const st = parseServerTiming(response.headers.get('server-timing'));
    expect(st.map((e) => e.name)).toEqual(['queue', 'prefill', 'draft', 'verify', 'judge', 'total']);
    for (const e of st) expect(e.dur).toBeGreaterThanOrEqual(0);
    expect(st.find((e) => e.name === 'total')!.dur).toBeCloseTo(timings.total_ms, 2);
    expect(response.headers.get('x-request-id')).toBeTruthy();
  });

  it('chat, streaming with include_usage: same text as non-streaming, one chunk per step, usage and timings last', async () => {
    const body = { model: MODEL, messages: [{ role: 'user' as const, content: 'tell me' }], max_tokens: 16, temperature: 0, speculative: { mode: 'judge', k: 4 } };
    const whole = await fx.client.chat.completions.create(body as never);
    const stream = await fx.client.chat.completions.create({ ...body, stream: true, stream_options: { include_usage: true } } as never);
    const chunks: Record<string, any>[] = [];
    for await (const c of stream as unknown as AsyncIterable<Record<string, any>>) chunks.push(c);
    expect(chunks[0].choices[0].delta.role).toBe('assistant');
    const steps = chunks.filter((c) => c.x_verdict?.provenance);
    const text = steps.map((c) => c.choices[0].delta.content).join('');
    expect(text).toBe((whole as any).choices[0].message.content);
    const last = chunks.at(-1)!;
    expect(last.choices).toEqual([]);
    expect(last.usage.completion_tokens).toBe(16);
    const timings = TimingsSchema.parse(last.timings);
    expect(steps).toHaveLength(timings.steps);
    expect(steps.flatMap((c) => c.x_verdict.provenance)).toHaveLength(16);
    // Per-token text: one piece per token, joining to the step's delta.
    for (const c of steps) {
      expect(c.x_verdict.pieces).toHaveLength(c.x_verdict.provenance.length);
      expect(c.x_verdict.pieces.join('')).toBe(c.choices[0].delta.content);
    }
    expect(chunks.at(-2)!.choices[0].finish_reason).toBe('length');
    // OpenAI sends usage: null on every chunk but the last when include_usage is set.
    for (const c of chunks.slice(0, -1)) expect(c.usage).toBeNull();
  });

  it('completions, streaming and not, agree at temperature 0', async () => {
    const body = { model: MODEL, prompt: 'the quick', max_tokens: 10, temperature: 0 };
    const whole = await fx.client.completions.create(body);
    expect(whole.object).toBe('text_completion');
    expect(whole.usage?.completion_tokens).toBe(10);
    const stream = await fx.client.completions.create({ ...body, stream: true });
    let text = '';
    let finish: string | null = null;
    for await (const c of stream) {
      text += c.choices[0].text;
      finish = c.choices[0].finish_reason ?? finish;
    }
    expect(text).toBe(whole.choices[0].text);
    expect(finish).toBe('length');
  });

  it('a tiny non-zero temperature (1e-310, where 1/T overflows) samples greedily instead of the last vocabulary id', async () => {
    const body = { model: MODEL, prompt: 'the quick', max_tokens: 12, seed: 3 };
    const greedy = await fx.client.completions.create({ ...body, temperature: 0 });
    const tiny = await fx.client.completions.create({ ...body, temperature: 1e-310 });
    expect(tiny.choices[0].text).toBe(greedy.choices[0].text);
    expect(tiny.usage?.completion_tokens).toBe(greedy.usage?.completion_tokens);
  });

  it('decodes interleaved in one worker give the same text as decodes run alone', async () => {
    const ask = (prompt: string) => fx.client.completions.create({ model: MODEL, prompt, max_tokens: 24, temperature: 0, speculative: { mode: 'exact', k: 3 } } as never);
    const alone = [(await ask('first prompt')).choices[0].text, (await ask('second one')).choices[0].text];
    const together = (await Promise.all([ask('first prompt'), ask('second one')])).map((r) => r.choices[0].text);
    expect(together).toEqual(alone);
  });

  it('SSE framing: data events separated by blank lines, [DONE] last, timings in the final chunk, Server-Timing at first byte', async () => {
    const res = await postJson(`${fx.server.url}/v1/completions`, { model: MODEL, prompt: 'abc', max_tokens: 8, temperature: 0, stream: true, speculative: { mode: 'kl' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(res.headers.get('x-verdict-mode')).toBe('kl');
    const st = parseServerTiming(res.headers.get('server-timing'));
    expect(st.map((e) => e.name)).toEqual(['queue', 'prefill']);
    expect(st.every((e) => typeof e.dur === 'number' && e.dur >= 0)).toBe(true);
    const raw = await res.text();
    expect(raw.endsWith('data: [DONE]\n\n')).toBe(true);
    const blocks = raw.split('\n\n').slice(0, -1);
    for (const b of blocks) expect(b).toMatch(/^data: /);
    const events = new SseParser().push(raw);
    expect(events).toHaveLength(blocks.length);
    expect(events.at(-1)!.data).toBe('[DONE]');
    const json = events.slice(0, -1).map((e) => JSON.parse(e.data));
    const final = json.at(-1);
    expect(final.choices[0].finish_reason).toBe('length');
    expect(TimingsSchema.parse(final.timings).prefill_ms).toBeCloseTo(st[1].dur!, 2);
    expect(json.slice(0, -1).every((c) => c.timings === undefined && c.choices[0].finish_reason === null)).toBe(true);
  });

  it('echoes X-Request-Id', async () => {
    const res = await fetch(`${fx.server.url}/healthz`, { headers: { 'x-request-id': 'trace-42' } });
    expect(res.headers.get('x-request-id')).toBe('trace-42');
  });

  it('/metrics: spec-decode counters move by exactly what the request reports', async () => {
    const before = await scrape(fx.server.url);
    const res = await postJson(`${fx.server.url}/v1/chat/completions`, { model: MODEL, messages: [{ role: 'user', content: 'count me' }], max_tokens: 20, temperature: 0, speculative: { mode: 'judge', k: 4 } });
    const body = await res.json();
    const after = await scrape(fx.server.url);
    const delta = (k: string) => (after.get(k) ?? 0) - (before.get(k) ?? 0);
    const t = body.timings;
    expect(t.drafted).toBeGreaterThan(0);
    // The accept-everything judge keeps drafts the exact rule would reject.
    expect(t.judge_accepted).toBeGreaterThan(0);
    expect(delta('verdict_spec_decode_num_draft_tokens_total{mode="judge"}')).toBe(t.drafted);
    expect(delta('verdict_spec_decode_num_accepted_tokens_total{mode="judge"}')).toBe(t.accepted);
    expect(delta('verdict_spec_decode_num_judge_accepted_tokens_total{mode="judge"}')).toBe(t.judge_accepted);
    expect(delta('verdict_decode_steps_total{mode="judge"}')).toBe(t.steps);
    const drafts = delta('verdict_spec_decode_num_drafts_total{mode="judge"}');
    expect(drafts).toBeGreaterThan(0);
    expect(drafts).toBeLessThanOrEqual(t.steps);
    let perPos = 0;
    for (const k of after.keys()) if (k.startsWith('verdict_spec_decode_num_accepted_tokens_per_pos_total{mode="judge"')) perPos += delta(k);
    expect(perPos).toBe(t.accepted);
    expect(delta('verdict_generation_tokens_total{mode="judge"}')).toBe(body.usage.completion_tokens);
    expect(delta('verdict_prompt_tokens_total{mode="judge"}')).toBe(body.usage.prompt_tokens);
    expect(delta('verdict_requests_total{route="/v1/chat/completions",status="200"}')).toBe(1);
    expect(delta('verdict_request_duration_seconds_count{route="/v1/chat/completions"}')).toBe(1);
    expect(delta('verdict_time_to_first_token_seconds_count{mode="judge"}')).toBe(1);
    expect(after.get('verdict_queue_depth')).toBe(0);
    expect(after.get('verdict_requests_running')).toBe(0);
    // batched alone: every step is a batch of one that drafted the request's k, except the last ones near max_tokens
    expect(delta('verdict_batch_rows_count')).toBe(t.steps);
    expect(delta('verdict_batch_rows_bucket{le="1"}')).toBe(t.steps);
    let capped = 0;
    for (const k of after.keys()) if (k.startsWith('verdict_batch_spec_steps_total{') && k.includes('why="fixed"')) capped += delta(k);
    expect(capped).toBe(t.steps);
    expect(delta('verdict_batch_spec_steps_total{k_cap="4",why="fixed"}')).toBeGreaterThan(0);
    expect(after.get('verdict_batch_cache_bytes{kind="total"}')).toBeGreaterThan(0);
  });
});
