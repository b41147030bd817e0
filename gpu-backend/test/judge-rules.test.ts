import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadBundle } from '../src/bundle/load.ts';
import { mineBundle } from '../src/judge/mine.ts';
import { tinyBundleFixture } from './judge-fixtures.ts';
import { harmlessByDistribution, parseRule } from '../src/judge/rules.ts';
import { continuationLogLik, maxLogSoftmax, selfJudgeHarmless } from '../src/judge/selfjudge.ts';
import { loadDecodeModels } from '../src/judge/models.ts';
import { decode } from '../src/engine/decode.ts';
import { greedyRequest } from '../src/engine/engine.ts';
import { continuationNll } from '../src/fidelity/evaluator.ts';

const fx = tinyBundleFixture('judge-rules-', 9);

describe('mining rules', () => {
  it('topk and ratio decide from the target distribution', async () => {
    const probs = Float32Array.from([0.5, 0.3, 0.15, 0.05]);
    const top2 = (await parseRule('topk:2')) as Parameters<typeof harmlessByDistribution>[0];
    expect([0, 1, 2, 3].map((t) => harmlessByDistribution(top2, probs, t))).toEqual([true, true, false, false]);
    const half = (await parseRule('ratio:0.5')) as Parameters<typeof harmlessByDistribution>[0];
    expect([0, 1, 2, 3].map((t) => harmlessByDistribution(half, probs, t))).toEqual([true, true, false, false]);
    const quarter = (await parseRule('ratio:0.3')) as Parameters<typeof harmlessByDistribution>[0];
    expect(harmlessByDistribution(quarter, probs, 2)).toBe(true);
  });

  it('rejects malformed rules with the expected form', async () => {
    await expect(parseRule('topk:0')).rejects.toThrow(/topk:N needs a positive integer/);
    await expect(parseRule('ratio:2')).rejects.toThrow(/ratio:A needs A in \(0, 1\]/);
    await expect(parseRule('vibes')).rejects.toThrow(/expected topk:N, ratio:A, module:PATH or selfjudge/);
    const bad = join(fx.root, 'bad-checker.mjs');
    await writeFile(bad, 'export const notCheck = 1;\n');
    await expect(parseRule(`module:${bad}`)).rejects.toThrow(/must export a function check/);
  });

  it('module: the checker sees prefix, continuation and the target reference; its verdict labels mismatches', async () => {
    const bundle = await loadBundle(fx.dir);
    const prompts = [' bram tosh', 'menka tralo'];
    const log = join(fx.root, 'calls.jsonl');
    const yes = join(fx.root, 'yes.mjs');
    await writeFile(
      yes,
      `import { appendFileSync } from 'node:fs';\nexport function check(x) { appendFileSync(${JSON.stringify(log)}, JSON.stringify(x) + '\\n'); return true; }\n`,
    );
    const no = join(fx.root, 'no.mjs');
    await writeFile(no, 'export async function check() { return false; }\n');

    const all = await mineBundle(bundle, prompts, join(fx.root, 'yes.jsonl'), { rule: await parseRule(`module:${yes}`), k: 3, maxTokens: 12 });
    // Every mismatch was called harmless: nothing is wrong, and the checker ran once per mismatch.
    expect(all.negatives).toBe(0);
    expect(all.harmless).toBeGreaterThan(0);
    const calls = (await readFile(log, 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    expect(calls).toHaveLength(all.harmless);
    for (const c of calls) {
      expect(prompts).toContain(c.prompt);
      expect(c.response).toBe(c.prefix + c.continuation);
      expect(c.continuation.length).toBeGreaterThan(0);
      expect(typeof c.reference).toBe('string');
    }

    const none = await mineBundle(bundle, prompts, join(fx.root, 'no.jsonl'), { rule: await parseRule(`module:${no}`), k: 3, maxTokens: 12 });
    // Nothing harmless: labels are exactly argmax agreement, so a perfect judge gains nothing over exact.
    expect(none.harmless).toBe(0);
    expect(none.negatives).toBeGreaterThan(0);
    expect(none.labels).toBe(none.agreed + none.negatives);
    expect(none.oracleTokens).toBe(none.exactTokens);
    for (const line of (await readFile(join(fx.root, 'no.jsonl'), 'utf8')).trim().split('\n')) expect(JSON.parse(line).rule).toBe(`module:${no}`);
  });

  it('selfjudge: spec and flags parse, with defaults; bad N or δ are refused', async () => {
    expect(await parseRule('selfjudge')).toMatchObject({ kind: 'selfjudge', n: 8, delta: 1.5, spec: 'selfjudge:8,1.5' });
    expect(await parseRule('selfjudge:4,0.25')).toMatchObject({ n: 4, delta: 0.25 });
    expect(await parseRule('selfjudge', { n: 3, delta: 2 })).toMatchObject({ n: 3, delta: 2, spec: 'selfjudge:3,2' });
    await expect(parseRule('selfjudge:0,1')).rejects.toThrow(/positive integer N/);
    await expect(parseRule('selfjudge', { delta: -1 })).rejects.toThrow(/δ >= 0/);
  });

  it('selfjudge: the continuation log-likelihood equals the NLL of the target greedy continuation, scored in one forward', async () => {
    const bundle = await loadBundle(fx.dir);
    const m = await loadDecodeModels(bundle);
    try {
      const ctx = bundle.encodePrompt(' bram tosh');
      const token = 5;
      const n = 6;
      const cache = m.target.newCache();
      await m.target.prefill(cache, ctx);
      const ll = await continuationLogLik(m.target, cache, token, n);
      expect(cache.length).toBe(ctx.length); // rolled back
      cache.release();
      let greedy: number[] = [];
      for await (const ev of decode(m, greedyRequest([...ctx, token], { mode: 'target', maxTokens: n }))) if (ev.type === 'done') greedy = ev.tokens;
      expect(greedy).toHaveLength(n);
      const nll = await continuationNll(m.target, [...ctx, token], greedy);
      expect(ll).toBeCloseTo(-nll.sum, 3);
      // The same token on both sides: gap 0, harmless even at δ = 0.
      expect(await selfJudgeHarmless(m.target, ctx, token, token, n, 0)).toEqual({ harmless: true, gap: 0 });
      expect(maxLogSoftmax(Float32Array.from([0, Math.log(3)]))).toEqual({ index: 1, logProb: expect.closeTo(Math.log(0.75), 6) });
    } finally {
      await m.dispose();
    }
  });

  it('selfjudge: δ = ∞ calls every mismatch harmless; δ = 0 fewer', async () => {
    const bundle = await loadBundle(fx.dir);
    const prompts = [' bram tosh', 'menka tralo'];
    const loose = await mineBundle(bundle, prompts, join(fx.root, 'sj-loose.jsonl'), { rule: await parseRule('selfjudge:4,1e9'), k: 3, maxTokens: 12 });
    expect(loose.negatives).toBe(0);
    expect(loose.harmless).toBeGreaterThan(0);
    const strict = await mineBundle(bundle, prompts, join(fx.root, 'sj-strict.jsonl'), { rule: await parseRule('selfjudge:4,0'), k: 3, maxTokens: 12 });
    expect(strict.labels).toBe(strict.agreed + strict.harmless + strict.negatives);
    expect(strict.negatives).toBeGreaterThan(0);
    const line = JSON.parse((await readFile(join(fx.root, 'sj-strict.jsonl'), 'utf8')).split('\n')[0]);
    expect(line.rule).toBe('selfjudge:4,0');
  });
});
