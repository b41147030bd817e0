import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createEngine, DEFAULT_PREFILL_CHUNK, greedyRequest, type Engine } from '../src/engine/engine.ts';
import { topIds } from '../src/engine/logprobs.ts';
import { DecoderSession } from '../src/engine/session.ts';
import type { LoadedBundle } from '../src/bundle/types.ts';
import type { DecodeEvent, DecodeRequest, TokenLogprob } from '../src/engine/types.ts';
import { ONE_THREAD, tinyBundles, zeroHead } from './engine-fixture.ts';

// The engine's log-probabilities against an independent reference: ONE cache-free forward of the target
// over prompt + output, log softmax (float64, temperature 1) of row p-1 for the token at position p.
let good: LoadedBundle;
let cleanup: () => Promise<void>;
let engine: Engine;
let judgeAll: Engine;
let reference: DecoderSession;
let V: number;

beforeAll(async () => {
  ({ good, cleanup } = await tinyBundles());
  engine = await createEngine(good, ONE_THREAD);
  // a head that accepts every draft: judge-accepted tokens get their logprobs too
  judgeAll = await createEngine(good, { ...ONE_THREAD, judge: zeroHead(good.manifest.target.hidden_size, 10) });
  reference = await DecoderSession.load(good.targetPath, good.manifest.target, good.manifest.max_context, ONE_THREAD);
  V = good.manifest.target.vocab_size;
});
afterAll(async () => {
  await engine?.dispose();
  await judgeAll?.dispose();
  await reference?.dispose();
  await cleanup?.();
});

interface Collected {
  prompt?: (TokenLogprob | null)[];
  tokens: number[];
  logprobs: TokenLogprob[];
  steps: Extract<DecodeEvent, { type: 'step' }>[];
}

async function collect(e: Engine, promptIds: number[], over: Partial<DecodeRequest>): Promise<Collected> {
  const c: Collected = { tokens: [], logprobs: [], steps: [] };
  for await (const ev of e.decode(greedyRequest(promptIds, over))) {
    if (ev.type === 'prefill') c.prompt = ev.promptLogprobs;
    if (ev.type === 'step') {
      c.steps.push(ev);
      c.tokens.push(...ev.tokens);
      if (over.logprobs != null) expect(ev.logprobs?.length).toBe(ev.tokens.length);
      c.logprobs.push(...(ev.logprobs ?? []));
    }
  }
  return c;
}

/** Row j of one full forward over `seq`, as float64 log-probabilities. */
async function referenceRows(seq: number[]): Promise<Float64Array[]> {
  const { logits } = await reference.forward(reference.newCache(), seq);
  const rows: Float64Array[] = [];
  for (let j = 0; j < seq.length; j++) {
    const row = Float64Array.from(logits.subarray(j * V, (j + 1) * V));
    let max = -Infinity;
    for (const x of row) max = Math.max(max, x);
    let sum = 0;
    for (const x of row) sum += Math.exp(x - max);
    const lse = max + Math.log(sum);
    rows.push(row.map((x) => x - lse));
  }
  return rows;
}

function expectMatches(got: TokenLogprob, row: Float64Array, token: number, top: number) {
  expect(Math.abs(got.logprob - row[token])).toBeLessThan(1e-4);
  const order = [...row.keys()].sort((a, b) => row[b] - row[a] || a - b).slice(0, top);
  expect(got.topIds.length).toBe(top);
  // the same values in the same order (ids may swap only between near-equal values)
  got.topLogprobs.forEach((lp, i) => expect(Math.abs(lp - row[order[i]])).toBeLessThan(1e-4));
  got.topIds.forEach((id, i) => expect(Math.abs(row[id] - got.topLogprobs[i])).toBeLessThan(1e-4));
}

describe('log-probabilities are the target\'s, against a full-forward reference', () => {
  const cases: [string, () => Engine, Partial<DecodeRequest>][] = [
    ['target, greedy', () => engine, { mode: 'target' }],
    ['exact K=4, greedy', () => engine, { mode: 'exact', k: 4 }],
    ['exact K=4, T=0.7 (still the raw T=1 distribution)', () => engine, { mode: 'exact', k: 4, temperature: 0.7, seed: 5 }],
    ['judge K=4 with a head that accepts everything', () => judgeAll, { mode: 'judge', k: 4 }],
    ['kl K=3, T=1', () => engine, { mode: 'kl', k: 3, temperature: 1, seed: 2, klThreshold: 5 }],
  ];
  for (const [name, e, over] of cases) {
    it(name, async () => {
      const prompt = good.encodePrompt('the quick brown fox');
      const top = 5;
      const c = await collect(e(), prompt, { ...over, maxTokens: 30, logprobs: top });
      expect(c.tokens.length).toBeGreaterThan(5);
      expect(c.prompt).toBeUndefined(); // not asked: the prefill fetched no logits
      const seq = [...prompt, ...c.tokens];
      const rows = await referenceRows(seq);
      c.tokens.forEach((t, i) => expectMatches(c.logprobs[i], rows[prompt.length + i - 1], t, top));
      if (over.mode === 'judge') expect(c.steps.some((s) => s.provenance.includes('judge'))).toBe(true);
      if (over.mode !== 'target') expect(c.steps.some((s) => s.tokens.length > 1)).toBe(true);
    });
  }

  it('prompt tokens with promptLogprobs (the first is null), and max_tokens 0 scores the prompt only', async () => {
    const prompt = good.encodePrompt('hello world, once upon a time');
    const rows = await referenceRows(prompt);
    for (const maxTokens of [0, 6]) {
      const c = await collect(engine, prompt, { mode: 'exact', k: 4, maxTokens, logprobs: 2, promptLogprobs: true });
      expect(c.prompt).toHaveLength(prompt.length);
      expect(c.prompt![0]).toBeNull();
      for (let p = 1; p < prompt.length; p++) expectMatches(c.prompt![p]!, rows[p - 1], prompt[p], 2);
      expect(c.tokens).toHaveLength(maxTokens);
    }
  });

  it('costs nothing unless asked: no logprobs on steps, and max_tokens 0 without prompt logprobs is refused', async () => {
    const c = await collect(engine, good.encodePrompt('hello'), { maxTokens: 8 });
    expect(c.steps.every((s) => s.logprobs === undefined)).toBe(true);
    expect(() => engine.decode(greedyRequest([5, 6], { maxTokens: 0 }))).toThrow(/max_tokens must be a positive integer, got 0/);
    expect(() => engine.decode(greedyRequest([5, 6], { logprobs: 21 }))).toThrow(/logprobs must be an integer in \[0, 20\]/);
  });

  it('topIds: largest first, ties to the lower id', () => {
    expect(topIds(Float32Array.from([1, 3, 3, 2, 5]), 3)).toEqual([4, 1, 2]);
    expect(topIds(Float32Array.from([1, 3]), 0)).toEqual([]);
    expect(topIds(Float32Array.from([1, 3]), 5)).toEqual([1, 0]);
  });
});

