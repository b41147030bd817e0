import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LoadedBundle } from '../src/bundle/types.ts';
import { createEngine, type Engine } from '../src/engine/engine.ts';
import { ONE_THREAD, run, tinyBundles } from './engine-fixture.ts';

let bad: LoadedBundle;
let engine: Engine;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  ({ badDraft: bad, cleanup } = await tinyBundles());
  engine = await createEngine(bad, ONE_THREAD);
});
afterAll(async () => {
  await engine?.dispose();
  await cleanup?.();
});

describe('entropy mode through the engine', () => {
  const prompts = [[1, 17, 42], [1, 99], [1, 5, 6, 7, 8]];
  it('with entropy_threshold ∞ it decodes exactly as exact (greedy and sampled)', async () => {
    for (const ids of prompts) {
      for (const temperature of [0, 1]) {
        const e = await run(engine, ids, { mode: 'exact', k: 4, maxTokens: 24, temperature, seed: 3 });
        const h = await run(engine, ids, { mode: 'entropy', k: 4, maxTokens: 24, temperature, seed: 3, entropyThreshold: Infinity });
        expect(h.tokens).toEqual(e.tokens);
        expect(h.done.stats.judgeAccepted).toBe(0);
      }
    }
  });
  it('with a gate of 0 and a window of 1 it keeps drafts exact rejects (provenance judge)', async () => {
    let kept = 0;
    for (const ids of prompts) kept += (await run(engine, ids, { mode: 'entropy', k: 4, maxTokens: 24, entropyThreshold: 0, entropyWindow: 1 })).done.stats.judgeAccepted;
    expect(kept).toBeGreaterThan(0);
  });
  it('refuses a bad window or gate', () => {
    expect(() => engine.decode({ ...baseReq(), entropyWindow: 0 })).toThrow(/entropy_window/);
    expect(() => engine.decode({ ...baseReq(), entropyThreshold: -1 })).toThrow(/entropy_threshold/);
  });
});

function baseReq() {
  return { promptIds: [1, 2], maxTokens: 4, mode: 'entropy' as const, k: 4, klThreshold: 0.5, klConfidence: 0.9, temperature: 0, topP: 1, topK: 0, seed: 0, stop: [] };
}
