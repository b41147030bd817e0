import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../src/server/start.ts';
import { postJson, scrape, start, tinyJudgeBundle } from './server-helpers.ts';

/**
 * Batching through the real HTTP server: concurrent requests answered by a batching server equal
 * those of a server that runs each alone (`--batching off`), and `--spec-k auto` reports its choices.
 */
let on: RunningServer;
let off: RunningServer;
let auto: RunningServer;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  const b = await tinyJudgeBundle();
  cleanup = b.cleanup;
  [on, off, auto] = await Promise.all([
    start({ bundle: b.dir, concurrency: 8, intraOpThreads: 1 }),
    start({ bundle: b.dir, concurrency: 8, intraOpThreads: 1, batching: 'off' }),
    start({ bundle: b.dir, concurrency: 8, intraOpThreads: 1, specK: 'auto' }),
  ]);
});
afterAll(async () => {
  await Promise.all([on?.close(), off?.close(), auto?.close()]);
  await cleanup?.();
});

const PROMPTS = ['the quick brown fox', 'hello', 'once upon a time', 'a cat sat on', 'why is the sky'];

async function completion(server: RunningServer, i: number, speculative: object, extra: object = {}): Promise<{ text: string; usage: { completion_tokens: number } }> {
  const res = await postJson(`${server.url}/v1/completions`, { model: 'synth-tiny', prompt: PROMPTS[i], max_tokens: 10 + 6 * i, temperature: 0.8, seed: 100 + i, speculative, ...extra });
  expect(res.status).toBe(200);
  const body = await res.json();
  return { text: body.choices[0].text, usage: body.usage };
}

describe('verdict serve --batching', () => {
  for (const mode of ['exact', 'judge'] as const) {
    it(`${mode}: concurrent requests get the answers they get alone`, async () => {
      const alone = [];
      for (let i = 0; i < PROMPTS.length; i++) alone.push(await completion(off, i, { mode, k: 3 }));
      const batched = await Promise.all(PROMPTS.map((_, i) => completion(on, i, { mode, k: 3 })));
      expect(batched.map((b) => b.text)).toEqual(alone.map((a) => a.text));
    });
  }

  it('a batching server really batched: the batch-size histogram saw steps with several requests', async () => {
    const m = await scrape(on.url);
    expect(m.get('verdict_batch_rows_count')).toBeGreaterThan(0);
    expect((m.get('verdict_batch_rows_count') ?? 0) - (m.get('verdict_batch_rows_bucket{le="1"}') ?? 0)).toBeGreaterThan(0);
    const offMetrics = await scrape(off.url);
    expect(offMetrics.get('verdict_batch_rows_count') ?? 0).toBe(0);
  });

  it('--spec-k auto: exact at temperature 0 still equals target mode, and every step says who chose its K', async () => {
    const greedy = { temperature: 0 };
    const target = await Promise.all(PROMPTS.map((_, i) => completion(off, i, { mode: 'target' }, greedy)));
    const exact = await Promise.all(PROMPTS.map((_, i) => completion(auto, i, { mode: 'exact', k: 4 }, greedy)));
    expect(exact.map((e) => e.text)).toEqual(target.map((t) => t.text));
    const m = await scrape(auto.url);
    let steps = 0;
    for (const [k, v] of m) if (k.startsWith('verdict_batch_spec_steps_total{')) {
      expect(k).toMatch(/why="(auto|probe)"/);
      steps += v;
    }
    expect(steps).toBe(m.get('verdict_batch_rows_count'));
    expect(steps).toBeGreaterThan(0);
  });
});
