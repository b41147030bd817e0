import { GraphBuilder } from './onnx-graph.ts';
import { headDim, type LlamaConfig } from './llama-config.ts';
import type { LlamaWeights } from './llama-weights.ts';
import { addSurpriseFeature } from './surprise-feature.ts';

/** Dimension names as Optimum writes them (ORT ignores the names; readers of the graph don't). */
const BATCH = 'batch_size';
const S = 'sequence_length';
const P = 'past_sequence_length';
const T = 'total_sequence_length';

/**
 * Llama decoder as ONNX with exactly the I/O of a Hugging Face Optimum `text-generation-with-past`
 * export, plus the extra `hidden_states` output (final-norm output feeding the LM head):
 *   inputs  input_ids [B,S] i64, attention_mask [B,P+S] i64, position_ids [B,S] i64,
 *           past_key_values.{i}.key|value [B,kv,P,hd] f32
 *   outputs logits [B,S,V], present.{i}.key|value [B,kv,P+S,hd], hidden_states [B,S,d]
 * `layers` < config.numLayers builds the draft from the target's first layers.
 * Logits get the word-piece prior when the weights carry one (draft and target alike);
 * `opts.batch` fixes the batch dimension (a batch-1 export); `opts.judgeSignal` > 0 adds the surprise feature to hidden_states (the target's; see surprise-feature.ts).
 * Returns the serialized model as chunks (see GraphBuilder.encodeChunks); Buffer.concat them for bytes.
 */
export function buildDecoderOnnx(
  c: LlamaConfig,
  w: LlamaWeights,
  layers: number,
  name: string,
  opts: { judgeSignal?: number; batch?: number } = {},
): Uint8Array[] {
  const g = new GraphBuilder();
  const B = opts.batch ?? BATCH;
  const d = c.hiddenSize;
  const hd = headDim(c);
  const heads = c.numHeads;
  const kv = c.numKvHeads;
  const group = heads / kv;

  const inputIds = g.input('input_ids', 'int64', [B, S]);
  const attentionMask = g.input('attention_mask', 'int64', [B, T]);
  const positionIds = g.input('position_ids', 'int64', [B, S]);
  const past: { key: string; value: string }[] = [];
  for (let i = 0; i < layers; i++) {
    past.push({
      key: g.input(`past_key_values.${i}.key`, 'float32', [B, kv, P, hd]),
      value: g.input(`past_key_values.${i}.value`, 'float32', [B, kv, P, hd]),
    });
  }

  const maskBias = attentionBias(g, inputIds, attentionMask, group);
  const { cos, sin } = ropeTables(g, positionIds, hd, c.ropeTheta);
  const rotateHalf = g.weight('rope.rotate_half', rotateHalfMatrix(hd), [hd, hd]);
  const rope = (x: string): string =>
    g.op('Add', [g.op('Mul', [x, cos]), g.op('Mul', [g.op('MatMul', [x, rotateHalf]), sin])]);
  const eps = g.float([c.rmsEps], []);
  const rmsNorm = (x: string, weight: string): string => g.op('Mul', [rmsNormCore(g, x, eps), weight]);
  const toHeads = (x: string, n: number): string =>
    g.op('Transpose', [g.op('Reshape', [x, g.int64([0, 0, n, hd])])], { perm: [0, 2, 1, 3] });
  const scale = g.float([1 / Math.sqrt(hd)], []);

  let h = g.op('Gather', [g.weight('embed_tokens', w.embed, [c.vocabSize, d]), inputIds], { axis: 0 });
  for (let i = 0; i < layers; i++) {
    const lw = w.layers[i];
    const x = rmsNorm(h, g.weight(`l${i}.input_norm`, lw.inputNorm, [d]));
    const q = rope(toHeads(g.op('MatMul', [x, g.weight(`l${i}.wq`, lw.wq, [d, heads * hd])]), heads));
    const k = rope(toHeads(g.op('MatMul', [x, g.weight(`l${i}.wk`, lw.wk, [d, kv * hd])]), kv));
    const v = toHeads(g.op('MatMul', [x, g.weight(`l${i}.wv`, lw.wv, [d, kv * hd])]), kv);
    const presentK = g.op('Concat', [past[i].key, k], { axis: 2 }, [`present.${i}.key`]);
    const presentV = g.op('Concat', [past[i].value, v], { axis: 2 }, [`present.${i}.value`]);
    // GQA without repeating K/V: fold each KV head's query group into the row axis,
    // [B,heads,S,hd] -> [B,kv,group*S,hd] (query head j reads KV head floor(j/group), as HF's repeat_kv).
    const qGrouped = g.op('Reshape', [q, g.int64([0, kv, -1, hd])]);
    const scores = g.op('Mul', [g.op('MatMul', [qGrouped, g.op('Transpose', [presentK], { perm: [0, 1, 3, 2] })]), scale]);
    const probs = g.op('Softmax', [g.op('Add', [scores, maskBias])], { axis: -1 });
    const ctx = g.op('Reshape', [g.op('MatMul', [probs, presentV]), g.int64([0, heads, -1, hd])]);
    const merged = g.op('Reshape', [g.op('Transpose', [ctx], { perm: [0, 2, 1, 3] }), g.int64([0, 0, heads * hd])]);
    h = g.op('Add', [h, g.op('MatMul', [merged, g.weight(`l${i}.wo`, lw.wo, [heads * hd, d])])]);

    const y = rmsNorm(h, g.weight(`l${i}.post_norm`, lw.postNorm, [d]));
    const gate = g.op('MatMul', [y, g.weight(`l${i}.wgate`, lw.wGate, [d, c.intermediateSize])]);
    const up = g.op('MatMul', [y, g.weight(`l${i}.wup`, lw.wUp, [d, c.intermediateSize])]);
    const act = g.op('Mul', [g.op('Mul', [gate, g.op('Sigmoid', [gate])]), up]);
    h = g.op('Add', [h, g.op('MatMul', [act, g.weight(`l${i}.wdown`, lw.wDown, [c.intermediateSize, d])])]);
  }

  const judgeSignal = opts.judgeSignal ?? 0;
  const finalNorm = rmsNormCore(g, h, eps);
  const hidden = g.op('Mul', [finalNorm, g.weight('final_norm', w.finalNorm, [d])], {}, judgeSignal > 0 ? undefined : ['hidden_states']);
  const lmHead = w.lmHead
    ? g.weight('lm_head', w.lmHead, [d, c.vocabSize])
    : g.op('Transpose', ['embed_tokens'], { perm: [1, 0] });
  const logits = w.logitBias
    ? g.op('Add', [g.op('MatMul', [hidden, lmHead]), g.weight('logit_prior', w.logitBias, [c.vocabSize])], {}, ['logits'])
    : g.op('MatMul', [hidden, lmHead], {}, ['logits']);
  if (judgeSignal > 0) addSurpriseFeature(g, { hidden, logits, inputIds }, judgeSignal, w.surpriseDirection, 'hidden_states');

  g.output('logits', 'float32', [B, S, c.vocabSize]);
  for (let i = 0; i < layers; i++) {
    g.output(`present.${i}.key`, 'float32', [B, kv, T, hd]);
    g.output(`present.${i}.value`, 'float32', [B, kv, T, hd]);
  }
  g.output('hidden_states', 'float32', [B, S, d]);
  return g.encodeChunks(name, `verdict synthetic Llama: ${layers} layers, d=${d}, heads=${heads}/${kv}, vocab=${c.vocabSize}`);
}

