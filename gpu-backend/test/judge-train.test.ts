import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { JudgeHeadSchema } from '../src/bundle/judge-head.ts';
import { seededRandom, sigmoid } from '../src/judge/logistic.ts';
import { ACCEPT_NOTHING, chooseThreshold, metricsAt, prCurve, precisionLowerBound, rocAuc } from '../src/judge/metrics.ts';
import { EmbeddingStoreWriter, iterateStore, readStoreManifest } from '../src/judge/store.ts';
import { trainFromStore } from '../src/judge/train.ts';

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'judge-train-'));
  dirs.push(d);
  return d;
}
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

function gaussian(rand: () => number): number {
  return Math.sqrt(-2 * Math.log(rand() + 1e-12)) * Math.cos(2 * Math.PI * rand());
}

const DIM = 24;
const identity = { hiddenSize: DIM, targetSha256: 'a'.repeat(64), dataSha256: 'b'.repeat(64) };

/**
 * Rows with a known separator: label = [w*·x + b* > 0], features with very different scales
 * and offsets (so standardisation and its folding matter), 8 rows per "record".
 */
async function writeSeparableStore(dir: string, records: number, seed: number): Promise<{ w: number[]; b: number }> {
  const rand = seededRandom(seed);
  const w = Array.from({ length: DIM }, () => gaussian(rand));
  const scale = Array.from({ length: DIM }, (_, j) => 0.01 * 10 ** (j % 5));
  const offset = Array.from({ length: DIM }, (_, j) => (j % 3) * 5);
  const b = 0.8; // imbalanced classes (more positives), as in real judge data
  const writer = await EmbeddingStoreWriter.open(dir, identity, 500);
  const x = new Float32Array(DIM);
  for (let r = 0; r < records; r++) {
    for (let t = 0; t < 8; t++) {
      let s = b;
      for (let j = 0; j < DIM; j++) {
        const z = gaussian(rand);
        s += w[j] * z;
        x[j] = offset[j] + scale[j] * z;
      }
      writer.addRow(x, s > 0 ? 1 : 0, false);
    }
    await writer.endRecord();
  }
  await writer.finish();
  // The separator in raw feature space: w_j / scale_j, with the offsets absorbed into the bias.
  const wRaw = w.map((v, j) => v / scale[j]);
  return { w: wRaw, b: b - wRaw.reduce((acc, v, j) => acc + v * offset[j], 0) };
}

function cosine(a: number[], b: number[]): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  return ab / Math.sqrt(aa * bb);
}

describe('judge training on a known linear separator', () => {
  it('recovers the separator, reaches ROC-AUC >= 0.99 and meets the requested precision on held-out data', async () => {
    const dir = await tempDir();
    const truth = await writeSeparableStore(dir, 600, 7);
    const { head, heldOut, goalMet } = await trainFromStore(dir, { goal: { precision: 0.98 }, seed: 3, l2: 1e-4 });
    expect(JudgeHeadSchema.parse(head).hidden_size).toBe(DIM);
    expect(head.target_sha256).toBe(identity.targetSha256);
    expect(heldOut.rocAuc).toBeGreaterThanOrEqual(0.99);
    expect(goalMet).toBe(true);
    expect(heldOut.precision).toBeGreaterThanOrEqual(0.98);
    expect(heldOut.recall).toBeGreaterThan(0.8);
    // Standardisation is folded back: the raw-space weights point along the true separator.
    expect(cosine(head.weights, truth.w)).toBeGreaterThan(0.97);

    // Recompute the held-out precision independently from the exported raw-feature head.
    const manifest = await readStoreManifest(dir);
    const training = head.training as { held_out_rows: number; seed: number };
    const { isHeldOut } = await import('../src/judge/logistic.ts');
    let tp = 0;
    let fp = 0;
    let rows = 0;
    for await (const batch of iterateStore(dir, manifest, 1000)) {
      for (let r = 0; r < batch.count; r++) {
        if (!isHeldOut(batch.records[r], training.seed, 0.2)) continue;
        rows++;
        let z = head.bias;
        for (let j = 0; j < DIM; j++) z += head.weights[j] * batch.features[r * DIM + j];
        if (sigmoid(z) >= head.threshold) batch.labels[r] ? tp++ : fp++;
      }
    }
    expect(rows).toBe(training.held_out_rows);
    expect(tp / (tp + fp)).toBeGreaterThanOrEqual(0.98);
  });

  it('meets a recall goal instead when asked', async () => {
    const dir = await tempDir();
    await writeSeparableStore(dir, 300, 11);
    const { heldOut, goalMet } = await trainFromStore(dir, { goal: { recall: 0.99 }, seed: 1 });
    expect(goalMet).toBe(true);
    expect(heldOut.recall).toBeGreaterThanOrEqual(0.99);
  });

  it('chooses the threshold on the tokens the judge decides, not on argmax tokens the exact rule accepts anyway', async () => {
    const dir = await tempDir();
    const rand = seededRandom(5);
    const writer = await EmbeddingStoreWriter.open(dir, identity);
    const x = new Float32Array(DIM);
    for (let r = 0; r < 400; r++) {
      for (let t = 0; t < 8; t++) {
        for (let j = 0; j < DIM; j++) x[j] = gaussian(rand);
        // 90 % argmax tokens (all correct), told apart by feature 0; mismatches are a coin flip the features cannot see.
        const isArgmax = rand() < 0.9;
        if (isArgmax) x[0] += 3;
        writer.addRow(x, isArgmax ? 1 : ((rand() < 0.5 ? 1 : 0) as 0 | 1), isArgmax);
      }
      await writer.endRecord();
    }
    await writer.finish();
    const { heldOut, heldOutAll, goalMet, head } = await trainFromStore(dir, { goal: { precision: 0.9 } });
    // Over all tokens precision 0.9 looks easy (~95 % are correct), but on the judge's own decisions it is chance.
    expect(heldOutAll.rocAuc).toBeGreaterThan(0.7);
    expect(heldOut.rocAuc).toBeLessThan(0.65);
    expect(goalMet).toBe(false);
    expect(head.threshold).toBe(ACCEPT_NOTHING);
  });

  it('refuses a store with only one class, naming the counts', async () => {
    const dir = await tempDir();
    const writer = await EmbeddingStoreWriter.open(dir, identity);
    for (let r = 0; r < 20; r++) {
      writer.addRow(new Float32Array(DIM).fill(r), 1, false);
      await writer.endRecord();
    }
    await writer.finish();
    await expect(trainFromStore(dir)).rejects.toThrow(/both correct and wrong examples.*0 wrong/);
  });

  it('refuses an incomplete (interrupted) store', async () => {
    const dir = await tempDir();
    const writer = await EmbeddingStoreWriter.open(dir, identity, 4);
    for (let r = 0; r < 10; r++) {
      writer.addRow(new Float32Array(DIM), (r % 2) as 0 | 1, false);
      await writer.endRecord();
    }
    // no finish(): like a killed collect
    await expect(trainFromStore(dir)).rejects.toThrow(/incomplete/);
  });
});

