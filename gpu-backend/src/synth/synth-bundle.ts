import { existsSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { mkdir, open, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { BUNDLE_FORMAT, type BundleManifest } from '../bundle/manifest.ts';
import { sha256Bytes } from '../bundle/hash.ts';
import { MANIFEST_FILE } from '../bundle/load.ts';
import { headDim, paramCount, validateConfig, type LlamaConfig } from './llama-config.ts';
import { makeWeights } from './llama-weights.ts';
import { buildDecoderOnnx } from './llama-onnx.ts';
import { PRESETS, type PresetName } from './presets.ts';
import { BOS_TOKEN, buildTokenizerJson, EOS_TOKEN } from './tokenizer-json.ts';

export interface SynthProgress {
  stage: 'weights' | 'target' | 'draft' | 'tokenizer' | 'extra' | 'done';
  /** 0..1 over the whole run. */
  fraction: number;
}

/** A step run on the finished models before bundle.json is written (e.g. judge training adds judge.json). */
export type SynthStep = (ctx: { dir: string; manifest: BundleManifest; config: LlamaConfig }) => Promise<void>;

export interface SynthOptions {
  preset: PresetName;
  out: string;
  seed?: number;
  /** Overrides the preset's calibrated residual scale. */
  residualScale?: number;
  /** Overrides the preset's surprise-feature scale (0 = off; see surprise-feature.ts). */
  judgeSignal?: number;
  /**
   * Build the draft from independent random weights with this seed instead of the target's first
   * layers: a deliberately bad draft (near-zero agreement) for testing that verification holds.
   */
  independentDraftSeed?: number;
  /** Replace an existing bundle at `out`. */
  force?: boolean;
  /** Fix the graphs' batch dimension to this size, as some exports do (tests of the batch-1 fallback); default symbolic. */
  fixedBatch?: number;
  /** Fine-grained config overrides (tests, calibration). */
  overrides?: Partial<LlamaConfig>;
  onProgress?: (p: SynthProgress) => void;
  extraSteps?: SynthStep[];
}

export interface SynthResult {
  dir: string;
  manifest: BundleManifest;
  config: LlamaConfig;
}

export const TARGET_FILE = 'target.onnx';
export const DRAFT_FILE = 'draft.onnx';
export const TOKENIZER_FILE = 'tokenizer.json';

/**
 * Writes a synthetic bundle: target.onnx, draft.onnx (the target's first layers), tokenizer.json
 * and bundle.json with every sha256. Everything is written into a sibling temp directory that is
 * renamed onto `out` at the end, so a crash never leaves a half-written bundle that looks complete.
 */
export async function synthBundle(opts: SynthOptions): Promise<SynthResult> {
  const config: LlamaConfig = {
    ...PRESETS[opts.preset],
    ...opts.overrides,
    ...(opts.residualScale === undefined ? {} : { residualScale: opts.residualScale }),
    ...(opts.judgeSignal === undefined ? {} : { judgeSignal: opts.judgeSignal }),
  };
  validateConfig(config);
  const seed = opts.seed ?? 0;
  if (!Number.isInteger(seed) || seed < 0) throw new Error(`synth: seed must be a non-negative integer, got ${seed}`);
  const out = resolve(opts.out);
  if (existsSync(out) && !opts.force) throw new Error(`synth: ${out} already exists (use --force to replace it)`);
  const progress = opts.onProgress ?? (() => {});

  await mkdir(dirname(out), { recursive: true });
  const tmp = join(dirname(out), `.${basename(out)}.partial-${process.pid}-${Date.now()}`);
  await mkdir(tmp);
  try {
    const weights = makeWeights(config, seed, (done, total) => progress({ stage: 'weights', fraction: 0.4 * (done / total) }));
    const target = await writeChunks(join(tmp, TARGET_FILE), buildDecoderOnnx(config, weights, config.numLayers, 'target', { judgeSignal: config.judgeSignal, batch: opts.fixedBatch }));
    progress({ stage: 'target', fraction: 0.75 });
    const draftWeights = opts.independentDraftSeed === undefined ? weights : makeWeights(config, opts.independentDraftSeed);
    const draft = await writeChunks(join(tmp, DRAFT_FILE), buildDecoderOnnx(config, draftWeights, config.draftLayers, 'draft', { batch: opts.fixedBatch }));
    progress({ stage: 'draft', fraction: 0.85 });
    const tokenizer = JSON.stringify(buildTokenizerJson(config.vocabSize, seed));
    await writeFile(join(tmp, TOKENIZER_FILE), tokenizer);
    progress({ stage: 'tokenizer', fraction: 0.9 });

    const decoder = (file: string, sha256: string, layers: number) => ({
      file,
      sha256,
      num_layers: layers,
      num_kv_heads: config.numKvHeads,
      head_dim: headDim(config),
      hidden_size: config.hiddenSize,
      vocab_size: config.vocabSize,
      has_hidden_states: true,
      has_judge_logits: false,
    });
    const manifest: BundleManifest = {
      format: BUNDLE_FORMAT,
      name: `synth-${opts.preset}${opts.independentDraftSeed === undefined ? '' : '-bad-draft'}`,
      target: decoder(TARGET_FILE, target, config.numLayers),
      draft: decoder(DRAFT_FILE, draft, config.draftLayers),
      tokenizer: { file: TOKENIZER_FILE, sha256: sha256Bytes(tokenizer) },
      // Ids as laid out by buildTokenizerJson.
      bos_token_id: 0,
      eos_token_ids: [1],
      max_context: config.maxContext,
      meta: {
        synth: {
          preset: opts.preset,
          seed,
          residual_scale: config.residualScale,
          judge_signal: config.judgeSignal,
          word_prior: config.wordPrior,
          ...(opts.independentDraftSeed === undefined ? {} : { independent_draft_seed: opts.independentDraftSeed }),
          config,
          target_params: paramCount(config, config.numLayers),
          draft_params: paramCount(config, config.draftLayers),
          special_tokens: { bos: BOS_TOKEN, eos: EOS_TOKEN },
        },
      },
    };
    for (const step of opts.extraSteps ?? []) await step({ dir: tmp, manifest, config });
    progress({ stage: 'extra', fraction: 0.98 });
    await writeFile(join(tmp, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);

    // --force: move the old bundle aside first, so `out` is only ever a complete bundle.
    const previous = existsSync(out) ? `${tmp}.previous` : undefined;
    if (previous) await rename(out, previous);
    await rename(tmp, out);
    if (previous) await rm(previous, { recursive: true, force: true });
    progress({ stage: 'done', fraction: 1 });
    return { dir: out, manifest, config };
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
}

/** Writes the chunks in order and returns the file's sha256 (hashed on the way, no re-read). */
async function writeChunks(path: string, chunks: Uint8Array[]): Promise<string> {
  const hash = createHash('sha256');
  const file = await open(path, 'w');
  try {
    for (const chunk of chunks) {
      hash.update(chunk);
      await file.write(chunk);
    }
  } finally {
    await file.close();
  }
  return hash.digest('hex');
}