describe('chunked prefill (prefillChunk): the same caches as one forward over the prompt', () => {
  /** The token counts of every prefill forward while `fn` runs, per session file (target, draft). */
  async function prefillSizes(fn: () => Promise<unknown>): Promise<Map<string, number[]>> {
    const spy = vi.spyOn(DecoderSession.prototype, 'prefill'); // records the calls, runs the real method
    const sizes = new Map<string, number[]>();
    try {
      await fn();
      spy.mock.calls.forEach(([, tokens], i) => {
        const path = (spy.mock.contexts[i] as DecoderSession).path;
        sizes.set(path, [...(sizes.get(path) ?? []), tokens.length]);
      });
    } finally {
      spy.mockRestore();
    }
    return sizes;
  }

  /** n tokens in pieces of `chunk`: the sizes the forwards should have. */
  const pieces = (n: number, chunk: number) => [...Array(Math.floor(n / chunk)).fill(chunk), ...(n % chunk ? [n % chunk] : [])];

  it('in chunks of 3 and of 1: the log-probabilities of the prompt and the answer match the full-forward reference, the tokens the one-forward engine\'s', async () => {
    const prompt = good.encodePrompt('hello world, once upon a time there was a fox');
    expect(prompt.length).toBeGreaterThan(8);
    const whole = await createEngine(good, { ...ONE_THREAD, prefillChunk: 0 });
    for (const chunk of [3, 1]) {
      const chunked = await createEngine(good, { ...ONE_THREAD, prefillChunk: chunk });
      for (const mode of ['target', 'exact'] as const) {
        const over = { mode, k: 4, maxTokens: 20, logprobs: 2 };
        let c: Collected | undefined;
        const sizes = await prefillSizes(async () => {
          c = await collect(chunked, prompt, over);
        });
        // it did chunk: the target's prefill (and in exact mode the draft's) in pieces of `chunk`, all of the prompt but its last token
        expect(sizes.get(good.targetPath)).toEqual(pieces(prompt.length - 1, chunk));
        expect(sizes.get(good.draftPath)).toEqual(mode === 'exact' ? pieces(prompt.length - 1, chunk) : undefined);
        const one = await collect(whole, prompt, over);
        expect(c!.tokens).toEqual(one.tokens);
        const rows = await referenceRows([...prompt, ...c!.tokens]);
        c!.tokens.forEach((t, i) => expectMatches(c!.logprobs[i], rows[prompt.length + i - 1], t, 2));
        // with the prompt's log-probabilities, which the target's prefill computes chunk by chunk
        const scored = await collect(chunked, prompt, { ...over, promptLogprobs: true });
        expect(scored.tokens).toEqual(one.tokens);
        for (let p = 1; p < prompt.length; p++) expectMatches(scored.prompt![p]!, rows[p - 1], prompt[p], 2);
      }
      await chunked.dispose();
    }
    await whole.dispose();
  });

  it(`by default in forwards of ${DEFAULT_PREFILL_CHUNK} tokens; 0 prefills in one forward`, async () => {
    const prompt = good.encodePrompt('the quick brown fox jumps over the lazy dog. '.repeat(12));
    const n = prompt.length - 1;
    expect(n).toBeGreaterThan(2 * DEFAULT_PREFILL_CHUNK);
    const byDefault = await prefillSizes(() => collect(engine, prompt, { mode: 'target', maxTokens: 2 }));
    expect(byDefault.get(good.targetPath)).toEqual(pieces(n, DEFAULT_PREFILL_CHUNK));
    const whole = await createEngine(good, { ...ONE_THREAD, prefillChunk: 0 });
    const once = await prefillSizes(() => collect(whole, prompt, { mode: 'target', maxTokens: 2 }));
    expect(once.get(good.targetPath)).toEqual([n]);
    await whole.dispose();
  });

  it('refuses a chunk that is not a whole number ≥ 0', async () => {
    await expect(createEngine(good, { ...ONE_THREAD, prefillChunk: -1 })).rejects.toThrow(/prefillChunk must be a whole number of tokens ≥ 0 \(0 = the whole prompt at once\), not -1/);
    await expect(createEngine(good, { ...ONE_THREAD, prefillChunk: 2.5 })).rejects.toThrow(/not 2\.5/);
  });
});
