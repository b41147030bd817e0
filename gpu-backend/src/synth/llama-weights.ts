import { headDim, type LlamaConfig } from './llama-config.ts';
import { Prng, subSeed } from './prng.ts';
import { makeLogitPrior } from './logit-prior.ts';
import { surpriseDirection } from './surprise-feature.ts';

export interface LayerWeights {
  inputNorm: Float32Array;
  /** [d, heads*hd], [d, kv*hd], [d, kv*hd], [heads*hd, d] — stored [in, out] for MatMul(x, W). */
  wq: Float32Array;
  wk: Float32Array;
  wv: Float32Array;
  wo: Float32Array;
  postNorm: Float32Array;
  /** [d, ffn], [d, ffn], [ffn, d] */
  wGate: Float32Array;
  wUp: Float32Array;
  wDown: Float32Array;
}

export interface LlamaWeights {
  /** [vocab, d] */
  embed: Float32Array;
  layers: LayerWeights[];
  finalNorm: Float32Array;
  /** [d, vocab]; absent when embeddings are tied. */
  lmHead?: Float32Array;
  /** [vocab] word-piece prior added to the logits; absent when config.wordPrior is 0. */
  logitBias?: Float32Array;
  /** [d] unit vector the surprise feature moves hidden_states along (used when config.judgeSignal > 0). */
  surpriseDirection: Float32Array;
}

/**
 * Seeded random weights. Every tensor draws from its own named stream, so the draft's layers
 * are bit-identical to the target's first layers and the residual scale only touches deeper ones.
 */
export function makeWeights(c: LlamaConfig, seed: number, onLayer?: (done: number, total: number) => void): LlamaWeights {
  const d = c.hiddenSize;
  const qDim = c.numHeads * headDim(c);
  const kvDim = c.numKvHeads * headDim(c);
  const f = c.intermediateSize;
  const rand = (name: string, size: number, std: number): Float32Array =>
    new Prng(subSeed(seed, name)).fillUniform(new Float32Array(size), std);
  const ones = (): Float32Array => new Float32Array(d).fill(1);

  const layers: LayerWeights[] = [];
  for (let i = 0; i < c.numLayers; i++) {
    const branch = i < c.draftLayers ? 1 : c.residualScale;
    layers.push({
      inputNorm: ones(),
      wq: rand(`l${i}.wq`, d * qDim, 1 / Math.sqrt(d)),
      wk: rand(`l${i}.wk`, d * kvDim, 1 / Math.sqrt(d)),
      wv: rand(`l${i}.wv`, d * kvDim, 1 / Math.sqrt(d)),
      wo: rand(`l${i}.wo`, qDim * d, branch / Math.sqrt(qDim)),
      postNorm: ones(),
      wGate: rand(`l${i}.wgate`, d * f, 1 / Math.sqrt(d)),
      wUp: rand(`l${i}.wup`, d * f, 1 / Math.sqrt(d)),
      wDown: rand(`l${i}.wdown`, f * d, branch / Math.sqrt(f)),
    });
    onLayer?.(i + 1, c.numLayers);
  }
  const lmStd = c.logitStd / Math.sqrt(d);
  return {
    // Tied: the embedding rows double as LM-head columns, so give them the LM head's scale
    // (the first RMSNorm makes the embedding's own scale irrelevant to the layers).
    embed: rand('embed', c.vocabSize * d, c.tieEmbeddings ? lmStd : 1),
    layers,
    finalNorm: ones(),
    lmHead: c.tieEmbeddings ? undefined : rand('lm_head', d * c.vocabSize, lmStd),
    logitBias: makeLogitPrior(c, seed),
    surpriseDirection: surpriseDirection(d, seed),
  };
}
