// `verdict import` on synthetic exports (always) and on the real TinyStories pair (with ../shared).
// References: the synth bundle's own graph (same weights, with its hidden_states output), upstream
// PyTorch golden logits, and an RMSNorm computed here from the residual stream and the norm weight.
import { cp, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import onnxProto from 'onnx-proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadBundle } from '../src/bundle/load.ts';
import { sha256File } from '../src/bundle/hash.ts';
import { createEngine } from '../src/engine/engine.ts';
import { DecoderSession } from '../src/engine/session.ts';
import { importBundle } from '../src/import/import-bundle.ts';
import { prepareBundleHidden } from '../src/import/prepare.ts';
import { synthBundle, type SynthResult } from '../src/synth/synth-bundle.ts';
import { ONE_THREAD, run } from './engine-fixture.ts';
import { readSynthModel, stripHiddenStates, writeHfExport, writeJson, type ModelProto } from './hf-export-fixture.ts';
import { HAVE_PLE, PLE } from './shared-models.ts';

const { onnx } = onnxProto;
const PROMPT = [2, 17, 33, 90, 41, 7, 250, 12];

async function forward(path: string, spec: Parameters<typeof DecoderSession.load>[1], tokens: number[]) {
  const s = await DecoderSession.load(path, spec, 512, ONE_THREAD);
  try {
    const out = await s.forward(s.newCache(), tokens, { hidden: spec.has_hidden_states });
    return { logits: Float32Array.from(out.logits), hidden: out.hidden && Float32Array.from(out.hidden) };
  } finally {
    await s.dispose();
  }
}

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  expect(a.length).toBe(b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
};

describe('verdict import: synthetic exports', () => {
  let root: string;
  let synth: SynthResult;
  let hfTarget: string;
  let hfDraft: string;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'verdict-import-'));
    // judgeSignal 0: the synth's hidden_states output is then exactly the final norm's output.
    synth = await synthBundle({ preset: 'tiny', out: join(root, 'synth'), judgeSignal: 0 });
    hfTarget = await writeHfExport(synth, join(root, 'hf-target'), { externalData: true });
    hfDraft = await writeHfExport(synth, join(root, 'hf-draft'), { role: 'draft' });
  }, 120_000);
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  const leftovers = async () => (await readdir(root)).filter((f) => f.includes('.import-'));

  it('writes a bundle that loads, with hidden_states added and the external data linked and hashed', async () => {
    const { dir, manifest, hiddenFrom } = await importBundle({ target: hfTarget, draft: hfDraft, out: join(root, 'bundle') });
    expect(hiddenFrom).toBe('/model/norm/output_0');
    const b = await loadBundle(dir);
    expect(b.manifest.target).toMatchObject({ num_layers: synth.manifest.target.num_layers, hidden_size: synth.manifest.target.hidden_size, has_hidden_states: true });
    expect(b.manifest.draft.num_layers).toBe(synth.manifest.draft.num_layers);
    expect(manifest.target.external_data).toEqual([{ file: 'target/model.onnx_data', sha256: await sha256File(join(hfTarget, 'onnx', 'model.onnx_data')) }]);
    expect(manifest.bos_token_id).toBe(synth.manifest.bos_token_id);
    expect(manifest.eos_token_ids).toEqual(synth.manifest.eos_token_ids);
    expect(manifest.max_context).toBe(synth.config.maxContext);
    expect(await leftovers()).toEqual([]);
  });

  it("the edited graph's logits equal the original's exactly, and hidden_states equals the final norm output", async () => {
    const dir = join(root, 'bundle');
    const b = await loadBundle(dir);
    const ours = await forward(b.targetPath, b.manifest.target, PROMPT);
    const reference = await forward(join(synth.dir, synth.manifest.target.file), synth.manifest.target, PROMPT);
    expect(maxAbsDiff(ours.logits, reference.logits)).toBe(0);
    expect(maxAbsDiff(ours.hidden!, reference.hidden!)).toBe(0);
  });

  it('decodes: target mode equals the synth bundle, and exact equals target', async () => {
    const imported = await createEngine(await loadBundle(join(root, 'bundle')), ONE_THREAD);
    const original = await createEngine(await loadBundle(synth.dir), ONE_THREAD);
    try {
      const ref = await run(original, PROMPT, { mode: 'target', maxTokens: 40, temperature: 0 });
      const target = await run(imported, PROMPT, { mode: 'target', maxTokens: 40, temperature: 0 });
      const exact = await run(imported, PROMPT, { mode: 'exact', k: 4, maxTokens: 40, temperature: 0 });
      expect(target.tokens).toEqual(ref.tokens);
      expect(exact.tokens).toEqual(ref.tokens);
    } finally {
      await imported.dispose();
      await original.dispose();
    }
  });

  it('finds the head input of a tied head (Transpose of the embedding table) behind Casts, as fp16-style exports write it', async () => {
    const tied = await synthBundle({ preset: 'tiny', out: join(root, 'synth-tied'), judgeSignal: 0, overrides: { tieEmbeddings: true } });
    // logits = Cast(Add(MatMul(Cast(norm), Transpose(embed_tokens)), prior)): the walk must pass the Casts, the
    // bias Add, and take the MatMul's live input rather than the Transpose of the (tied) embedding table.
    const castAround = (m: ModelProto) => {
      const g = m.graph!;
      const transposes = new Set(g.node!.filter((n) => n.opType === 'Transpose' && n.input![0] === 'embed_tokens').map((n) => n.output![0]));
      const head = g.node!.find((n) => n.opType === 'MatMul' && transposes.has(n.input![1]))!;
      expect(head).toBeDefined();
      const to = { name: 'to', type: onnx.AttributeProto.AttributeType.INT, i: onnx.TensorProto.DataType.FLOAT };
      g.node!.splice(g.node!.indexOf(head), 0, { name: 'head_in_cast', opType: 'Cast', input: [head.input![0]], output: ['head_in_cast_out'], attribute: [to] });
      head.input = ['head_in_cast_out', head.input![1]];
      const last = g.node!.find((n) => n.output!.includes('logits'))!;
      last.output = ['logits_raw'];
      g.node!.splice(g.node!.indexOf(last) + 1, 0, { name: 'logits_cast', opType: 'Cast', input: ['logits_raw'], output: ['logits'], attribute: [to] });
    };
    const target = await writeHfExport(tied, join(root, 'hf-tied-target'), { edit: castAround });
    const draft = await writeHfExport(tied, join(root, 'hf-tied-draft'), { role: 'draft' });
    const { dir, hiddenFrom } = await importBundle({ target, draft, out: join(root, 'bundle-tied') });
    expect(hiddenFrom).toBe('head_in_cast_out');
    const b = await loadBundle(dir);
    const ours = await forward(b.targetPath, b.manifest.target, PROMPT);
    const reference = await forward(join(tied.dir, tied.manifest.target.file), tied.manifest.target, PROMPT);
    expect(maxAbsDiff(ours.logits, reference.logits)).toBe(0);
    expect(maxAbsDiff(ours.hidden!, reference.hidden!)).toBe(0);
  });

  it('refuses an existing --out unless forced', async () => {
    await expect(importBundle({ target: hfTarget, draft: hfDraft, out: join(root, 'bundle') })).rejects.toThrow(/already exists.*--force/);
    await importBundle({ target: hfTarget, draft: hfDraft, out: join(root, 'bundle'), force: true });
    await loadBundle(join(root, 'bundle'));
  });

  async function variant(name: string, edit: (dir: string) => Promise<void>): Promise<string> {
    const dir = join(root, name);
    await cp(hfDraft, dir, { recursive: true });
    await edit(dir);
    return dir;
  }

  const refusals: [string, (dir: string) => Promise<void>, RegExp][] = [
    [
      'a draft whose tokenizer differs',
      async (dir) => {
        const t = JSON.parse(await readFile(join(dir, 'tokenizer.json'), 'utf8'));
        const [a, b] = Object.keys(t.model.vocab).slice(300, 302);
        [t.model.vocab[a], t.model.vocab[b]] = [t.model.vocab[b], t.model.vocab[a]];
        await writeJson(join(dir, 'tokenizer.json'), t);
      },
      /tokenizer\.json: the draft's tokenizer differs from the target's .* in "model" \(token .* is id \d+ in the target, \d+ in the draft\)/,
    ],
    ['a config.json that disagrees with the graph', async (dir) => {
      const c = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8'));
      await writeJson(join(dir, 'config.json'), { ...c, num_hidden_layers: c.num_hidden_layers + 1 });
    }, /config\.json: num_hidden_layers is \d+ but .*model\.onnx has \d+ layers of past_key_values/],
    ['a missing config.json', (dir) => rm(join(dir, 'config.json')), /config\.json is missing/],
    ['the merged layout', async (dir) => {
      await rm(join(dir, 'onnx', 'model.onnx'));
      await writeFile(join(dir, 'onnx', 'decoder_model_merged.onnx'), 'x');
    }, /older Optimum layout \(decoder_model_merged\.onnx\).*optimum-cli export onnx/],
    ['float16 logits', async (dir) => {
      const m = await readSynthModel(join(dir, 'onnx', 'model.onnx'));
      m.graph!.output!.find((o) => o.name === 'logits')!.type!.tensorType!.elemType = onnx.TensorProto.DataType.FLOAT16;
      await writeFile(join(dir, 'onnx', 'model.onnx'), onnx.ModelProto.encode(m).finish());
    }, /output 'logits' is float16; the engine reads float32 logits/],
    ['a graph without past_key_values', async (dir) => {
      const m = await readSynthModel(join(dir, 'onnx', 'model.onnx'));
      m.graph!.input = m.graph!.input!.filter((i) => !i.name!.startsWith('past_key_values'));
      await writeFile(join(dir, 'onnx', 'model.onnx'), onnx.ModelProto.encode(m).finish());
    }, /has no input 'past_key_values\.0\.key': a decoder without a KV cache/],
  ];
  for (const [what, edit, message] of refusals) {
    it(`refuses ${what}, naming the file, and leaves nothing behind`, async () => {
      const draft = await variant(`draft-${what.replace(/\W+/g, '-')}`, edit);
      const out = join(root, `out-${what.replace(/\W+/g, '-')}`);
      await expect(importBundle({ target: hfTarget, draft, out })).rejects.toThrow(message);
      expect(existsSync(out)).toBe(false);
      expect(await leftovers()).toEqual([]);
    });
  }

  it('refuses a dtype the export lacks, listing those present', async () => {
    await expect(importBundle({ target: hfTarget, draft: hfDraft, out: join(root, 'fp16'), dtype: 'fp16' })).rejects.toThrow(
      /no fp16 graph \(model_fp16\.onnx\); present: fp32 \(model\.onnx\)/,
    );
  });

  it('picks the asked dtype file', async () => {
    const q8 = await writeHfExport(synth, join(root, 'hf-target-q8'), { fileName: 'model_quantized.onnx' });
    const q8Draft = await writeHfExport(synth, join(root, 'hf-draft-q8'), { role: 'draft', fileName: 'model_quantized.onnx' });
    const { manifest } = await importBundle({ target: q8, draft: q8Draft, out: join(root, 'bundle-q8'), dtype: 'q8' });
    expect(manifest.target.file).toBe('target/model_quantized.onnx');
    await loadBundle(join(root, 'bundle-q8'));
  });

  it('judge prepare adds hidden_states to an existing bundle, once', async () => {
    const dir = join(root, 'prepare');
    await cp(synth.dir, dir, { recursive: true });
    const model = await readSynthModel(join(dir, synth.manifest.target.file));
    stripHiddenStates(model);
    await writeFile(join(dir, synth.manifest.target.file), onnx.ModelProto.encode(model).finish());
    const manifest = JSON.parse(await readFile(join(dir, 'bundle.json'), 'utf8'));
    manifest.target = { ...manifest.target, has_hidden_states: false, sha256: await sha256File(join(dir, synth.manifest.target.file)) };
    delete manifest.judge;
    await writeJson(join(dir, 'bundle.json'), manifest);

    const r = await prepareBundleHidden(dir);
    expect(r).toMatchObject({ changed: true, from: '/model/norm/output_0' });
    const b = await loadBundle(dir);
    expect(b.manifest.target.has_hidden_states).toBe(true);
    const ours = await forward(b.targetPath, b.manifest.target, PROMPT);
    const reference = await forward(join(synth.dir, synth.manifest.target.file), synth.manifest.target, PROMPT);
    expect(maxAbsDiff(ours.hidden!, reference.hidden!)).toBe(0);
    expect((await prepareBundleHidden(dir)).changed).toBe(false);
  });
});

