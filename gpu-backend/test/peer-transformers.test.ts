// Peer check: greedy generation by Verdict's engine (target mode, temperature 0) against
// transformers.js (`AutoModelForCausalLM.generate`, do_sample false) running the SAME ONNX file,
// laid out as a Hugging Face model directory. transformers.js builds its own inputs (attention mask,
// position_ids, empty past_key_values from config.json's dims), runs its own KV-cache loop and its
// own argmax, so equal tokens mean Verdict's session/KV-cache/position plumbing matches the
// reference implementation's on this graph.
import { copyFile, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AutoModelForCausalLM, env, Tensor, type PreTrainedModel } from '@huggingface/transformers';
import { loadBundle, MANIFEST_FILE } from '../src/bundle/load.ts';
import { BUNDLE_FORMAT, type BundleManifest } from '../src/bundle/manifest.ts';
import { sha256File } from '../src/bundle/hash.ts';
import { createEngine, type Engine } from '../src/engine/engine.ts';
import { llamaConfigJson, writeJson } from './hf-export-fixture.ts';
import { synthBundle, TARGET_FILE, TOKENIZER_FILE } from '../src/synth/synth-bundle.ts';
import { BOS_TOKEN, EOS_TOKEN } from '../src/synth/tokenizer-json.ts';
import { ONE_THREAD, run } from './engine-fixture.ts';
import { HAVE_PLE, PLE } from './shared-models.ts';

env.allowRemoteModels = false;

/** One ORT intra-op thread for transformers.js too (2-core CI machine, test files in parallel). */
const PEER_OPTIONS = { local_files_only: true, dtype: 'fp32', device: 'cpu', session_options: { intraOpNumThreads: 1, interOpNumThreads: 1 } } as const;

async function loadPeer(dir: string): Promise<PreTrainedModel> {
  return AutoModelForCausalLM.from_pretrained(dir, PEER_OPTIONS);
}

/** transformers.js greedy continuation of `prompt` (new tokens only, cut before the first EOS like Verdict's output). */
async function peerGreedy(model: PreTrainedModel, prompt: number[], maxNewTokens: number, eos: number[]): Promise<number[]> {
  const input_ids = new Tensor('int64', BigInt64Array.from(prompt.map(BigInt)), [1, prompt.length]);
  const out = (await model.generate({ input_ids, max_new_tokens: maxNewTokens, do_sample: false })) as Tensor;
  const all = Array.from(out.data as BigInt64Array, Number);
  const fresh = all.slice(prompt.length);
  const stop = fresh.findIndex((t) => eos.includes(t));
  return stop < 0 ? fresh : fresh.slice(0, stop);
}

async function verdictGreedy(engine: Engine, prompt: number[], maxTokens: number): Promise<number[]> {
  return (await run(engine, prompt, { mode: 'target', maxTokens, temperature: 0 })).tokens;
}

describe('greedy peer: synthetic tiny bundle (Llama) = transformers.js', () => {
  let root: string;
  let engine: Engine;
  let peer: PreTrainedModel;
  let bosId: number;
  const EOS = [1];

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'verdict-peer-tf-'));
    const { dir, config, manifest } = await synthBundle({ preset: 'tiny', out: join(root, 'bundle') });
    bosId = manifest.bos_token_id!;
    expect(manifest.eos_token_ids).toEqual(EOS);
    engine = await createEngine(await loadBundle(dir), ONE_THREAD);

    // The same target.onnx in the transformers.js layout.
    const hf = join(root, 'hf');
    await mkdir(join(hf, 'onnx'), { recursive: true });
    await symlink(join(dir, TARGET_FILE), join(hf, 'onnx', 'model.onnx'));
    await copyFile(join(dir, TOKENIZER_FILE), join(hf, 'tokenizer.json'));
    await writeJson(join(hf, 'config.json'), llamaConfigJson(config, manifest));
    await writeJson(join(hf, 'generation_config.json'), { bos_token_id: bosId, eos_token_id: EOS[0], do_sample: false });
    await writeJson(join(hf, 'tokenizer_config.json'), {
      tokenizer_class: 'PreTrainedTokenizerFast',
      bos_token: BOS_TOKEN,
      eos_token: EOS_TOKEN,
      add_bos_token: false,
      add_eos_token: false,
      model_max_length: config.maxContext,
    });
    peer = await loadPeer(hf);
  }, 120_000);

  afterAll(async () => {
    await engine?.dispose();
    await peer?.dispose();
    await rm(root, { recursive: true, force: true });
  });

  it('the graph has the inputs transformers.js feeds a llama decoder (incl. position_ids)', () => {
    const names = (peer.sessions as Record<string, { inputNames: string[] }>).model!.inputNames;
    expect(names.slice(0, 3)).toEqual(['input_ids', 'attention_mask', 'position_ids']);
    expect(names).toContain('past_key_values.3.value');
  });

  it.each([
    ['BOS only', () => [bosId]],
    ['BOS + 5 tokens', () => [bosId, 300, 301, 7, 450, 260]],
    ['BOS + 17 tokens', () => [bosId, ...Array.from({ length: 17 }, (_, i) => 2 + ((i * 37) % 509))]],
  ])('%s: 64 greedy tokens are identical', async (_name, prompt) => {
    const ids = prompt();
    const ours = await verdictGreedy(engine, ids, 64);
    const theirs = await peerGreedy(peer, ids, 64, EOS);
    expect(ours).toHaveLength(64);
    expect(ours).toEqual(theirs);
  });
});

