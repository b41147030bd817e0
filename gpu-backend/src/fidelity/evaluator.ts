import { existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import { loadBundle, MANIFEST_FILE } from '../bundle/load.ts';
import type { DecoderSpec } from '../bundle/manifest.ts';
import type { LoadedBundle } from '../bundle/types.ts';
import { DecoderSession, type SessionOptions } from '../engine/session.ts';
import { readHfExport } from '../import/hf-export.ts';
import { checkSameTokenizer } from '../import/tokenizers-match.ts';
import type { Unit } from './stats.ts';

/** A model that scores text: the NLL of a continuation after its prompt, in one forward. */
export interface Evaluator {
  name: string;
  session: DecoderSession;
  dispose(): Promise<void>;
}

/**
 * An evaluator from an export directory (config.json + onnx/model.onnx + tokenizer.json) or a bundle
 * (its target). Its tokenizer must equal the bundle's, or the ids would mean different text.
 */
export async function loadEvaluator(dir: string, bundle: LoadedBundle, opts: SessionOptions = {}): Promise<Evaluator> {
  const bundleTokenizer = join(bundle.dir, bundle.manifest.tokenizer.file);
  let path: string;
  let spec: DecoderSpec;
  let tokenizer: string;
  let maxContext: number;
  if (existsSync(join(dir, MANIFEST_FILE))) {
    const b = await loadBundle(dir, { verifyHashes: false });
    path = b.targetPath;
    spec = b.manifest.target;
    tokenizer = join(b.dir, b.manifest.tokenizer.file);
    maxContext = b.manifest.max_context;
  } else {
    const x = await readHfExport(dir, 'fp32');
    path = x.modelPath;
    tokenizer = x.tokenizerPath;
    maxContext = x.maxContext;
    spec = {
      file: basename(x.modelPath),
      sha256: '',
      num_layers: x.numLayers,
      num_kv_heads: x.numKvHeads,
      head_dim: x.headDim,
      hidden_size: x.hiddenSize,
      vocab_size: x.vocabSize,
      has_hidden_states: false,
      has_judge_logits: false,
    } as DecoderSpec;
  }
  await checkSameTokenizer(bundleTokenizer, tokenizer).catch((err: Error) => {
    throw new Error(`evaluator ${dir}: its tokenizer is not the bundle's (${err.message})`);
  });
  if (spec.vocab_size !== bundle.manifest.target.vocab_size) throw new Error(`evaluator ${dir}: vocabulary ${spec.vocab_size}, the bundle's is ${bundle.manifest.target.vocab_size}`);
  const session = await DecoderSession.load(path, spec, Math.max(maxContext, bundle.manifest.max_context), opts);
  return { name: basename(dir.replace(/\/+$/, '')), session, dispose: () => session.dispose() };
}

/** NLL (nats, summed) of `continuation` after `prompt` under `session`: one forward over both. */
export async function continuationNll(session: DecoderSession, prompt: readonly number[], continuation: readonly number[]): Promise<Unit> {
  if (continuation.length === 0) return { sum: 0, count: 0 };
  const ids = [...prompt, ...continuation];
  const cache = session.newCache();
  try {
    const { logits } = await session.forward(cache, ids);
    const V = session.spec.vocab_size;
    let sum = 0;
    for (let t = prompt.length; t < ids.length; t++) {
      const row = logits.subarray((t - 1) * V, t * V);
      let m = -Infinity;
      for (let j = 0; j < V; j++) if (row[j] > m) m = row[j];
      let z = 0;
      for (let j = 0; j < V; j++) z += Math.exp(row[j] - m);
      sum += m + Math.log(z) - row[ids[t]];
    }
    return { sum, count: continuation.length };
  } finally {
    cache.release();
  }
}
