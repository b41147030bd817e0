import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SseParser, type ChatCompletionChunk, type TextCompletion, type Usage } from '@verdict/protocol';
import { createEngine } from '../src/engine/engine.ts';
import { ONE_THREAD, run } from './engine-fixture.ts';
import { openTinySdkServer, postJson, type TinySdkServer } from './server-helpers.ts';

// Predicted Outputs over HTTP: the OpenAI SDK's `prediction` field, usage counts and the `prediction` provenance.
let fx: TinySdkServer;
const MODEL = 'synth-tiny';
const MAX = 24;
const K = 3;

beforeAll(async () => {
  fx = await openTinySdkServer();
});
afterAll(() => fx?.close());

const messages = [{ role: 'user' as const, content: 'the quick brown fox' }];

async function answer(extra: object = {}): Promise<{ content: string; usage: Usage; steps: number }> {
  const r = await fx.client.chat.completions.create({ model: MODEL, messages, max_tokens: MAX, temperature: 0, speculative: { mode: 'exact', k: K }, ...extra } as never);
  const c = r as unknown as { choices: { message: { content: string } }[]; usage: Usage; timings: { steps: number } };
  return { content: c.choices[0].message.content, usage: c.usage, steps: c.timings.steps };
}

/** A streamed answer: its text, every token's provenance, and the usage of the last chunk. */
async function stream(body: object): Promise<{ text: string; provenance: string[]; usage: Usage }> {
  const res = await postJson(`${fx.server.url}/v1/chat/completions`, { model: MODEL, messages, max_tokens: MAX, temperature: 0, stream: true, stream_options: { include_usage: true }, ...body });
  expect(res.status).toBe(200);
  const parser = new SseParser();
  const chunks: ChatCompletionChunk[] = [];
  for (const ev of parser.push(await res.text())) if (ev.data !== '[DONE]') chunks.push(JSON.parse(ev.data));
  return {
    text: chunks.map((c) => c.choices[0]?.delta?.content ?? '').join(''),
    provenance: chunks.flatMap((c) => c.x_verdict?.provenance ?? []),
    usage: chunks[chunks.length - 1].usage!,
  };
}

