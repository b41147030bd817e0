import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadBundle } from '../src/bundle/load.ts';
import type { LoadedBundle } from '../src/bundle/types.ts';
import { createEngine, greedyRequest, type Engine } from '../src/engine/engine.ts';
import type { DecodeRequest, Mode } from '../src/engine/types.ts';
import { synthBundle } from '../src/synth/synth-bundle.ts';
import { ONE_THREAD, run, tinyBundles, type Run } from './engine-fixture.ts';
import { importBundle } from '../src/import/import-bundle.ts';
import { HAVE_PLE, PLE } from './shared-models.ts';

/**
 * Continuous batching must not change any answer: every request decoded in a batch, joining and
 * leaving while others run, gives what it gives alone (the unbatched engine is the reference).
 * The draft length is fixed here (`specK: 'fixed'`), because a different K draws different random
 * numbers; with the cost model choosing K only exact at T = 0 is comparable, against target mode.
 */
let good: LoadedBundle;
let cleanup: () => Promise<void>;
let alone: Engine;
let batched: Engine;

beforeAll(async () => {
  ({ good, cleanup } = await tinyBundles());
  alone = await createEngine(good, { ...ONE_THREAD, judge: mixedHead(good), batch: { enabled: false } });
  batched = await createEngine(good, { ...ONE_THREAD, judge: mixedHead(good), batch: { enabled: true, specK: 'fixed' } });
});
afterAll(async () => {
  await alone?.dispose();
  await batched?.dispose();
  await cleanup?.();
});

/** A judge head of fixed pseudo-random weights: it keeps some mismatches and not others, so judge mode differs from exact. */
function mixedHead(bundle: LoadedBundle) {
  let x = 12345;
  const weights = Array.from({ length: bundle.manifest.target.hidden_size }, () => ((x = (x * 1103515245 + 12345) % 2 ** 31) / 2 ** 31 - 0.5) * 0.5);
  return { weights, bias: 0, threshold: 0.5 };
}

const PROMPTS = ['the quick brown fox', 'a', 'once upon a time there was', 'hello world, said the', 'in the morning the sun'];

/** Requests with different prompts, lengths and seeds, started in a staggered order so rows join and leave mid-batch. */
function requests(bundle: LoadedBundle, over: Partial<DecodeRequest>): { prompt: number[]; over: Partial<DecodeRequest> }[] {
  return PROMPTS.map((p, i) => ({ prompt: bundle.encodePrompt(p), over: { maxTokens: 12 + 9 * i, seed: 7 + i, k: 2 + (i % 3), ...over } }));
}

async function concurrently(engine: Engine, reqs: ReturnType<typeof requests>): Promise<Run[]> {
  const out: Promise<Run>[] = [];
  for (const [i, r] of reqs.entries()) {
    out.push(run(engine, r.prompt, r.over));
    if (i % 2 === 1) await out[i]; // the next requests join a batch that is already running
  }
  return Promise.all(out);
}

