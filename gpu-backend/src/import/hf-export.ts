import { existsSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { specialTokensFromConfig, type SpecialTokens } from '../bundle/chat-template.ts';
import { DTYPE_FILES, DTYPES, type Dtype } from './dtypes.ts';

export { DTYPE_FILES, DTYPES, isDtype, type Dtype } from './dtypes.ts';

/** Where exports keep their graphs: transformers.js under onnx/, `optimum-cli export onnx` at the top. */
const ONNX_DIRS = ['onnx', '.'];

/** One Hugging Face decoder export directory, read and checked. */
export interface HfExport {
  dir: string;
  /** The ONNX graph for the chosen dtype. */
  modelPath: string;
  modelType: string;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  hiddenSize: number;
  vocabSize: number;
  maxContext: number;
  bosTokenId: number | null;
  eosTokenIds: number[];
  /** Whether the tokenizer itself prepends BOS (tokenizer_config.json add_bos_token). */
  addBosToken: boolean;
  chatTemplate?: string;
  tokenizerPath: string;
  /** Special tokens by role (bos_token, eos_token, pad_token, …) as text, for chat templates. */
  specialTokens: SpecialTokens;
}

type Json = Record<string, unknown>;

async function readJson(path: string, required: boolean): Promise<Json | undefined> {
  if (!existsSync(path)) {
    if (required) throw new Error(`${path} is missing: a Hugging Face export directory needs it`);
    return undefined;
  }
  try {
    const v = JSON.parse(await readFile(path, 'utf8'));
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not a JSON object');
    return v as Json;
  } catch (err) {
    throw new Error(`${path}: not valid JSON (${(err as Error).message})`);
  }
}

/** The ONNX file for `dtype`, or an error listing the dtypes present (and refusing older layouts). */
export async function findModelFile(dir: string, dtype: Dtype): Promise<string> {
  const present = new Map<string, string>();
  for (const sub of ONNX_DIRS) {
    const d = join(dir, sub);
    if (!existsSync(d)) continue;
    for (const f of await readdir(d)) if (f.endsWith('.onnx') && !present.has(f)) present.set(f, join(d, f));
  }
  for (const name of DTYPE_FILES[dtype]) if (present.has(name)) return present.get(name)!;
  const legacy = ['decoder_model_merged.onnx', 'decoder_with_past_model.onnx', 'decoder_model.onnx'].filter((f) => present.has(f));
  if (legacy.length > 0 && ![...present.keys()].some((f) => f.startsWith('model'))) {
    throw new Error(
      `${dir}: has the older Optimum layout (${legacy.join(', ')}), which Verdict does not run: re-export it as a single decoder with past ` +
        '(a current Optimum writes one model.onnx for `optimum-cli export onnx --model MODEL --task text-generation-with-past OUT`), ' +
        'or use a transformers.js repository that ships onnx/model.onnx',
    );
  }
  const available = DTYPES.filter((t) => DTYPE_FILES[t].some((n) => present.has(n))).map((t) => `${t} (${DTYPE_FILES[t].find((n) => present.has(n))})`);
  throw new Error(
    available.length
      ? `${dir}: no ${dtype} graph (${DTYPE_FILES[dtype].join(' or ')}); present: ${available.join(', ')}`
      : `${dir}: no ONNX decoder found (looked for onnx/model*.onnx and model*.onnx)`,
  );
}

const int = (v: unknown): number | undefined => (typeof v === 'number' && Number.isInteger(v) && v >= 0 ? v : undefined);

/** Reads config.json, generation_config.json, tokenizer_config.json and the chat template of an export. */
export async function readHfExport(dirIn: string, dtype: Dtype): Promise<HfExport> {
  const dir = resolve(dirIn);
  if (!existsSync(dir)) throw new Error(`${dir}: no such directory`);
  const configPath = join(dir, 'config.json');
  const top = (await readJson(configPath, true))!;
  // Multimodal configs (Gemma 3, …) keep the decoder's settings in text_config.
  const cfg = typeof top.text_config === 'object' && top.text_config ? { ...top, ...(top.text_config as Json) } : top;
  const need = (keys: string[]): number => {
    for (const k of keys) if (int(cfg[k]) !== undefined) return int(cfg[k])!;
    throw new Error(`${configPath}: field ${keys.join(' / ')} is missing or not a non-negative integer`);
  };
  const hiddenSize = need(['hidden_size', 'n_embd', 'd_model']);
  const numHeads = need(['num_attention_heads', 'n_head']);
  const numKvHeads = int(cfg.num_key_value_heads) ?? numHeads;
  const headDim = int(cfg.head_dim) ?? hiddenSize / numHeads;
  if (!Number.isInteger(headDim)) throw new Error(`${configPath}: hidden_size ${hiddenSize} is not a multiple of num_attention_heads ${numHeads}, and head_dim is not given`);

  const gen = (await readJson(join(dir, 'generation_config.json'), false)) ?? {};
  const tokCfgPath = join(dir, 'tokenizer_config.json');
  const tokCfg = (await readJson(tokCfgPath, false)) ?? {};
  const tokenizerPath = join(dir, 'tokenizer.json');
  if (!existsSync(tokenizerPath)) throw new Error(`${tokenizerPath} is missing: Verdict needs the fast tokenizer's tokenizer.json`);

  const eosRaw = gen.eos_token_id ?? cfg.eos_token_id;
  const eosTokenIds = (Array.isArray(eosRaw) ? eosRaw : [eosRaw]).map(int).filter((x): x is number => x !== undefined);
  if (eosTokenIds.length === 0) throw new Error(`${dir}: no eos_token_id in generation_config.json or config.json`);
  const bosTokenId = int(gen.bos_token_id) ?? int(cfg.bos_token_id) ?? null;

  let specialTokens: SpecialTokens;
  try {
    specialTokens = specialTokensFromConfig(tokCfg);
  } catch (err) {
    throw new Error(`${tokCfgPath}: ${(err as Error).message.replace(/^tokenizer_config.json: /, '')}`);
  }

  let chatTemplate: string | undefined;
  const jinjaPath = join(dir, 'chat_template.jinja');
  if (existsSync(jinjaPath)) chatTemplate = await readFile(jinjaPath, 'utf8');
  else if (typeof tokCfg.chat_template === 'string') chatTemplate = tokCfg.chat_template;
  else if (Array.isArray(tokCfg.chat_template)) {
    // Named templates: [{name, template}], as transformers saves several; serving uses "default".
    const named = tokCfg.chat_template as { name?: string; template?: string }[];
    chatTemplate = (named.find((t) => t.name === 'default') ?? named[0])?.template;
    if (typeof chatTemplate !== 'string') throw new Error(`${tokCfgPath}: chat_template is a list without a usable "default" template`);
  }

  // Context: the position table, unless the tokenizer states a smaller limit (HF writes ~1e30 for "none").
  const positions = int(cfg.max_position_embeddings) ?? int(cfg.n_positions) ?? int(cfg.max_sequence_length);
  const tokLimit = int(tokCfg.model_max_length);
  const limits = [positions, tokLimit !== undefined && tokLimit < 1e7 ? tokLimit : undefined].filter((x): x is number => x !== undefined);
  if (limits.length === 0) throw new Error(`${configPath}: no max_position_embeddings (or tokenizer_config.json model_max_length) to take the context length from; pass --max-context`);

  return {
    dir,
    modelPath: await findModelFile(dir, dtype),
    modelType: typeof cfg.model_type === 'string' ? cfg.model_type : 'unknown',
    numLayers: need(['num_hidden_layers', 'n_layer', 'num_layers']),
    numHeads,
    numKvHeads,
    headDim,
    hiddenSize,
    vocabSize: need(['vocab_size']),
    maxContext: Math.min(...limits),
    bosTokenId,
    eosTokenIds: [...new Set(eosTokenIds)],
    addBosToken: tokCfg.add_bos_token === true,
    chatTemplate,
    tokenizerPath,
    specialTokens,
  };
}