describe.skipIf(!HAVE_PLE)('greedy peer: real TinyStories target ple-c3M-s0 = transformers.js', () => {
  let root: string;
  let engine: Engine;
  let peer: PreTrainedModel;
  const EOS = [0];

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'verdict-peer-ple-'));
    const src = PLE.c3M;
    const onnx = join(src, 'onnx', 'model.onnx');

    // transformers.js does not know model_type ple-llama; the graph's I/O is a llama decoder's.
    const hf = join(root, 'hf');
    await mkdir(join(hf, 'onnx'), { recursive: true });
    await symlink(onnx, join(hf, 'onnx', 'model.onnx'));
    for (const f of ['tokenizer.json', 'tokenizer_config.json', 'generation_config.json']) await symlink(join(src, f), join(hf, f));
    await writeJson(join(hf, 'config.json'), {
      architectures: ['LlamaForCausalLM'],
      model_type: 'llama',
      hidden_size: 128,
      num_hidden_layers: 6,
      num_attention_heads: 4,
      num_key_value_heads: 4,
      head_dim: 32,
      intermediate_size: 1066,
      vocab_size: 4096,
      max_position_embeddings: 512,
      rope_theta: 10000,
      rms_norm_eps: 1e-6,
      tie_word_embeddings: true,
      bos_token_id: 0,
      eos_token_id: 0,
    });

    // A minimal Verdict bundle written by hand: target = draft = c3M.
    const bundle = join(root, 'bundle');
    await mkdir(bundle);
    await symlink(onnx, join(bundle, 'target.onnx'));
    await symlink(onnx, join(bundle, 'draft.onnx'));
    await copyFile(join(src, 'tokenizer.json'), join(bundle, 'tokenizer.json'));
    const decoder = { sha256: await sha256File(onnx), num_layers: 6, num_kv_heads: 4, head_dim: 32, hidden_size: 128, vocab_size: 4096, has_hidden_states: false, has_judge_logits: false };
    const manifest = {
      format: BUNDLE_FORMAT,
      name: 'ple-c3M-s0',
      target: { file: 'target.onnx', ...decoder },
      draft: { file: 'draft.onnx', ...decoder },
      tokenizer: { file: 'tokenizer.json', sha256: await sha256File(join(bundle, 'tokenizer.json')) },
      bos_token_id: 0,
      eos_token_ids: EOS,
      max_context: 512,
    } satisfies BundleManifest;
    await writeJson(join(bundle, MANIFEST_FILE), manifest);
    engine = await createEngine(await loadBundle(bundle), ONE_THREAD);
    peer = await loadPeer(hf);
  }, 120_000);

  afterAll(async () => {
    await engine?.dispose();
    await peer?.dispose();
    await rm(root, { recursive: true, force: true });
  });

  it('48 greedy tokens from [0] are identical (and are the TinyStories opening)', async () => {
    const ours = await verdictGreedy(engine, [0], 48);
    const theirs = await peerGreedy(peer, [0], 48, EOS);
    expect(ours).toHaveLength(48);
    expect(ours).toEqual(theirs);
    expect(engine.bundle.tokenizer.decode(ours)).toMatch(/^\nOnce upon a time, there was a little girl named Lily\./);
  });
});