describe('prediction on /v1/chat/completions', () => {
  it("usage counts equal the engine's own on the prediction's tokens; the answer is the one without a prediction", async () => {
    const plain = await answer();
    expect(plain.usage.completion_tokens_details).toMatchObject({ accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 });
    const predicted = await answer({ prediction: { type: 'content', content: plain.content } });
    expect(predicted.content).toBe(plain.content);
    const d = predicted.usage.completion_tokens_details!;
    // the reference: the engine in this process, on the prediction tokenized here (no HTTP, no schema, no worker)
    const bundle = fx.server.state.bundle!;
    const engine = await createEngine(bundle, ONE_THREAD);
    try {
      const promptIds = bundle.encodePrompt(bundle.renderChat(messages));
      const ref = await run(engine, promptIds, { mode: 'exact', k: K, maxTokens: MAX, predictionIds: bundle.tokenizer.encode(plain.content) });
      expect(ref.text).toBe(plain.content);
      expect(d.accepted_prediction_tokens).toBe(ref.done.stats.acceptedPredictionTokens);
      expect(d.rejected_prediction_tokens).toBe(ref.done.stats.rejectedPredictionTokens);
      expect(d.accepted_prediction_tokens).toBe(ref.steps.flatMap((s) => s.provenance).filter((p) => p === 'prediction').length);
      expect(predicted.steps).toBe(ref.done.stats.steps);
    } finally {
      await engine.dispose();
    }
    // the tiny synthetic model writes non-canonical token sequences, so its text re-tokenizes differently:
    // some prediction tokens are rejected even for the right text; still most of it is kept
    expect(d.accepted_prediction_tokens).toBeGreaterThan(MAX / 3);
    // text parts are the same prediction
    const parts = await answer({ prediction: { type: 'content', content: [{ type: 'text', text: plain.content.slice(0, 5) }, { type: 'text', text: plain.content.slice(5) }] } });
    expect(parts.usage.completion_tokens_details).toEqual(d);
  });

  it('streamed: provenance shows `prediction` and the usage counts agree with it; a partly right prediction is corrected', async () => {
    const plain = await answer();
    const right = await stream({ prediction: { type: 'content', content: plain.content }, speculative: { mode: 'exact', k: K } });
    expect(right.text).toBe(plain.content);
    expect(right.provenance).toContain('prediction');
    expect(right.usage.completion_tokens_details!.accepted_prediction_tokens).toBe(right.provenance.filter((p) => p === 'prediction').length);

    // alter a stretch in the middle: the answer is unchanged, the altered tokens are rejected, the rest kept
    const mid = Math.floor(plain.content.length / 2);
    const edited = plain.content.slice(0, mid) + 'ZZZZ' + plain.content.slice(mid + 4);
    const partly = await stream({ prediction: { type: 'content', content: edited }, speculative: { mode: 'exact', k: K } });
    expect(partly.text).toBe(plain.content);
    const d = partly.usage.completion_tokens_details!;
    expect(d.accepted_prediction_tokens).toBe(partly.provenance.filter((p) => p === 'prediction').length);
    expect(d.accepted_prediction_tokens).toBeGreaterThan(0);
    expect(d.rejected_prediction_tokens).toBeGreaterThan(0);
    expect(partly.usage.completion_tokens).toBe(MAX);
  });

  it('judge mode with a head that accepts everything keeps the prediction as written', async () => {
    const plain = await answer();
    const edited = 'Once upon a time ' + plain.content;
    const judged = await stream({ prediction: { type: 'content', content: edited }, speculative: { mode: 'judge', k: K } });
    expect(judged.usage.completion_tokens_details!.rejected_prediction_tokens).toBe(0);
    // each step keeps its K prediction tokens (the judge accepts all) and appends the target's own
    expect(judged.usage.completion_tokens_details!.accepted_prediction_tokens).toBe(judged.provenance.filter((p) => p === 'prediction').length);
    expect(judged.provenance.slice(0, K + 1)).toEqual([...Array(K).fill('prediction'), 'target']);
    expect(judged.text.startsWith('Onc')).toBe(true);
  });

  it('refuses bad shapes naming param; proposer prediction without a prediction', async () => {
    for (const [body, param] of [
      [{ prediction: { type: 'text', content: 'x' } }, 'prediction.type'],
      [{ prediction: { type: 'content', content: [{ type: 'image_url' }] } }, 'prediction.content.0.type'],
      [{ speculative: { proposer: 'prediction' } }, 'speculative.proposer'],
    ] as const) {
      const res = await postJson(`${fx.server.url}/v1/chat/completions`, { model: MODEL, messages, ...body });
      expect(res.status).toBe(400);
      expect((await res.json()).error.param).toBe(param);
    }
  });
});

describe('prediction and ngram on /v1/completions', () => {
  it('same text with and without, and the ngram proposer too', async () => {
    const post = async (extra: object) => (await (await postJson(`${fx.server.url}/v1/completions`, { model: MODEL, prompt: 'hello world', max_tokens: MAX, temperature: 0, ...extra })).json()) as TextCompletion;
    const plain = await post({ speculative: { mode: 'exact', k: 4 } });
    const predicted = await post({ speculative: { mode: 'exact', k: 4 }, prediction: { type: 'content', content: plain.choices[0].text } });
    expect(predicted.choices[0].text).toBe(plain.choices[0].text);
    expect(predicted.usage.completion_tokens_details!.accepted_prediction_tokens).toBeGreaterThan(0);
    const ngram = await post({ speculative: { mode: 'exact', k: 4, proposer: 'ngram', prompt_lookup_max: 3 } });
    expect(ngram.choices[0].text).toBe(plain.choices[0].text);
    expect(ngram.usage.completion_tokens_details!.accepted_prediction_tokens).toBe(0);
  });
});
