import { existsSync } from 'node:fs';
import { copyFile, link, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { BUNDLE_FORMAT, type BundleManifest, type DecoderSpec } from '../bundle/manifest.ts';
import { sha256File } from '../bundle/hash.ts';
import { MANIFEST_FILE } from '../bundle/load.ts';
import { readDecoderIo } from './decoder-io.ts';
import { readHfExport, type Dtype, type HfExport } from './hf-export.ts';
import { findHeadInput, hasHiddenStates, hiddenStatesFragment, hiddenStatesWidth, writeWithFragment } from './hidden-states.ts';
import { scanModel, type ModelSummary } from './onnx-scan.ts';
import { checkSameTokenizer, postProcessorAddsBos } from './tokenizers-match.ts';

export interface ImportOptions {
  target: string;
  draft: string;
  out: string;
  dtype?: Dtype;
  name?: string;
  /** Prepend BOS to prompts: default "auto" (see {@link decideBos}). */
  addBos?: boolean;
  maxContext?: number;
  force?: boolean;
  onStage?: (stage: string) => void;
}

export interface ImportResult {
  dir: string;
  manifest: BundleManifest;
  /** The tensor that became `hidden_states` (absent when the export already had one). */
  hiddenFrom?: string;
}

/**
 * `verdict import`: two Hugging Face decoder exports (target and a smaller draft sharing its
 * tokenizer) become one bundle. The target gets a `hidden_states` output for the judge; ONNX files
 * and external data are hard-linked where the file system allows, else copied by the kernel, never
 * read into memory. Everything is written to a sibling temp directory renamed onto `out` last.
 */
export async function importBundle(o: ImportOptions): Promise<ImportResult> {
  const dtype = o.dtype ?? 'fp32';
  const out = resolve(o.out);
  if (existsSync(out) && !o.force) throw new Error(`${out} already exists (pass --force to replace it)`);
  const stage = o.onStage ?? (() => {});

  stage('reading the exports');
  const target = await readHfExport(o.target, dtype);
  const draft = await readHfExport(o.draft, dtype);
  const tokenizerJson = await checkSameTokenizer(target.tokenizerPath, draft.tokenizerPath);
  stage('checking the graphs');
  const tScan = await scanModel(target.modelPath);
  const dScan = await scanModel(draft.modelPath);
  const tSpec = decoderSpec(target, tScan, 'target');
  const dSpec = decoderSpec(draft, dScan, 'draft');
  if (tSpec.vocab_size !== dSpec.vocab_size) {
    throw new Error(`${draft.modelPath}: the draft's logits are ${dSpec.vocab_size} wide, the target's ${tSpec.vocab_size}; speculation needs one vocabulary`);
  }

  const tmp = join(dirname(out), `.${basename(out)}.import-${process.pid}`);
  await rm(tmp, { recursive: true, force: true });
  try {
    let hiddenFrom: string | undefined;
    stage('writing target (adding hidden_states)');
    const targetFile = join('target', basename(tScan.path));
    await mkdir(join(tmp, 'target'), { recursive: true });
    if (hasHiddenStates(tScan)) {
      const w = hiddenStatesWidth(tScan);
      if (w !== undefined && w !== target.hiddenSize) throw new Error(`${tScan.path}: output hidden_states is ${w} wide, config.json hidden_size is ${target.hiddenSize}`);
      await linkOrCopy(tScan.path, join(tmp, targetFile));
    } else {
      const head = findHeadInput(tScan);
      if (head.hiddenSize !== undefined && head.hiddenSize !== target.hiddenSize) {
        throw new Error(`${tScan.path}: the LM head ${head.node} reads ${head.hiddenSize}-wide activations, config.json hidden_size is ${target.hiddenSize}`);
      }
      await writeWithFragment(tScan.path, join(tmp, targetFile), hiddenStatesFragment(tScan, head, target.hiddenSize));
      hiddenFrom = head.tensor;
    }
    const targetData = await linkExternal(tScan, join(tmp, 'target'), 'target');
    stage('linking draft');
    const draftFile = join('draft', basename(dScan.path));
    await mkdir(join(tmp, 'draft'), { recursive: true });
    await linkOrCopy(dScan.path, join(tmp, draftFile));
    const draftData = await linkExternal(dScan, join(tmp, 'draft'), 'draft');
    await copyFile(target.tokenizerPath, join(tmp, 'tokenizer.json'));

    stage('hashing');
    const manifest: BundleManifest = {
      format: BUNDLE_FORMAT,
      name: o.name ?? basename(target.dir),
      target: { ...tSpec, file: targetFile, sha256: await sha256File(join(tmp, targetFile)), has_hidden_states: true, external_data: targetData },
      draft: { ...dSpec, file: draftFile, sha256: await sha256File(join(tmp, draftFile)), external_data: draftData },
      tokenizer: { file: 'tokenizer.json', sha256: await sha256File(join(tmp, 'tokenizer.json')) },
      bos_token_id: decideBos(target, tokenizerJson, o.addBos),
      eos_token_ids: target.eosTokenIds,
      ...(target.chatTemplate === undefined ? {} : { chat_template: target.chatTemplate }),
      ...(Object.keys(target.specialTokens).length ? { special_tokens: target.specialTokens } : {}),
      max_context: o.maxContext ?? target.maxContext,
      meta: {
        imported_from: { target: target.dir, draft: draft.dir },
        dtype,
        model_type: { target: target.modelType, draft: draft.modelType },
        ...(hiddenFrom ? { hidden_states_from: hiddenFrom } : {}),
      },
    };
    await writeFile(join(tmp, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
    if (existsSync(out)) await rm(out, { recursive: true, force: true });
    await rename(tmp, out);
    stage('done');
    return { dir: out, manifest, hiddenFrom };
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
}

/** config.json's shapes, cross-checked against what the graph's I/O fixes. */
function decoderSpec(x: HfExport, scan: ModelSummary, role: string): Omit<DecoderSpec, 'file' | 'sha256'> {
  const io = readDecoderIo(scan);
  const check = (what: string, fromConfig: number, fromGraph: number | undefined, field: string) => {
    if (fromGraph !== undefined && fromGraph !== fromConfig) {
      throw new Error(`${role} ${join(x.dir, 'config.json')}: ${field} is ${fromConfig} but ${scan.path} has ${fromGraph} ${what}`);
    }
  };
  check('layers of past_key_values', x.numLayers, io.numLayers, 'num_hidden_layers');
  check('KV heads in past_key_values', x.numKvHeads, io.numKvHeads, 'num_key_value_heads');
  check('as the past_key_values head size', x.headDim, io.headDim, 'head_dim');
  check('logits per position', x.vocabSize, io.vocabSize, 'vocab_size');
  return {
    num_layers: x.numLayers,
    num_kv_heads: x.numKvHeads,
    head_dim: x.headDim,
    hidden_size: x.hiddenSize,
    vocab_size: x.vocabSize,
    has_hidden_states: hasHiddenStates(scan),
    has_judge_logits: scan.outputs.some((o) => o.name === 'judge_logits'),
  };
}

/**
 * Which id, if any, the bundle prepends to every prompt. "auto": BOS when the tokenizer adds it
 * itself (tokenizer_config.json add_bos_token, or a post-processor template that starts with it), and
 * when BOS doubles as the end-of-text separator (GPT-2 style), since such models saw it before every
 * document in training.
 */
export function decideBos(x: HfExport, tokenizerJson: Record<string, unknown>, override?: boolean): number | null {
  if (x.bosTokenId === null) {
    if (override) throw new Error(`${x.dir}: --add-bos was given but no bos_token_id is set in generation_config.json or config.json`);
    return null;
  }
  const auto = x.addBosToken || postProcessorAddsBos(tokenizerJson, x.specialTokens.bos_token) || x.eosTokenIds.includes(x.bosTokenId);
  return (override ?? auto) ? x.bosTokenId : null;
}

/** External data files beside the graph, linked under `dir` with their sha256s for bundle.json. */
async function linkExternal(scan: ModelSummary, dir: string, role: string): Promise<{ file: string; sha256: string }[]> {
  const entries: { file: string; sha256: string }[] = [];
  for (const loc of scan.externalFiles) {
    const src = resolve(dirname(scan.path), loc);
    if (!existsSync(src)) throw new Error(`${scan.path}: its weights point at external data '${loc}', which is missing (${src})`);
    const dst = resolve(dir, loc);
    if (!dst.startsWith(`${resolve(dir)}/`)) throw new Error(`${scan.path}: external data location '${loc}' leaves the model's directory`);
    await mkdir(dirname(dst), { recursive: true });
    await linkOrCopy(src, dst);
    entries.push({ file: join(role, loc), sha256: await sha256File(dst) });
  }
  return entries;
}

/** A hard link when source and bundle share a file system, else a kernel-side copy (no bytes through JS). */
async function linkOrCopy(src: string, dst: string): Promise<void> {
  try {
    await link(src, dst);
  } catch {
    await copyFile(src, dst);
  }
}
