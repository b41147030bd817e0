import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import type { BundleManifest } from '../src/bundle/manifest.ts';
import { headDim, type LlamaConfig } from '../src/synth/llama-config.ts';
import { BOS_TOKEN, EOS_TOKEN } from '../src/synth/tokenizer-json.ts';
import type { SynthResult } from '../src/synth/synth-bundle.ts';

const { onnx } = onnxProto;
export type ModelProto = ReturnType<typeof onnx.ModelProto.decode>;

/** config.json of a synthetic Llama as transformers writes it. */
export function llamaConfigJson(c: LlamaConfig, m: BundleManifest, numLayers = c.numLayers): Record<string, unknown> {
  return {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    hidden_size: c.hiddenSize,
    num_hidden_layers: numLayers,
    num_attention_heads: c.numHeads,
    num_key_value_heads: c.numKvHeads,
    head_dim: headDim(c),
    intermediate_size: c.intermediateSize,
    vocab_size: c.vocabSize,
    max_position_embeddings: c.maxContext,
    rope_theta: c.ropeTheta,
    rms_norm_eps: c.rmsEps,
    hidden_act: 'silu',
    tie_word_embeddings: c.tieEmbeddings,
    bos_token_id: m.bos_token_id,
    eos_token_id: m.eos_token_ids[0],
  };
}

export async function writeJson(path: string, value: unknown): Promise<void> {
  await writeFile(path, `${JSON.stringify(value, null, 2)}\n`);
}

/**
 * A synth model decoded whole. Our synth writes the graph as several `graph { … }` fragments,
 * which protobufjs would not merge, so the fragments are decoded one by one and concatenated.
 */
export async function readSynthModel(path: string): Promise<ModelProto> {
  const buf = new Uint8Array(await readFile(path));
  const graphs: ReturnType<typeof onnx.GraphProto.decode>[] = [];
  const rest: Uint8Array[] = [];
  let pos = 0;
  const varint = (): number => {
    let v = 0;
    for (let shift = 0; ; shift += 7) {
      const b = buf[pos++];
      v += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return v;
    }
  };
  while (pos < buf.length) {
    const start = pos;
    const key = varint();
    const wire = key % 8;
    if (wire === 0) varint();
    else if (wire === 2) {
      const len = varint();
      if (Math.floor(key / 8) === 7) graphs.push(onnx.GraphProto.decode(buf.subarray(pos, pos + len)));
      pos += len;
    } else throw new Error(`unexpected wire type ${wire}`);
    if (Math.floor(key / 8) !== 7) rest.push(buf.subarray(start, pos));
  }
  const model = onnx.ModelProto.decode(Buffer.concat(rest));
  model.graph = onnx.GraphProto.create({
    name: graphs[0]?.name,
    node: graphs.flatMap((g) => g.node ?? []),
    initializer: graphs.flatMap((g) => g.initializer ?? []),
    input: graphs.flatMap((g) => g.input ?? []),
    output: graphs.flatMap((g) => g.output ?? []),
  });
  return model;
}

/**
 * Removes the `hidden_states` output as a real export would not have it: nodes that only fed it
 * are pruned, and a tensor of that name that also feeds the head is renamed.
 */
export function stripHiddenStates(model: ModelProto): void {
  const g = model.graph!;
  g.output = g.output!.filter((o) => o.name !== 'hidden_states');
  for (;;) {
    const used = new Set([...g.node!.flatMap((n) => n.input ?? []), ...g.output!.map((o) => o.name)]);
    const kept = g.node!.filter((n) => (n.output ?? []).some((o) => used.has(o)));
    if (kept.length === g.node!.length) break;
    g.node = kept;
  }
  for (const n of g.node!) {
    n.input = n.input!.map((i) => (i === 'hidden_states' ? '/model/norm/output_0' : i));
    n.output = n.output!.map((o) => (o === 'hidden_states' ? '/model/norm/output_0' : o));
  }
}

/**
 * Moves initializers of 1 KiB or more into one external-data file beside the model, as large exports
 * do (onnx.save's default size_threshold; small shape constants stay inline for shape inference).
 */
export function toExternalData(model: ModelProto, dataFile: string): Uint8Array {
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const t of model.graph!.initializer!) {
    const raw = t.rawData!;
    if (raw.length < 1024) continue;
    chunks.push(raw);
    t.rawData = new Uint8Array(0);
    t.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
    t.externalData = [
      { key: 'location', value: dataFile },
      { key: 'offset', value: String(offset) },
      { key: 'length', value: String(raw.length) },
    ];
    offset += raw.length;
  }
  return Buffer.concat(chunks);
}

export interface HfExportOptions {
  /** Which of the bundle's decoders becomes the export's model (default target). */
  role?: 'target' | 'draft';
  /** Drop hidden_states, as real exports have none (default true). */
  stripHidden?: boolean;
  /** Keep the weights in onnx/model.onnx_data (default false). */
  externalData?: boolean;
  /** ONNX file name under onnx/ (default model.onnx). */
  fileName?: string;
  /** Last-minute edits to the graph. */
  edit?: (m: ModelProto) => void;
}

/** Lays one of a synth bundle's decoders out as a transformers.js export directory. */
export async function writeHfExport(synth: SynthResult, out: string, o: HfExportOptions = {}): Promise<string> {
  const role = o.role ?? 'target';
  const spec = synth.manifest[role];
  const model = await readSynthModel(join(synth.dir, spec.file));
  if (o.stripHidden ?? true) stripHiddenStates(model);
  await mkdir(join(out, 'onnx'), { recursive: true });
  const fileName = o.fileName ?? 'model.onnx';
  if (o.externalData) await writeFile(join(out, 'onnx', `${fileName}_data`), toExternalData(model, `${fileName}_data`));
  o.edit?.(model);
  await writeFile(join(out, 'onnx', fileName), onnx.ModelProto.encode(model).finish());
  await copyFile(join(synth.dir, synth.manifest.tokenizer.file), join(out, 'tokenizer.json'));
  await writeJson(join(out, 'config.json'), llamaConfigJson(synth.config, synth.manifest, spec.num_layers));
  await writeJson(join(out, 'generation_config.json'), { bos_token_id: synth.manifest.bos_token_id, eos_token_id: synth.manifest.eos_token_ids, do_sample: false });
  await writeJson(join(out, 'tokenizer_config.json'), {
    tokenizer_class: 'PreTrainedTokenizerFast',
    bos_token: BOS_TOKEN,
    eos_token: EOS_TOKEN,
    add_bos_token: true,
    add_eos_token: false,
    model_max_length: synth.config.maxContext,
  });
  return out;
}
