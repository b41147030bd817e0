import { cp, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { loadBundle } from '../src/bundle/load.ts';
import { createEngine, greedyRequest } from '../src/engine/engine.ts';
import { collectEmbeddings } from '../src/judge/collect.ts';
import { trainBundleJudge, writeBundleHead } from '../src/judge/bundle-judge.ts';
import { foldBundleJudge } from '../src/judge/fold.ts';
import { TargetHiddenStates } from '../src/judge/hidden.ts';
import { mineBundle } from '../src/judge/mine.ts';
import { parseRule } from '../src/judge/rules.ts';
import { iterateStore, readStoreManifest } from '../src/judge/store.ts';
import { tinyBundleFixture } from './judge-fixtures.ts';
import { trainFromStore } from '../src/judge/train.ts';

const prompts = [' bram tosh', 'menka tralo shai', ' plouch ston dea', 'hello', ' fou jai rai', 'tra lo men ka'];

const fx = tinyBundleFixture('judge-pipeline-', 5);

describe('mine → collect → train → load → judge decoding', () => {
  it('round-trips a trained head into a bundle that decodes in judge mode', async () => {
    const bundle = await loadBundle(fx.dir);
    const data = join(fx.root, 'data.jsonl');
    const mined = await mineBundle(bundle, prompts, data, { rule: await parseRule('ratio:0.3'), k: 4, maxTokens: 24 });
    expect(mined.labels).toBe(mined.agreed + mined.harmless + mined.negatives);
    expect(mined.negatives).toBeGreaterThan(0);
    const lines = (await readFile(data, 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(mined.records);
    for (const r of lines) expect(r.labels.length).toBe(r.response_ids.length);

    const emb = join(fx.root, 'emb');
    const { manifest } = await collectEmbeddings(bundle, data, emb, { shardRows: 64 });
    expect(manifest.rows).toBe(mined.labels);
    expect(manifest.positives).toBe(mined.agreed + mined.harmless);
    expect(manifest.target_sha256).toBe(bundle.manifest.target.sha256);
    // collect's own argmax check agrees with mining's: the agreed tokens are exactly the argmax rows.
    let argmaxRows = 0;
    for await (const batch of iterateStore(emb, manifest)) for (let r = 0; r < batch.count; r++) argmaxRows += batch.argmax[r];
    expect(argmaxRows).toBe(mined.agreed);

    const { head } = await trainFromStore(emb, { goal: { precision: 0.5 } });
    const copy = join(fx.root, 'with-head');
    await cp(fx.dir, copy, { recursive: true });
    await writeBundleHead(copy, head);
    const loaded = await loadBundle(copy);
    expect(loaded.judge?.weights).toEqual(head.weights);

    const engine = await createEngine(loaded);
    try {
      expect(engine.modes).toContain('judge');
      const ids = loaded.encodePrompt(prompts[0]);
      let judgeDone, targetDone;
      for await (const ev of engine.decode(greedyRequest(ids, { mode: 'judge', k: 4, maxTokens: 16, threshold: 0 }))) if (ev.type === 'done') judgeDone = ev;
      for await (const ev of engine.decode(greedyRequest(ids, { mode: 'target', maxTokens: 16 }))) if (ev.type === 'done') targetDone = ev;
      // threshold 0: the judge accepts every draft token, so each step keeps all K drafts.
      expect(judgeDone!.stats.completionTokens).toBe(16);
      expect(judgeDone!.stats.accepted).toBe(judgeDone!.stats.drafted);
      expect(targetDone!.stats.completionTokens).toBe(16);
    } finally {
      await engine.dispose();
    }
  });

  it('collects the hidden state at the position whose input is the token, as the engine scores drafts', async () => {
    const bundle = await loadBundle(fx.dir);
    const target = await TargetHiddenStates.open(bundle);
    try {
      const promptIds = bundle.encodePrompt(prompts[1]);
      const response = [40, 41, 42];
      const first = await target.responseStates(promptIds, response);
      const a = Float32Array.from(first.hidden);
      // A record that extends the same context reuses the cache: same numbers for the shared part.
      const second = await target.responseStates([...promptIds, 40], [41, 42]);
      const b = Float32Array.from(second.hidden);
      expect(second.targetArgmax.slice()).toEqual(first.targetArgmax.slice(1));
      const H = bundle.manifest.target.hidden_size;
      expect(Array.from(b.subarray(0, H))).toEqual(Array.from(a.subarray(H, 2 * H)).map((v, i) => expect.closeTo(v, 4) as unknown as number));
      // And equal to a fresh full forward's hidden_states at those positions.
      const session = await ort.InferenceSession.create(bundle.targetPath);
      const ids = [...promptIds, ...response];
      const feeds: Record<string, ort.Tensor> = {
        input_ids: new ort.Tensor('int64', BigInt64Array.from(ids.map(BigInt)), [1, ids.length]),
        attention_mask: new ort.Tensor('int64', new BigInt64Array(ids.length).fill(1n), [1, ids.length]),
      };
      const spec = bundle.manifest.target;
      for (let l = 0; l < spec.num_layers; l++) {
        for (const kv of ['key', 'value']) feeds[`past_key_values.${l}.${kv}`] = new ort.Tensor('float32', new Float32Array(0), [1, spec.num_kv_heads, 0, spec.head_dim]);
      }
      if (session.inputNames.includes('position_ids')) feeds.position_ids = new ort.Tensor('int64', BigInt64Array.from(ids.map((_, i) => BigInt(i))), [1, ids.length]);
      const full = (await session.run(feeds)).hidden_states.data as Float32Array;
      const P = promptIds.length;
      for (let j = 0; j < H; j++) expect(a[j]).toBeCloseTo(full[P * H + j], 4);
      await session.release();
    } finally {
      await target.dispose();
    }
  });

  it('refuses a head whose hidden size or target fingerprint does not match', async () => {
    const store = join(fx.root, 'emb');
    const { head } = await trainFromStore(store, { goal: 'f1' });
    const copy = join(fx.root, 'mismatch');
    await cp(fx.dir, copy, { recursive: true });
    await expect(writeBundleHead(copy, { ...head, target_sha256: 'f'.repeat(64) })).rejects.toThrow(/trained on target ffffffffffff/);
    // Written by hand (bypassing our writer), the loader refuses it.
    const m = JSON.parse(await readFile(join(copy, 'bundle.json'), 'utf8'));
    const { sha256Bytes } = await import('../src/bundle/hash.ts');
    const install = async (h: object) => {
      const text = JSON.stringify(h);
      await writeFile(join(copy, 'judge.json'), text);
      await writeFile(join(copy, 'bundle.json'), JSON.stringify({ ...m, judge: { file: 'judge.json', sha256: sha256Bytes(text) } }));
    };
    await install({ ...head, target_sha256: 'f'.repeat(64) });
    await expect(loadBundle(copy)).rejects.toThrow(/judge was trained on a different target/);
    await install({ ...head, hidden_size: 8, weights: head.weights.slice(0, 8) });
    await expect(loadBundle(copy)).rejects.toThrow(/judge hidden_size 8 does not match the target's hidden_size 64/);
  });

  it('bad data fails before anything is written, naming the line', async () => {
    const bundle = await loadBundle(fx.dir);
    const bad = join(fx.root, 'bad.jsonl');
    await writeFile(bad, `${JSON.stringify({ prompt: 'a', response: ' bram' })}\n${JSON.stringify({ prompt: 'a', response: ' bram', labels: Array(40).fill(1) })}\n`);
    const out = join(fx.root, 'emb-bad');
    await expect(collectEmbeddings(bundle, bad, out)).rejects.toThrow(/bad\.jsonl:2: labels: index \d+ is past the end/);
    await expect(readdir(out)).rejects.toThrow(/ENOENT/);
  });

  it('an interrupted collect resumes where its last shard ended', async () => {
    const bundle = await loadBundle(fx.dir);
    const data = join(fx.root, 'data.jsonl');
    const full = await readStoreManifest(join(fx.root, 'emb'));
    const out = join(fx.root, 'emb-resume');
    // Interrupt after the first shard by failing inside the progress callback.
    await expect(
      collectEmbeddings(bundle, data, out, {
        shardRows: 64,
        onProgress: (p) => {
          if (p.rows > 100) throw new Error('simulated crash');
        },
      }),
    ).rejects.toThrow('simulated crash');
    const partial = await readStoreManifest(out);
    expect(partial.complete).toBe(false);
    await expect(trainFromStore(out)).rejects.toThrow(/incomplete/);
    const { manifest, resumedFrom } = await collectEmbeddings(bundle, data, out, { shardRows: 64 });
    expect(resumedFrom).toBe(partial.records_done);
    expect(resumedFrom).toBeGreaterThan(0);
    expect(manifest.rows).toBe(full.rows);
    expect(manifest.positives).toBe(full.positives);
  });
});

describe('fold and the bundle trainer', () => {
  it('trainBundleJudge installs a head; fold adds judge_logits equal to the head on hidden_states', async () => {
    const dir = join(fx.root, 'fold');
    await cp(fx.dir, dir, { recursive: true });
    const { head } = await trainBundleJudge(dir, { prompts: 4, maxTokens: 12 });
    const before = await loadBundle(dir);
    expect(before.judge?.threshold).toBe(head.threshold);
    expect((head.training as { rule: string }).rule).toBe('ratio:0.5');

    await foldBundleJudge(dir);
    const after = await loadBundle(dir);
    expect(after.manifest.target.has_judge_logits).toBe(true);
    expect(after.judge?.target_sha256).toBe(after.manifest.target.sha256);

    const session = await ort.InferenceSession.create(after.targetPath);
    expect(session.outputNames).toContain('judge_logits');
    const spec = after.manifest.target;
    const ids = after.encodePrompt(prompts[2]);
    const feeds: Record<string, ort.Tensor> = {
      input_ids: new ort.Tensor('int64', BigInt64Array.from(ids.map(BigInt)), [1, ids.length]),
      attention_mask: new ort.Tensor('int64', new BigInt64Array(ids.length).fill(1n), [1, ids.length]),
    };
    for (let l = 0; l < spec.num_layers; l++) {
      for (const kv of ['key', 'value']) feeds[`past_key_values.${l}.${kv}`] = new ort.Tensor('float32', new Float32Array(0), [1, spec.num_kv_heads, 0, spec.head_dim]);
    }
    if (session.inputNames.includes('position_ids')) feeds.position_ids = new ort.Tensor('int64', BigInt64Array.from(ids.map((_, i) => BigInt(i))), [1, ids.length]);
    const out = await session.run(feeds);
    const logits = out.judge_logits;
    expect(logits.dims).toEqual([1, ids.length]);
    const hidden = out.hidden_states.data as Float32Array;
    const H = spec.hidden_size;
    for (let s = 0; s < ids.length; s++) {
      let z = head.bias;
      for (let j = 0; j < H; j++) z += head.weights[j] * hidden[s * H + j];
      expect((logits.data as Float32Array)[s]).toBeCloseTo(z, 3);
    }
    await session.release();

    // Folding again replaces the head rather than adding a second output.
    await foldBundleJudge(dir);
    const again = await ort.InferenceSession.create((await loadBundle(dir)).targetPath);
    expect(again.outputNames.filter((n) => n === 'judge_logits')).toHaveLength(1);
    await again.release();

    // The engine serves judge mode from the folded output.
    const engine = await createEngine(await loadBundle(dir));
    try {
      let done;
      for await (const ev of engine.decode(greedyRequest(ids, { mode: 'judge', k: 3, maxTokens: 10 }))) if (ev.type === 'done') done = ev;
      expect(done!.stats.completionTokens).toBe(10);
    } finally {
      await engine.dispose();
    }
  });
});
