import { mkdtemp, readFile, rm, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { synthBundle, type SynthResult } from '../src/synth/synth-bundle.ts';
import { argmax } from '../src/engine/sampling.ts';
import { DecoderRunner } from '../src/synth/decoder-runner.ts';
import { sha256File } from '../src/bundle/hash.ts';
import { measureAgreement } from '../src/synth/agreement.ts';

let dir: string;
let tiny: SynthResult;
let target: DecoderRunner;
let draft: DecoderRunner;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'verdict-synth-'));
  tiny = await synthBundle({ preset: 'tiny', out: join(dir, 'tiny'), seed: 7 });
  target = await DecoderRunner.open(join(tiny.dir, tiny.manifest.target.file), tiny.manifest.target);
  draft = await DecoderRunner.open(join(tiny.dir, tiny.manifest.draft.file), tiny.manifest.draft);
});
afterAll(async () => {
  await target?.release();
  await draft?.release();
  await rm(dir, { recursive: true, force: true });
});

const maxAbsDiff = (a: Float32Array, b: Float32Array): number => {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

describe('synthetic decoders', () => {
  it('have exactly the Optimum text-generation-with-past I/O plus hidden_states', () => {
    for (const [runner, spec] of [
      [target, tiny.manifest.target],
      [draft, tiny.manifest.draft],
    ] as const) {
      const past = Array.from({ length: spec.num_layers }, (_, i) => [`past_key_values.${i}.key`, `past_key_values.${i}.value`]).flat();
      const present = Array.from({ length: spec.num_layers }, (_, i) => [`present.${i}.key`, `present.${i}.value`]).flat();
      expect(runner.session.inputNames).toEqual(['input_ids', 'attention_mask', 'position_ids', ...past]);
      expect(runner.session.outputNames).toEqual(['logits', ...present, 'hidden_states']);
    }
    expect(tiny.manifest.target.num_layers).toBe(4);
    expect(tiny.manifest.draft.num_layers).toBe(1);
    expect(tiny.manifest.target.has_hidden_states).toBe(true);
  });

  it('produce outputs of the documented shapes, with and without a past', async () => {
    const out = await target.session.run(await feedsFor(target, [[5, 6, 7]], 0));
    const { vocab_size: v, hidden_size: d, num_kv_heads: kv, head_dim: hd } = tiny.manifest.target;
    expect(out.logits.dims).toEqual([1, 3, v]);
    expect(out.hidden_states.dims).toEqual([1, 3, d]);
    expect(out['present.3.value'].dims).toEqual([1, kv, 3, hd]);
    const step = await target.forward([[9], [10]], {
      past: (await target.forward([[5, 6, 7], [8, 8, 8]])).present,
      pastLen: 3,
    });
    expect(step.present[0].dims).toEqual([2, kv, 4, hd]);
    expect(step.logits.length).toBe(2 * v);
  });

  it('full-sequence forward equals prefill + incremental steps with past_key_values', async () => {
    const ids = [3, 77, 150, 9, 402, 33, 260, 11, 5, 499];
    const v = tiny.manifest.target.vocab_size;
    for (const runner of [target, draft]) {
      const full = await runner.forward([ids]);
      let step = await runner.forward([ids.slice(0, 4)]);
      expect(maxAbsDiff(step.logits, full.logits.subarray(0, 4 * v))).toBeLessThan(1e-4);
      let past = step.present;
      // One token at a time, then a 3-token chunk (the engine's verify shape).
      for (let t = 4; t < 7; t++) {
        step = await runner.forward([[ids[t]]], { past, pastLen: t });
        expect(maxAbsDiff(step.logits, full.logits.subarray(t * v, (t + 1) * v))).toBeLessThan(1e-4);
        past = step.present;
      }
      step = await runner.forward([ids.slice(7)], { past, pastLen: 7 });
      expect(maxAbsDiff(step.logits, full.logits.subarray(7 * v))).toBeLessThan(1e-4);
    }
  });

  it('masks left padding: a padded batch row equals the same row run alone', async () => {
    const v = tiny.manifest.target.vocab_size;
    const short = [40, 41, 42];
    const alone = await target.forward([short]);
    const batch = await target.forward([[0, 0, ...short], [1, 2, 3, 4, 5]], {
      mask: [[0, 0, 1, 1, 1], [1, 1, 1, 1, 1]],
      positions: [[0, 0, 0, 1, 2], [0, 1, 2, 3, 4]],
    });
    expect(maxAbsDiff(batch.logits.subarray(2 * v, 5 * v), alone.logits)).toBeLessThan(1e-4);
  });

  it('the draft is the target with its deeper residual branches removed', async () => {
    // residual-scale 0 makes layers >= draftLayers identity maps, so target logits must equal the draft's.
    const zero = await synthBundle({ preset: 'tiny', out: join(dir, 'zero'), seed: 7, residualScale: 0 });
    const t0 = await DecoderRunner.open(join(zero.dir, 'target.onnx'), zero.manifest.target);
    const ids = [[3, 77, 150, 9, 402]];
    const [a, b] = [await t0.forward(ids), await draft.forward(ids)];
    await t0.release();
    expect(maxAbsDiff(a.logits, b.logits)).toBeLessThan(1e-4);
    expect(zero.manifest.draft.sha256).toBe(tiny.manifest.draft.sha256);
    // …while the calibrated scale makes them differ somewhere but mostly agree.
    const [t, d] = [await target.forward(ids), await draft.forward(ids)];
    expect(maxAbsDiff(t.logits, d.logits)).toBeGreaterThan(1e-3);
  });

  it('can build a deliberately bad draft from independent weights', async () => {
    const bad = await synthBundle({ preset: 'tiny', out: join(dir, 'bad'), seed: 7, independentDraftSeed: 99 });
    expect(bad.manifest.target.sha256).toBe(tiny.manifest.target.sha256);
    expect(bad.manifest.draft.sha256).not.toBe(tiny.manifest.draft.sha256);
    const badDraft = await DecoderRunner.open(join(bad.dir, 'draft.onnx'), bad.manifest.draft);
    const r = await measureAgreement(target, badDraft, bad.manifest.target.vocab_size, { prompts: 2, genLen: 16 });
    await badDraft.release();
    expect(r.agreement).toBeLessThan(0.2);
  });

  it('is deterministic: same seed gives the same sha256s, another seed differs', async () => {
    const again = await synthBundle({ preset: 'tiny', out: join(dir, 'again'), seed: 7 });
    const other = await synthBundle({ preset: 'tiny', out: join(dir, 'other'), seed: 8 });
    expect(again.manifest).toEqual(tiny.manifest);
    expect(await sha256File(join(again.dir, 'target.onnx'))).toBe(tiny.manifest.target.sha256);
    expect(other.manifest.target.sha256).not.toBe(tiny.manifest.target.sha256);
    expect(other.manifest.tokenizer.sha256).not.toBe(tiny.manifest.tokenizer.sha256);
  });

  it('writes atomically: refuses to overwrite without force and leaves nothing behind on failure', async () => {
    await expect(synthBundle({ preset: 'tiny', out: tiny.dir, seed: 7 })).rejects.toThrow(/already exists.*--force/);
    const out = join(dir, 'failing');
    const failing = synthBundle({
      preset: 'tiny',
      out,
      extraSteps: [
        async () => {
          throw new Error('judge step failed');
        },
      ],
    });
    await expect(failing).rejects.toThrow('judge step failed');
    const left = (await readdir(dir)).filter((f) => f.includes('failing'));
    expect(left).toEqual([]);
    const manifestText = await readFile(join(tiny.dir, 'bundle.json'), 'utf8');
    expect(JSON.parse(manifestText).target.sha256).toBe(tiny.manifest.target.sha256);
    // --force replaces a bundle and leaves no temp or backup directory next to it.
    const replaced = await synthBundle({ preset: 'tiny', out: join(dir, 'again'), seed: 9, force: true });
    expect(JSON.parse(await readFile(join(replaced.dir, 'bundle.json'), 'utf8')).meta.synth.seed).toBe(9);
    expect((await readdir(dir)).filter((f) => f.startsWith('.'))).toEqual([]);
  });

  it('the calibrated draft agrees with the target often but not always, and misses narrowly', async () => {
    const r = await measureAgreement(target, draft, tiny.manifest.target.vocab_size, { prompts: 3, genLen: 24 });
    expect(r.positions).toBe(72);
    expect(r.agreement).toBeGreaterThan(0.5);
    expect(r.agreement).toBeLessThan(0.95);
    // Judge decoding needs disagreements where the draft's token is still a strong target candidate.
    expect(r.disagreeTop5).toBeGreaterThan(0.5);
    expect(r.distinctTokens).toBeGreaterThan(24);
  });

  it('prefers word pieces: greedy text is legible, while the prior-free model emits mostly byte tokens', async () => {
    const v = tiny.manifest.target.vocab_size;
    const greedy = async (runner: DecoderRunner): Promise<number[]> => {
      const ids = [0, 300, 301, 302];
      for (let i = 0; i < 32; i++) {
        const out = await runner.forward([ids]);
        ids.push(argmax(out.logits.subarray((ids.length - 1) * v, ids.length * v)));
      }
      return ids.slice(4);
    };
    const byteOrSpecial = (ids: number[]) => ids.filter((id) => id < 258).length;
    const gen = await greedy(target);
    expect(byteOrSpecial(gen)).toBeLessThanOrEqual(2);
    expect(new Set(gen).size).toBeGreaterThan(12);
    expect(tiny.manifest.meta?.synth).toMatchObject({ word_prior: 0.6, judge_signal: 2 });
    const plain = await synthBundle({ preset: 'tiny', out: join(dir, 'plain'), seed: 7, overrides: { wordPrior: 0 }, judgeSignal: 0 });
    const plainTarget = await DecoderRunner.open(join(plain.dir, 'target.onnx'), plain.manifest.target);
    const plainGen = await greedy(plainTarget);
    await plainTarget.release();
    expect(byteOrSpecial(plainGen)).toBeGreaterThan(8);
  });

  it('runs greedy decoding to distinct tokens (not a constant model)', async () => {
    const v = tiny.manifest.target.vocab_size;
    const out = await target.forward([[10, 20, 30, 40, 50, 60, 70, 80]]);
    const picks = new Set(Array.from({ length: 8 }, (_, i) => argmax(out.logits.subarray(i * v, (i + 1) * v))));
    expect(picks.size).toBeGreaterThan(3);
  });
});

async function feedsFor(runner: DecoderRunner, rows: number[][], pastLen: number) {
  const ort = await import('onnxruntime-node');
  const b = rows.length;
  const s = rows[0].length;
  const i64 = (vals: number[], dims: number[]) => new ort.Tensor('int64', BigInt64Array.from(vals.map(BigInt)), dims);
  const feeds: Record<string, InstanceType<typeof ort.Tensor>> = {
    input_ids: i64(rows.flat(), [b, s]),
    attention_mask: i64(new Array(b * (pastLen + s)).fill(1), [b, pastLen + s]),
    position_ids: i64(rows.flatMap(() => Array.from({ length: s }, (_, j) => pastLen + j)), [b, s]),
  };
  for (let i = 0; i < runner.numLayers; i++) {
    for (const kind of ['key', 'value']) {
      feeds[`past_key_values.${i}.${kind}`] = new ort.Tensor('float32', new Float32Array(0), [b, runner.numKvHeads, 0, runner.headDim]);
    }
  }
  return feeds;
}