/** golden.txt: n, the prompt ids, then the fp32 logits of the last prompt position (upstream PyTorch). */
async function readGolden(dir: string): Promise<{ ids: number[]; logits: number[] }> {
  const lines = (await readFile(join(dir, 'golden.txt'), 'utf8')).trim().split('\n');
  const ids = lines[1].trim().split(/\s+/).map(Number);
  expect(ids.length).toBe(Number(lines[0]));
  return { ids, logits: lines.slice(2).map(Number) };
}

describe.skipIf(!HAVE_PLE)('verdict import: the real TinyStories pair (c3M target, c1M draft)', () => {
  let root: string;
  let bundleDir: string;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'verdict-import-ple-'));
    bundleDir = (await importBundle({ target: PLE.c3M, draft: PLE.c1M, out: join(root, 'ple') })).dir;
  }, 60_000);
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it("target and draft logits match each model's upstream golden logits within 1e-4", async () => {
    const b = await loadBundle(bundleDir);
    for (const [role, dir] of [['target', PLE.c3M], ['draft', PLE.c1M]] as const) {
      const golden = await readGolden(dir);
      const path = role === 'target' ? b.targetPath : b.draftPath;
      const { logits } = await forward(path, b.manifest[role], golden.ids);
      const V = b.manifest[role].vocab_size;
      expect(golden.logits.length).toBe(V);
      expect(maxAbsDiff(logits.subarray((golden.ids.length - 1) * V), golden.logits)).toBeLessThan(1e-4);
    }
  });

  it('the edited graph gives the original logits exactly, and hidden_states = RMSNorm(residual) · weight computed here', async () => {
    const b = await loadBundle(bundleDir);
    const ours = await forward(b.targetPath, b.manifest.target, PROMPT);
    // The original export, run as it is, with the residual stream before the final norm fetched as an extra output.
    const original = join(PLE.c3M, 'onnx', 'model.onnx');
    const residualName = '/model/layers.5/Add_2_output_0';
    const model = onnx.ModelProto.decode(await readFile(original));
    const normWeight = model.graph!.initializer!.find((t) => t.name === 'model.norm.weight')!;
    const gamma = new Float32Array(new Uint8Array(normWeight.rawData!).buffer);
    model.graph!.output!.push({ name: residualName, type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT } } });
    const session = await ort.InferenceSession.create(onnx.ModelProto.encode(model).finish(), { intraOpNumThreads: 1 });
    const S = PROMPT.length;
    const feeds: Record<string, ort.Tensor> = {
      input_ids: new ort.Tensor('int64', BigInt64Array.from(PROMPT.map(BigInt)), [1, S]),
      attention_mask: new ort.Tensor('int64', new BigInt64Array(S).fill(1n), [1, S]),
      position_ids: new ort.Tensor('int64', BigInt64Array.from(PROMPT.map((_, i) => BigInt(i))), [1, S]),
    };
    for (let i = 0; i < 6; i++) for (const kv of ['key', 'value']) feeds[`past_key_values.${i}.${kv}`] = new ort.Tensor('float32', new Float32Array(0), [1, 4, 0, 32]);
    const out = await session.run(feeds);
    await session.release();
    expect(maxAbsDiff(ours.logits, out.logits.data as Float32Array)).toBe(0);

    const eps = JSON.parse(await readFile(join(PLE.c3M, 'config.json'), 'utf8')).rms_norm_eps as number;
    const x = out[residualName].data as Float32Array;
    const d = gamma.length;
    const expected = new Float64Array(S * d);
    for (let s = 0; s < S; s++) {
      let ms = 0;
      for (let j = 0; j < d; j++) ms += x[s * d + j] ** 2;
      const inv = 1 / Math.sqrt(ms / d + eps);
      for (let j = 0; j < d; j++) expected[s * d + j] = x[s * d + j] * inv * gamma[j];
    }
    expect(maxAbsDiff(ours.hidden!, expected)).toBeLessThan(1e-5);
  });

  it('exact decoding equals target decoding and writes a story', async () => {
    const b = await loadBundle(bundleDir);
    const engine = await createEngine(b, ONE_THREAD);
    try {
      const start = b.encodePrompt('');
      expect(start).toEqual([0]); // BOS doubles as the story separator these models were trained on
      const target = await run(engine, start, { mode: 'target', maxTokens: 64, temperature: 0 });
      const exact = await run(engine, start, { mode: 'exact', k: 4, maxTokens: 64, temperature: 0 });
      expect(exact.tokens).toEqual(target.tokens);
      expect(target.text).toMatch(/Once upon a time/);
      expect(exact.done.stats.meanAcceptedPerStep).toBeGreaterThan(1.5);
    } finally {
      await engine.dispose();
    }
  });
});