describe('embedding store', () => {
  it('resumes after the last complete shard and drops unlisted leftovers', async () => {
    const dir = await tempDir();
    const w1 = await EmbeddingStoreWriter.open(dir, identity, 3);
    for (let r = 0; r < 7; r++) {
      w1.addRow(new Float32Array(DIM).fill(r), 1, r % 2 === 0);
      await w1.endRecord();
    }
    // 7 records, shards flushed at 3 and 6 rows; record 6 is only buffered (lost on a crash).
    const w2 = await EmbeddingStoreWriter.open(dir, identity, 3);
    expect(w2.recordsDone).toBe(6);
    for (let r = 6; r < 9; r++) {
      w2.addRow(new Float32Array(DIM).fill(r), 0, r % 2 === 0);
      await w2.endRecord();
    }
    const m = await w2.finish();
    expect(m.rows).toBe(9);
    expect(m.complete).toBe(true);
    const seen: number[] = [];
    const flags: number[] = [];
    for await (const batch of iterateStore(dir, m, 2)) {
      for (let r = 0; r < batch.count; r++) {
        seen.push(batch.records[r], batch.features[r * DIM]);
        flags.push(batch.argmax[r]);
      }
    }
    expect(seen).toEqual([0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8]);
    expect(flags).toEqual([1, 0, 1, 0, 1, 0, 1, 0, 1]);
    expect((await readdir(dir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    expect(JSON.parse(await readFile(join(dir, 'store.json'), 'utf8')).records_done).toBe(9);
  });

  it('refuses to resume a store made from another target', async () => {
    const dir = await tempDir();
    await (await EmbeddingStoreWriter.open(dir, identity)).finish();
    await expect(EmbeddingStoreWriter.open(dir, { ...identity, targetSha256: 'c'.repeat(64) })).rejects.toThrow(/different target/);
  });
});

describe('metrics', () => {
  it('computes ROC-AUC with ties and picks thresholds by goal', () => {
    const scores = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4];
    const labels = [1, 1, 0, 1, 0, 0];
    expect(rocAuc(scores, labels)).toBeCloseTo(8 / 9);
    expect(rocAuc([0.5, 0.5], [1, 0])).toBe(0.5);
    const curve = prCurve(scores, labels);
    const r = chooseThreshold(curve, { recall: 1 });
    expect(metricsAt(scores, labels, r.threshold)).toMatchObject({ recall: 1, precision: 0.75 });
    const f1 = chooseThreshold(curve, 'f1');
    expect(metricsAt(scores, labels, f1.threshold).f1).toBeCloseTo(6 / 7);
  });

  it('a precision goal needs statistical evidence; without it the head accepts nothing', () => {
    expect(precisionLowerBound(3, 0)).toBeCloseTo(0.526, 2);
    expect(precisionLowerBound(300, 0)).toBeGreaterThan(0.99);
    // Precision 1.0 on two tokens does not show precision >= 0.9.
    const tiny = chooseThreshold(prCurve([0.9, 0.8, 0.7, 0.6], [1, 1, 0, 1]), { precision: 0.9 });
    expect(tiny).toMatchObject({ goalMet: false, threshold: ACCEPT_NOTHING });
    // 400 correct tokens scored above 200 mixed ones: the threshold lands between them.
    const scores = [...Array.from({ length: 400 }, (_, i) => 0.9 + i * 1e-4), ...Array.from({ length: 200 }, (_, i) => 0.1 + i * 1e-3)];
    const labels = [...Array(400).fill(1), ...Array.from({ length: 200 }, (_, i) => i % 2)];
    const choice = chooseThreshold(prCurve(scores, labels), { precision: 0.95 });
    expect(choice.goalMet).toBe(true);
    expect(metricsAt(scores, labels, choice.threshold).precision).toBeGreaterThanOrEqual(0.95);
    expect(metricsAt(scores, labels, choice.threshold).recall).toBeGreaterThanOrEqual(0.8);
  });
});
