import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { argmax } from '../src/engine/sampling.ts';
import { createEngine, greedyRequest } from '../src/engine/engine.ts';
import { DecoderSession } from '../src/engine/session.ts';
import { ONE_THREAD, openTinyEngines, run, zeroHead, type TinyEngines } from './engine-fixture.ts';

let fx: TinyEngines;
beforeAll(async () => {
  fx = await openTinyEngines();
});
afterAll(() => fx?.dispose());

describe('target decoding', () => {
  it('with the KV cache equals full recomputation without a cache, token for token', async () => {
    const session = await DecoderSession.load(fx.good.targetPath, fx.good.manifest.target, fx.good.manifest.max_context, ONE_THREAD);
    const V = fx.good.manifest.target.vocab_size;
    for (const prompt of fx.prompts) {
      const cached = await run(fx.engine, prompt, { mode: 'target', maxTokens: 24 });
      const seq = [...prompt];
      const eos = new Set(fx.good.manifest.eos_token_ids);
      for (let i = 0; i < 24; i++) {
        const { logits } = await session.forward(session.newCache(), seq); // fresh cache: the whole sequence each time
        const next = argmax(logits.subarray(logits.length - V));
        if (eos.has(next)) break;
        seq.push(next);
      }
      expect(cached.tokens).toEqual(seq.slice(prompt.length));
    }
    await session.dispose();
  });
});

describe('exact at temperature 0 equals target', () => {
  for (const k of [1, 4, 8]) {
    it(`K=${k}, derived draft and a bad (independent) draft`, async () => {
      for (const prompt of fx.prompts) {
        const ref = await run(fx.engine, prompt, { mode: 'target', maxTokens: 40 });
        const spec = await run(fx.engine, prompt, { mode: 'exact', k, maxTokens: 40 });
        const bad = await run(fx.badEngine, prompt, { mode: 'exact', k, maxTokens: 40 });
        expect(spec.tokens).toEqual(ref.tokens);
        expect(bad.tokens).toEqual(ref.tokens);
        expect(spec.text).toBe(ref.text);
        expect(spec.steps.map((s) => s.text).join('')).toBe(spec.text); // streamed pieces add up to the text
        expect(spec.steps.flatMap((s) => s.tokens)).toEqual(spec.tokens);
        // Both drafts are actually exercised: rejections happen, and the derived draft is accepted more often.
        expect(bad.done.stats.accepted).toBeLessThan(bad.done.stats.drafted);
        expect(spec.done.stats.accepted).toBeGreaterThanOrEqual(bad.done.stats.accepted);
      }
    });
  }
  it('the derived draft is accepted often and the bad one rarely (the tests exercise both paths)', async () => {
    const spec = await run(fx.engine, fx.prompts[1], { mode: 'exact', k: 4, maxTokens: 60 });
    const bad = await run(fx.badEngine, fx.prompts[1], { mode: 'exact', k: 4, maxTokens: 60 });
    expect(spec.done.stats.accepted / spec.done.stats.drafted).toBeGreaterThan(0.3);
    expect(bad.done.stats.accepted / bad.done.stats.drafted).toBeLessThan(spec.done.stats.accepted / spec.done.stats.drafted);
  });
});

describe('a tiny non-zero temperature', () => {
  it('1e-310 (1/T overflows to Infinity) gives the greedy output in every mode', async () => {
    for (const mode of ['target', 'exact'] as const) {
      const greedy = await run(fx.engine, fx.prompts[1], { mode, k: 4, maxTokens: 24, temperature: 0 });
      const tiny = await run(fx.engine, fx.prompts[1], { mode, k: 4, maxTokens: 24, temperature: 1e-310, seed: 9 });
      expect(tiny.tokens).toEqual(greedy.tokens);
    }
  });
});

