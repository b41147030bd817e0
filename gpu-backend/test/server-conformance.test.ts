import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LoadedBundle } from '../src/bundle/types.ts';
import { DecoderSession } from '../src/engine/session.ts';
import { FIRST_WORD_PIECE_ID } from '../src/synth/tokenizer-json.ts';
import type { RunningServer } from '../src/server/start.ts';
import { postJson, start, tinyJudgeBundle } from './server-helpers.ts';

// OpenAI conformance over HTTP with the official SDK: log-probabilities (against a full-forward reference of
// the target), echo, system_fingerprint, usage details, the mode in the body, stop / finish_reason "stop".
let server: RunningServer;
let client: OpenAI;
let cleanup: () => Promise<void>;
let bundle: LoadedBundle;
let reference: DecoderSession;
let fingerprint: string;
let V: number;
/** hex of a token's UTF-8 bytes -> its id (byte-level BPE: every vocabulary entry has distinct bytes). */
const idOfBytes = new Map<string, number>();
const MODEL = 'synth-tiny';
const hex = (bytes: number[]) => Buffer.from(bytes).toString('hex');

beforeAll(async () => {
  const b = await tinyJudgeBundle();
  cleanup = b.cleanup;
  server = await start({ bundle: b.dir });
  client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'unused', maxRetries: 0 });
  bundle = server.state.bundle!;
  V = bundle.manifest.target.vocab_size;
  reference = await DecoderSession.load(bundle.targetPath, bundle.manifest.target, bundle.manifest.max_context, { intraOpThreads: 1 });
  for (let id = 0; id < V; id++) {
    const text = bundle.tokenizer.decode([id]);
    if (!text.includes('\uFFFD')) idOfBytes.set(Buffer.from(text).toString('hex'), id);
  }
  // the synthetic vocabulary's 256 byte tokens follow the specials in byte order; a lone byte >= 0x80 decodes to U+FFFD
  for (let b = 0x80; b < 256; b++) idOfBytes.set(hex([b]), FIRST_WORD_PIECE_ID - 256 + b);
  const models = (await (await fetch(`${server.url}/v1/models`)).json()) as { data: { x_verdict: { fingerprint: string } }[] };
  fingerprint = models.data[0].x_verdict.fingerprint;
});
afterAll(async () => {
  await reference?.dispose();
  await server?.close();
  await cleanup?.();
});

/** log softmax (float64) of every row of one cache-free forward over `seq`. */
async function referenceRows(seq: number[]): Promise<Float64Array[]> {
  const { logits } = await reference.forward(reference.newCache(), seq);
  return Array.from({ length: seq.length }, (_, j) => {
    const row = Float64Array.from(logits.subarray(j * V, (j + 1) * V));
    const max = row.reduce((a, b) => Math.max(a, b), -Infinity);
    const lse = max + Math.log(row.reduce((a, x) => a + Math.exp(x - max), 0));
    return row.map((x) => x - lse);
  });
}

const chatPrompt = (content: string) => bundle.encodePrompt(bundle.renderChat([{ role: 'user', content }]));
type Lp = { token: string; logprob: number; bytes: number[] | null; top_logprobs: { token: string; logprob: number; bytes: number[] | null }[] };

function expectReference(content: Lp[], promptIds: number[], rows: Float64Array[], ids: number[], top: number) {
  content.forEach((c, i) => {
    const row = rows[promptIds.length + i - 1];
    expect(Math.abs(c.logprob - row[ids[i]])).toBeLessThan(1e-4);
    expect(c.top_logprobs).toHaveLength(top);
    const best = [...row].sort((a, b) => b - a);
    c.top_logprobs.forEach((t, j) => {
      expect(Math.abs(t.logprob - best[j])).toBeLessThan(1e-4);
      expect(Math.abs(row[idOfBytes.get(hex(t.bytes!))!] - t.logprob)).toBeLessThan(1e-4);
    });
  });
}