describe('continuous batching', () => {
  it('reports that it batches', () => {
    expect(batched.batching).toEqual({ enabled: true, note: '' });
    expect(alone.batching.enabled).toBe(false);
  });

  const MODES: Mode[] = ['target', 'exact', 'judge', 'kl', 'entropy'];
  for (const mode of MODES) {
    for (const temperature of [0, 0.8]) {
      it(`${mode} at T = ${temperature}: each batched request equals its run alone`, async () => {
        const reqs = requests(good, { mode, temperature, topK: temperature ? 40 : 0 });
        const ref = [];
        for (const r of reqs) ref.push(await run(alone, r.prompt, r.over));
        const got = await concurrently(batched, reqs);
        for (let i = 0; i < reqs.length; i++) {
          expect(got[i].tokens, `request ${i}`).toEqual(ref[i].tokens);
          expect(got[i].finishReason).toBe(ref[i].finishReason);
          expect(got[i].steps.map((s) => s.provenance)).toEqual(ref[i].steps.map((s) => s.provenance));
        }
        if (mode === 'judge') expect(got.reduce((n, g) => n + g.done.stats.judgeAccepted, 0)).toBeGreaterThan(0); // the head kept mismatches
        // several rows really shared steps
        expect(Math.max(...got.flatMap((g) => g.steps.map((s) => s.stats.batch?.rows ?? 0)))).toBeGreaterThan(1);
      });
    }
  }

  it('rows drafting from a prediction or n-grams share the batch with draft-model rows, and each equals its run alone', async () => {
    for (const temperature of [0, 0.8]) {
      const reqs = requests(good, { mode: 'exact', temperature });
      const answers = await Promise.all(reqs.map((r) => run(alone, r.prompt, { ...r.over, mode: 'target', temperature: 0 })));
      // row 0: the right prediction, row 1: a prediction with every 3rd token changed, row 2: n-grams, rows 3-4: the draft model
      const over: Partial<DecodeRequest>[] = [
        { predictionIds: answers[0].tokens },
        { predictionIds: answers[1].tokens.map((t, i) => (i % 3 === 2 ? (t + 1) % good.manifest.target.vocab_size : t)) },
        { proposer: 'ngram' },
        {},
        { mode: 'judge' },
      ];
      const mixed = reqs.map((r, i) => ({ prompt: r.prompt, over: { ...r.over, ...over[i] } }));
      const ref = [];
      for (const r of mixed) ref.push(await run(alone, r.prompt, r.over));
      const got = await concurrently(batched, mixed);
      for (let i = 0; i < mixed.length; i++) {
        expect(got[i].tokens, `T=${temperature} request ${i}`).toEqual(ref[i].tokens);
        expect(got[i].done.stats.acceptedPredictionTokens).toBe(ref[i].done.stats.acceptedPredictionTokens);
        expect(got[i].done.stats.rejectedPredictionTokens).toBe(ref[i].done.stats.rejectedPredictionTokens);
      }
      if (temperature === 0) expect(got[0].steps.flatMap((s) => s.provenance)).toContain('prediction');
    }
  });

  it('with the cost model choosing K, exact at T = 0 still equals target mode alone, and the choices are reported', async () => {
    const auto = await createEngine(good, { ...ONE_THREAD, batch: { enabled: true, specK: 'auto' } });
    try {
      const reqs = requests(good, { mode: 'exact', temperature: 0 });
      const got = await concurrently(auto, reqs);
      for (const [i, r] of reqs.entries()) expect(got[i].tokens).toEqual((await run(alone, r.prompt, { ...r.over, mode: 'target' })).tokens);
      const infos = got.flatMap((g) => g.steps.map((s) => s.stats.batch!));
      expect(infos.every((b) => (b.kWhy === 'auto' || b.kWhy === 'probe') && b.kCap >= 0 && b.kCap <= 4 && b.cacheBytes > 0 && b.deadBytes >= 0 && b.deadBytes <= b.cacheBytes)).toBe(true);
    } finally {
      await auto.dispose();
    }
  });

  it('--spec-disable-batch: no speculation while that many requests share the batch, the same answers', async () => {
    const off = await createEngine(good, { ...ONE_THREAD, batch: { enabled: true, specDisableBatch: 2 } });
    try {
      const reqs = requests(good, { mode: 'exact', temperature: 0 });
      const got = await Promise.all(reqs.map((r) => run(off, r.prompt, r.over)));
      const shared = got.flatMap((g) => g.steps).filter((s) => s.stats.batch!.rows >= 2);
      expect(shared.length).toBeGreaterThan(0);
      expect(shared.every((s) => s.stats.batch!.kCap === 0 && s.stats.batch!.kWhy === 'disabled' && s.stats.drafted === 0)).toBe(true);
      for (const [i, r] of reqs.entries()) expect(got[i].tokens).toEqual((await run(alone, r.prompt, { ...r.over, mode: 'target' })).tokens);
    } finally {
      await off.dispose();
    }
  });

  it('a request cancelled mid-batch ends with cancelled and leaves the others unchanged', async () => {
    const reqs = requests(good, { mode: 'judge', temperature: 0.8 });
    const ref = await Promise.all(reqs.map((r) => run(alone, r.prompt, r.over)));
    const ctl = new AbortController();
    const victim = (async () => {
      let steps = 0;
      let finish = '';
      for await (const ev of batched.decode(greedyRequest(reqs[4].prompt, { ...reqs[4].over, maxTokens: 200 }), ctl.signal)) {
        if (ev.type === 'step' && ++steps === 3) ctl.abort();
        if (ev.type === 'done') finish = ev.finishReason;
      }
      return finish;
    })();
    const got = await Promise.all(reqs.slice(0, 4).map((r) => run(batched, r.prompt, r.over)));
    expect(await victim).toBe('cancelled');
    for (let i = 0; i < 4; i++) expect(got[i].tokens).toEqual(ref[i].tokens);
  });

  it('an export that takes batch 1 only falls back to decoding alone, and says so', async () => {
    const root = await mkdtemp(join(tmpdir(), 'verdict-batch1-'));
    try {
      const one = await loadBundle((await synthBundle({ preset: 'tiny', out: join(root, 'b'), seed: 0, fixedBatch: 1 })).dir);
      const engine = await createEngine(one, { ...ONE_THREAD, batch: { enabled: true } });
      try {
        expect(engine.batching.enabled).toBe(false);
        expect(engine.batching.note).toMatch(/batching is off: .*target\.onnx takes batch size 1 only/);
        const reqs = requests(one, { mode: 'exact', temperature: 0 });
        const got = await Promise.all(reqs.map((r) => run(engine, r.prompt, r.over)));
        for (const [i, r] of reqs.entries()) expect(got[i].tokens).toEqual((await run(alone, r.prompt, { ...r.over, mode: 'target' })).tokens);
      } finally {
        await engine.dispose();
      }
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});

describe.runIf(HAVE_PLE)('continuous batching on the real TinyStories pair', () => {
  it('exact and kl, batched, equal their runs alone; exact equals target', async () => {
    const root = await mkdtemp(join(tmpdir(), 'verdict-batch-ple-'));
    const bundle = await loadBundle((await importBundle({ target: PLE.c3M, draft: PLE.c1M, out: join(root, 'ple') })).dir);
    const solo = await createEngine(bundle, { ...ONE_THREAD, batch: { enabled: false } });
    const many = await createEngine(bundle, { ...ONE_THREAD, batch: { enabled: true, specK: 'fixed' } });
    try {
      for (const [mode, temperature] of [['exact', 0], ['kl', 0.8]] as const) {
        const reqs = ['Once upon a time', 'Lily and Ben', 'The little dog', 'One day, a'].map((p, i) => ({ prompt: [0, ...bundle.encodePrompt(p)], over: { mode, temperature, maxTokens: 20 + 10 * i, seed: i, k: 4 } as Partial<DecodeRequest> }));
        const ref = [];
        for (const r of reqs) ref.push(await run(solo, r.prompt, r.over));
        const got = await concurrently(many, reqs);
        for (let i = 0; i < reqs.length; i++) expect(got[i].tokens, `${mode} request ${i}`).toEqual(ref[i].tokens);
        if (mode === 'exact') for (const [i, r] of reqs.entries()) expect(got[i].tokens).toEqual((await run(solo, r.prompt, { ...r.over, mode: 'target' })).tokens);
      }
    } finally {
      await solo.dispose();
      await many.dispose();
      await rm(root, { recursive: true, force: true });
    }
  }, 120_000);
});