describe('judge', () => {
  it('a head that accepts nothing equals exact (greedy and seeded sampling)', async () => {
    const none = await createEngine(fx.good, { ...ONE_THREAD, judge: zeroHead(fx.good.manifest.target.hidden_size, -10) });
    for (const prompt of fx.prompts) {
      for (const temperature of [0, 0.8]) {
        const a = await run(none, prompt, { mode: 'judge', k: 4, maxTokens: 30, temperature, seed: 5 });
        const b = await run(fx.engine, prompt, { mode: 'exact', k: 4, maxTokens: 30, temperature, seed: 5 });
        expect(a.tokens).toEqual(b.tokens);
        expect(a.done.stats.judgeAccepted).toBe(0);
      }
    }
    await none.dispose();
  });
  it('a head that accepts everything emits, each step, the draft\'s K greedy tokens then the target\'s (full-forward reference, no caches)', async () => {
    const all = await createEngine(fx.good, { ...ONE_THREAD, judge: zeroHead(fx.good.manifest.target.hidden_size, 10) });
    const K = 4;
    const maxTokens = 41;
    const r = await run(all, fx.prompts[0], { mode: 'judge', k: K, maxTokens, stop: [] });
    expect(r.steps.length).toBeGreaterThan(3);
    // The reference recomputes every prediction from the whole sequence with a fresh cache, so it also checks
    // that the fx.engine's draft cache is right after a fully accepted step (when d_K was never fed to the draft).
    const V = fx.good.manifest.target.vocab_size;
    const draft = await DecoderSession.load(fx.good.draftPath, fx.good.manifest.draft, fx.good.manifest.max_context, ONE_THREAD);
    const target = await DecoderSession.load(fx.good.targetPath, fx.good.manifest.target, fx.good.manifest.max_context, ONE_THREAD);
    const greedy = async (s: DecoderSession, seq: number[]) => {
      const { logits } = await s.forward(s.newCache(), seq);
      return argmax(logits.subarray(logits.length - V));
    };
    const eos = new Set(fx.good.manifest.eos_token_ids);
    const seq = [...fx.prompts[0]];
    const expected: number[] = [];
    const emit = (t: number) => {
      if (eos.has(t) || expected.length >= maxTokens) return false;
      expected.push(t);
      seq.push(t);
      return true;
    };
    reference: for (;;) {
      for (let i = 0; i < K; i++) if (!emit(await greedy(draft, seq))) break reference;
      if (!emit(await greedy(target, seq))) break;
    }
    await draft.dispose();
    await target.dispose();
    expect(r.tokens).toEqual(expected);
    for (const s of r.steps) expect(s.stats.accepted).toBe(s.stats.drafted);
    expect(r.done.stats.judgeAccepted).toBeGreaterThan(0);
    expect(r.steps[0].provenance.at(-1)).toBe('target');
    // the same fx.engine in exact mode never computes judge scores
    const exact = await run(all, fx.prompts[0], { mode: 'exact', k: 4, maxTokens: 41, stop: [] });
    expect(exact.done.stats.judgeMs).toBe(0);
    expect(exact.done.stats.judgeAccepted).toBe(0);
    await all.dispose();
  });
  it('threshold 1 accepts nothing, even from a head whose logit (30) rounds to a float32 score of 1', async () => {
    expect(Math.fround(1 / (1 + Math.exp(-30)))).toBe(1);
    const sure = await createEngine(fx.good, { ...ONE_THREAD, judge: zeroHead(fx.good.manifest.target.hidden_size, 30) });
    const accepting = await run(sure, fx.prompts[1], { mode: 'judge', k: 4, maxTokens: 30, threshold: 0.999 });
    expect(accepting.done.stats.judgeAccepted).toBeGreaterThan(0); // the head does fire below 1
    const one = await run(sure, fx.prompts[1], { mode: 'judge', k: 4, maxTokens: 30, threshold: 1 });
    const exact = await run(fx.engine, fx.prompts[1], { mode: 'exact', k: 4, maxTokens: 30 });
    expect(one.done.stats.judgeAccepted).toBe(0);
    expect(one.tokens).toEqual(exact.tokens);
    for (const s of one.steps) expect(s.provenance).not.toContain('judge');
    await sure.dispose();
  });
  it('threshold 0 accepts every draft, even from a head whose logit is -30', async () => {
    const never = await createEngine(fx.good, { ...ONE_THREAD, judge: zeroHead(fx.good.manifest.target.hidden_size, -30) });
    const r = await run(never, fx.prompts[1], { mode: 'judge', k: 4, maxTokens: 21, threshold: 0, stop: [] });
    for (const s of r.steps) expect(s.stats.accepted).toBe(s.stats.drafted);
    await never.dispose();
  });
  it('is unavailable, with the reason, when the target has no hidden_states output', async () => {
    const plain = { ...fx.good, manifest: { ...fx.good.manifest, target: { ...fx.good.manifest.target, has_hidden_states: false } } };
    const e = await createEngine(plain, { ...ONE_THREAD, judge: zeroHead(fx.good.manifest.target.hidden_size, 10) });
    expect(e.modes).not.toContain('judge');
    await expect(run(e, fx.prompts[0], { mode: 'judge' })).rejects.toThrow(/judge mode is unavailable: the target target.onnx has no hidden_states output/);
    await e.dispose();
  });
  it('a head of the wrong width is refused when the fx.engine is created', async () => {
    await expect(createEngine(fx.good, { ...ONE_THREAD, judge: zeroHead(7, 0) })).rejects.toThrow(/7 weights.*hidden_size is 64/);
  });
});

describe('kl', () => {
  it('with threshold 0 equals exact', async () => {
    for (const prompt of fx.prompts) {
      const a = await run(fx.engine, prompt, { mode: 'kl', k: 4, maxTokens: 30, klThreshold: 0 });
      const b = await run(fx.engine, prompt, { mode: 'exact', k: 4, maxTokens: 30 });
      expect(a.tokens).toEqual(b.tokens);
    }
  });
  it('with a loose threshold accepts drafts the exact rule rejects', async () => {
    const r = await run(fx.badEngine, fx.prompts[1], { mode: 'kl', k: 4, maxTokens: 30, klThreshold: 100, klConfidence: 1 });
    expect(r.done.stats.judgeAccepted).toBeGreaterThan(0);
  });
});