describe('chat logprobs (official SDK), the target\'s in every mode', () => {
  for (const mode of ['target', 'exact', 'judge'] as const) {
    it(`${mode}: non-streaming and streaming agree, and match the full-forward reference within 1e-4`, async () => {
      const body = { model: MODEL, messages: [{ role: 'user' as const, content: 'tell me a story' }], max_tokens: 20, temperature: 0, logprobs: true, top_logprobs: 3, speculative: { mode, k: 4 } };
      const { data, response } = await client.chat.completions.create(body as never as OpenAI.ChatCompletionCreateParamsNonStreaming).withResponse();
      const content = data.choices[0].logprobs!.content! as Lp[];
      expect(content).toHaveLength(20);
      // the tokens' bytes spell the text; a token that is part of a character is named by its bytes, as OpenAI does
      expect(Buffer.from(content.flatMap((c) => c.bytes!)).toString()).toBe(data.choices[0].message.content);
      for (const c of content) {
        if (c.token.startsWith('bytes:')) expect(c.token).toBe('bytes:' + c.bytes!.map((b) => '\\x' + b.toString(16).padStart(2, '0')).join(''));
        else expect(Buffer.from(c.bytes!).toString()).toBe(c.token);
      }
      const ids = content.map((c) => idOfBytes.get(hex(c.bytes!))!);
      const promptIds = chatPrompt('tell me a story');
      expectReference(content, promptIds, await referenceRows([...promptIds, ...ids]), ids, 3);
      // the mode in the body as in the header, and the fingerprint /v1/models publishes
      expect((data as unknown as { x_verdict: unknown }).x_verdict).toEqual({ mode, k: mode === 'target' ? 0 : 4 });
      expect(response.headers.get('x-verdict-mode')).toBe(mode);
      expect(data.system_fingerprint).toBe(fingerprint);

      const stream = await client.chat.completions.create({ ...body, stream: true } as never as OpenAI.ChatCompletionCreateParamsStreaming);
      const streamed: Lp[] = [];
      for await (const chunk of stream) {
        expect(chunk.system_fingerprint).toBe(fingerprint);
        expect((chunk as unknown as { x_verdict: { mode: string } }).x_verdict.mode).toBe(mode);
        const lp = chunk.choices[0]?.logprobs?.content as Lp[] | undefined;
        if (lp) {
          // each chunk carries the logprobs of its own tokens
          expect(lp.length).toBe((chunk as unknown as { x_verdict: { provenance: string[] } }).x_verdict.provenance.length);
          streamed.push(...lp);
        }
      }
      expect(streamed.map((c) => c.token)).toEqual(content.map((c) => c.token));
      streamed.forEach((c, i) => expect(c.logprob).toBeCloseTo(content[i].logprob, 6));
    });
  }

  it('without logprobs: logprobs null; without speculative the default mode (judge here) is named in the body', async () => {
    const data = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 4, temperature: 0 });
    expect(data.choices[0].logprobs).toBeNull();
    expect((data as unknown as { x_verdict: { mode: string } }).x_verdict.mode).toBe('judge');
    expect(data.usage).toMatchObject({
      prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
    });
  });
});

