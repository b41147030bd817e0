import type { GraphBuilder } from './onnx-graph.ts';
import { Prng, subSeed } from './prng.ts';

/**
 * The surprise feature: a designed property of the synthetic target that stands in for what a
 * trained LM's hidden state carries — how plausible the token at this position was.
 *
 *   s_j = logp[j−1, input_ids[j]] − max_v logp[j−1, v]   (≤ 0, nats; j ≥ 1)
 *   s_0 = 0                                              (no previous position in this forward)
 *   hidden_states = h + scale · s · u
 *
 * h is the final-norm output, u a fixed seeded unit vector. With logp = LogSoftmax(logits) the
 * log-sum-exp cancels in the difference, so s is computed from the logits directly (same value,
 * fewer ops, no rounding from the normaliser). The `logits` output is untouched, so KV-cached
 * decoding still equals full recomputation. s_j is exactly the ratio rule's quantity
 * (p(d)/max p ≥ A ⇔ s ≥ ln A), so a linear head can learn it; the other components of h act as
 * noise along u (h has RMS 1 per component), which is what keeps the head good but not perfect —
 * the scale sets the signal-to-noise ratio.
 *
 * Position 0 of every forward gets s = 0: in verification it is the last accepted token (never
 * judged), and judge collection always starts its forward at or before the last prompt token.
 * A caller that starts a forward AT a judged token would see s = 0 there.
 */
export function addSurpriseFeature(
  g: GraphBuilder,
  base: { hidden: string; logits: string; inputIds: string },
  scale: number,
  direction: Float32Array,
  outputName: string,
): string {
  // Shift the logits one position down the sequence axis, a zero row in front: row j is position
  // j−1's logits, row 0 all zeros, so s_0 = 0 − 0 falls out. (Slicing to [B,S−1,V] instead would
  // hand ORT empty tensors when S = 1, which its CPU ReduceMax/GatherElements mishandle.)
  const padded = g.op('Pad', [base.logits, g.int64([0, 1, 0, 0, 0, 0])]); // [B,S+1,V]
  const prevLogits = g.op('Slice', [padded, g.int64([0]), g.int64([-1]), g.int64([1])]); // [B,S,V]
  const ids = g.op('Unsqueeze', [base.inputIds, g.int64([2])]); // [B,S,1]
  const picked = g.op('GatherElements', [prevLogits, ids], { axis: 2 });
  const best = g.op('ReduceMax', [prevLogits], { axes: [-1], keepdims: 1 });
  const surprise = g.op('Sub', [picked, best]); // [B,S,1], ≤ 0
  const scaled = g.weight('surprise.direction', direction.map((x) => x * scale), [direction.length]);
  return g.op('Add', [base.hidden, g.op('Mul', [surprise, scaled])], {}, [outputName]);
}

/** The fixed seeded unit vector u (its own named stream, so it shifts no weight tensor). */
export function surpriseDirection(hiddenSize: number, seed: number): Float32Array {
  const u = new Prng(subSeed(seed, 'surprise.direction')).fillUniform(new Float32Array(hiddenSize), 1);
  const norm = Math.hypot(...u);
  return u.map((x) => x / norm);
}