describe('stops inside an accepted chunk', () => {
  it('a stop sequence cuts the chunk and is not emitted', async () => {
    const all = await createEngine(fx.good, { ...ONE_THREAD, judge: zeroHead(fx.good.manifest.target.hidden_size, 10) });
    const ref = await run(all, fx.prompts[0], { mode: 'judge', k: 8, maxTokens: 40 });
    // a stop string that first appears in the middle of step 1's 9-token chunk
    const before = ref.steps[0].text;
    const chunk = ref.steps[1].text;
    const stop = chunk.slice(Math.floor(chunk.length / 2), Math.floor(chunk.length / 2) + 3);
    expect(stop.length).toBe(3);
    const at = ref.text.indexOf(stop);
    expect(at).toBeGreaterThanOrEqual(before.length);
    const r = await run(all, fx.prompts[0], { mode: 'judge', k: 8, maxTokens: 40, stop: [stop] });
    expect(r.finishReason).toBe('stop');
    expect(r.text).toBe(ref.text.slice(0, at));
    const last = r.steps.at(-1)!;
    expect(last.tokens.length).toBeLessThan(last.stats.accepted + 1);
    await all.dispose();
  });
  it('max_tokens ends the output at exactly that many tokens', async () => {
    const ref = await run(fx.engine, fx.prompts[1], { mode: 'exact', k: 8, maxTokens: 40 });
    for (const maxTokens of [1, 5, 13]) {
      const r = await run(fx.engine, fx.prompts[1], { mode: 'exact', k: 8, maxTokens });
      expect(r.tokens).toEqual(ref.tokens.slice(0, maxTokens));
      expect(r.finishReason).toBe('length');
      expect(r.done.stats.completionTokens).toBe(maxTokens);
    }
  });
});

describe('bad input', () => {
  it('gives clear errors and leaves the fx.engine usable', async () => {
    const p = fx.prompts[0];
    expect(() => fx.engine.decode(greedyRequest([]))).toThrow(/prompt is empty/);
    await expect(run(fx.engine, p, { k: 0 })).rejects.toThrow(/k must be an integer in \[1, 64\], got 0/);
    await expect(run(fx.engine, p, { k: -3 })).rejects.toThrow(/got -3/);
    await expect(run(fx.engine, p, { mode: 'beam' as never })).rejects.toThrow(/unknown mode "beam"/);
    await expect(run(fx.engine, p, { mode: 'judge' })).rejects.toThrow(/judge mode is unavailable: bundle 'synth-tiny' has no judge head/);
    await expect(run(fx.engine, [999999])).rejects.toThrow(/outside the vocabulary/);
    await expect(run(fx.engine, p, { temperature: -1 })).rejects.toThrow(/temperature/);
    expect(fx.engine.modes).toEqual(['target', 'exact', 'kl', 'entropy']);
    const ok = await run(fx.engine, p, { maxTokens: 3 });
    expect(ok.tokens.length).toBe(3);
  });
});

describe('cancellation', () => {
  it('an aborted signal ends the decode with finish reason cancelled', async () => {
    const ac = new AbortController();
    const steps: number[] = [];
    let reason = '';
    for await (const ev of fx.engine.decode(greedyRequest(fx.prompts[0], { maxTokens: 50 }), ac.signal)) {
      if (ev.type === 'step') {
        steps.push(ev.step);
        ac.abort();
      }
      if (ev.type === 'done') reason = ev.finishReason;
    }
    expect(reason).toBe('cancelled');
    expect(steps.length).toBeLessThanOrEqual(2);
  });
  it('a consumer that stops iterating early ends the decode, and the next decode is unaffected', async () => {
    const ref = await run(fx.engine, fx.prompts[1], { maxTokens: 20 });
    for await (const ev of fx.engine.decode(greedyRequest(fx.prompts[1], { maxTokens: 20 }))) if (ev.type === 'step') break;
    const again = await run(fx.engine, fx.prompts[1], { maxTokens: 20 });
    expect(again.tokens).toEqual(ref.tokens);
  });
  it('concurrent decodes on one fx.engine keep separate state', async () => {
    const [a, b] = await Promise.all([run(fx.engine, fx.prompts[0], { maxTokens: 20 }), run(fx.engine, fx.prompts[1], { mode: 'target', maxTokens: 20 })]);
    expect(a.tokens).toEqual((await run(fx.engine, fx.prompts[0], { maxTokens: 20 })).tokens);
    expect(b.tokens).toEqual((await run(fx.engine, fx.prompts[1], { mode: 'target', maxTokens: 20 })).tokens);
  });
});