describe('completions logprobs and echo (the evaluation-harness shape)', () => {
  const prompt = 'once upon a time the quick brown fox';

  it('echo, logprobs: N, max_tokens: 0 returns only the prompt, scored by the target (first token null)', async () => {
    const res = await client.completions.create({ model: MODEL, prompt, echo: true, logprobs: 2, max_tokens: 0, temperature: 0 });
    const c = res.choices[0];
    expect(c.text).toBe(prompt);
    expect(res.usage?.completion_tokens).toBe(0);
    expect(res.system_fingerprint).toBe(fingerprint);
    const ids = bundle.encodePrompt(prompt);
    const lp = c.logprobs!;
    expect(lp.tokens).toHaveLength(ids.length);
    expect(lp.token_logprobs![0]).toBeNull();
    expect(lp.top_logprobs![0]).toBeNull();
    const rows = await referenceRows(ids);
    for (let p = 1; p < ids.length; p++) {
      expect(Math.abs(lp.token_logprobs![p]! - rows[p - 1][ids[p]])).toBeLessThan(1e-4);
      expect(Object.keys(lp.top_logprobs![p]!)).toHaveLength(2);
    }
    // text_offset: where each token starts in the returned text (the BOS the server adds takes offset 0, no width)
    lp.text_offset!.forEach((o, i) => {
      if (i > 0) expect(prompt.startsWith(lp.tokens![i], o)).toBe(true);
    });
  });

  it('echo with a completion: prompt then completion, in text and logprobs; streamed with the prompt as the first chunk', async () => {
    const body = { model: MODEL, prompt, echo: true, logprobs: 1, max_tokens: 8, temperature: 0 };
    const whole = await client.completions.create(body);
    const c = whole.choices[0];
    expect(c.text.startsWith(prompt)).toBe(true);
    const ids = bundle.encodePrompt(prompt);
    expect(c.logprobs!.tokens).toHaveLength(ids.length + 8);
    const completion = c.logprobs!.tokens!.slice(ids.length).join('');
    expect(prompt + completion).toBe(c.text);
    expect(c.logprobs!.text_offset![ids.length]).toBe(prompt.length);
    const stream = await client.completions.create({ ...body, stream: true });
    const chunks = [];
    for await (const ch of stream) chunks.push(ch);
    expect(chunks[0].choices[0].text).toBe(prompt);
    expect(chunks[0].choices[0].logprobs!.tokens).toHaveLength(ids.length);
    expect(chunks.map((ch) => ch.choices[0]?.text ?? '').join('')).toBe(c.text);
    const tokens = chunks.flatMap((ch) => ch.choices[0]?.logprobs?.tokens ?? []);
    const offsets = chunks.flatMap((ch) => ch.choices[0]?.logprobs?.text_offset ?? []);
    expect(tokens).toEqual(c.logprobs!.tokens);
    expect(offsets).toEqual(c.logprobs!.text_offset);
  });

  it('echo without logprobs returns the prompt and no logprobs; max_tokens 0 without echo is a 400', async () => {
    const res = await client.completions.create({ model: MODEL, prompt, echo: true, max_tokens: 3, temperature: 0 });
    expect(res.choices[0].text.startsWith(prompt)).toBe(true);
    expect(res.choices[0].logprobs).toBeNull();
    const bad = await postJson(`${server.url}/v1/completions`, { model: MODEL, prompt, max_tokens: 0 });
    expect(bad.status).toBe(400);
    expect((await bad.json()).error.param).toBe('max_tokens');
  });
});

describe('stop over HTTP', () => {
  it('a stop string cuts the text before it and gives finish_reason "stop", streaming and not', async () => {
    const base = { model: MODEL, messages: [{ role: 'user' as const, content: 'tell me a story' }], max_tokens: 30, temperature: 0 };
    const free = (await client.chat.completions.create(base)).choices[0].message.content!;
    expect(free.length).toBeGreaterThan(20);
    const stop = free.slice(10, 14);
    const expected = free.slice(0, free.indexOf(stop));
    const cut = await client.chat.completions.create({ ...base, stop });
    expect(cut.choices[0].message.content).toBe(expected);
    expect(cut.choices[0].finish_reason).toBe('stop');
    const stream = await client.chat.completions.create({ ...base, stop: [stop], stream: true });
    let text = '';
    let finish: string | null = null;
    for await (const ch of stream) {
      text += ch.choices[0]?.delta?.content ?? '';
      finish = ch.choices[0]?.finish_reason ?? finish;
    }
    expect(text).toBe(expected);
    expect(finish).toBe('stop');
    // with logprobs, the tokens listed are those generated, through the one that completed the stop string
    const lp = await client.chat.completions.create({ ...base, stop, logprobs: true });
    expect(lp.choices[0].message.content).toBe(expected);
    const tokens = lp.choices[0].logprobs!.content!;
    const spell = (cs: typeof tokens) => Buffer.from(cs.flatMap((c) => c.bytes!)).toString();
    expect(spell(tokens).startsWith(expected + stop)).toBe(true);
    expect(spell(tokens.slice(0, -1))).not.toContain(stop);
  });
});
