import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JudgeHead } from '../src/bundle/judge-head.ts';
import type { LoadedBundle } from '../src/bundle/types.ts';
import { createEngine } from '../src/engine/engine.ts';
import { DecoderSession } from '../src/engine/session.ts';
import { foldHeadIntoModel } from '../src/judge/fold.ts';
import { ONE_THREAD, run, tinyBundles } from './engine-fixture.ts';

/** A judge head folded into the target graph (`judge_logits`) must decide exactly as the same head applied to hidden_states. */
let good: LoadedBundle;
let folded: LoadedBundle;
let head: JudgeHead;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  ({ good, cleanup } = await tinyBundles());
  const d = good.manifest.target.hidden_size;
  // deterministic weights; the bias centres the logits on this model's hidden states so about half the positions pass 0.5
  const weights = Array.from({ length: d }, (_, j) => Math.sin(j * 12.9898) * 0.5);
  const s = await DecoderSession.load(good.targetPath, good.manifest.target, good.manifest.max_context, ONE_THREAD);
  const { hidden } = await s.forward(s.newCache(), good.encodePrompt('the quick brown fox jumps'), { hidden: true });
  await s.dispose();
  const z: number[] = [];
  for (let i = 0; i * d < hidden!.length; i++) z.push(weights.reduce((acc, w, j) => acc + w * hidden![i * d + j], 0));
  const median = [...z].sort((a, b) => a - b)[z.length >> 1];
  head = { format: 'verdict-judge/1', hidden_size: d, weights, bias: -median, threshold: 0.5, target_sha256: '0'.repeat(64) };
  const parts = foldHeadIntoModel(await readFile(good.targetPath), head);
  const path = join(good.dir, 'target-folded.onnx');
  await writeFile(path, Buffer.concat(parts));
  folded = { ...good, targetPath: path, judge: head, manifest: { ...good.manifest, target: { ...good.manifest.target, has_judge_logits: true } } };
});
afterAll(() => cleanup?.());

describe('folded judge head', () => {
  it('judge_logits equals w·h + b computed from hidden_states', async () => {
    const s = await DecoderSession.load(folded.targetPath, folded.manifest.target, folded.manifest.max_context, ONE_THREAD);
    const out = await s.forward(s.newCache(), good.encodePrompt('hello world'), { hidden: true, judge: true });
    const d = head.hidden_size;
    const S = out.judgeLogits!.length;
    expect(S).toBeGreaterThan(3);
    for (let i = 0; i < S; i++) {
      let z = head.bias;
      for (let j = 0; j < d; j++) z += head.weights[j] * out.hidden![i * d + j];
      expect(out.judgeLogits![i]).toBeCloseTo(z, 4);
    }
    await s.dispose();
  });
  it('judge mode over the folded output decodes as over hidden states, and the judge accepts some drafts', async () => {
    const viaFold = await createEngine(folded, ONE_THREAD);
    const viaHidden = await createEngine(good, { ...ONE_THREAD, judge: head });
    for (const text of ['hello world', 'the quick brown fox']) {
      const a = await run(viaFold, good.encodePrompt(text), { mode: 'judge', k: 4, maxTokens: 30 });
      const b = await run(viaHidden, good.encodePrompt(text), { mode: 'judge', k: 4, maxTokens: 30 });
      expect(a.tokens).toEqual(b.tokens);
      expect(a.done.stats.judgeAccepted).toBe(b.done.stats.judgeAccepted);
    }
    const r = await run(viaFold, good.encodePrompt('the quick brown fox'), { mode: 'judge', k: 4, maxTokens: 30 });
    expect(r.done.stats.judgeAccepted).toBeGreaterThan(0);
    await viaFold.dispose();
    await viaHidden.dispose();
  });
});