/** x / sqrt(mean(x², last axis) + eps), standard ops only (opset 17 ReduceMean takes axes as an attribute). */
function rmsNormCore(g: GraphBuilder, x: string, eps: string): string {
  const meanSq = g.op('ReduceMean', [g.op('Mul', [x, x])], { axes: [-1], keepdims: 1 });
  return g.op('Div', [x, g.op('Sqrt', [g.op('Add', [meanSq, eps])])]);
}

/**
 * Additive attention bias [B,1,group*S,T]: 0 where query i (absolute position P+i) may attend key j
 * (j <= P+i and attention_mask[b,j] == 1), -1e9 elsewhere. Finite so fully padded rows stay NaN-free.
 */
function attentionBias(g: GraphBuilder, inputIds: string, attentionMask: string, group: number): string {
  const total = g.op('Gather', [g.op('Shape', [attentionMask]), g.int64([1], [])], { axis: 0 });
  const seq = g.op('Gather', [g.op('Shape', [inputIds]), g.int64([1], [])], { axis: 0 });
  const pastLen = g.op('Sub', [total, seq]);
  const one = g.int64([1], []);
  const keyPos = g.op('Unsqueeze', [g.op('Range', [g.int64([0], []), total, one]), g.int64([0])]);
  const queryPos = g.op('Unsqueeze', [g.op('Range', [pastLen, total, one]), g.int64([1])]);
  const causal = g.op('LessOrEqual', [keyPos, queryPos]);
  const notPadding = g.op('Unsqueeze', [g.op('Cast', [attentionMask], { to: 9 /* BOOL */ }), g.int64([1, 2])]);
  const allowed = g.op('And', [causal, notPadding]);
  const bias = g.op('Where', [allowed, g.float([0], []), g.float([-1e9], [])]);
  return group === 1 ? bias : g.op('Tile', [bias, g.int64([1, 1, group, 1])]);
}

/** cos/sin [B,1,S,hd] from position_ids, computed in the graph (HF Llama's rotate_half convention). */
function ropeTables(g: GraphBuilder, positionIds: string, hd: number, theta: number): { cos: string; sin: string } {
  const invFreq = new Float32Array(hd);
  for (let i = 0; i < hd / 2; i++) invFreq[i] = invFreq[i + hd / 2] = 1 / theta ** ((2 * i) / hd);
  const pos = g.op('Unsqueeze', [g.op('Cast', [positionIds], { to: 1 /* FLOAT */ }), g.int64([2])]);
  const freqs = g.op('Unsqueeze', [g.op('Mul', [pos, g.weight('rope.inv_freq', invFreq, [hd])]), g.int64([1])]);
  return { cos: g.op('Cos', [freqs]), sin: g.op('Sin', [freqs]) };
}

/** R with x·R = rotate_half(x) = concat(-x[h:], x[:h]). */
function rotateHalfMatrix(hd: number): Float32Array {
  const h = hd / 2;
  const r = new Float32Array(hd * hd);
  for (let j = 0; j < h; j++) {
    r[(j + h) * hd + j] = -1;
    r[j * hd + (j + h)] = 1;
  }
  return r;
}
