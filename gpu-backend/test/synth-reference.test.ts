import { describe, expect, it } from 'vitest';
import { PRESETS } from '../src/synth/presets.ts';
import { headDim, type LlamaConfig } from '../src/synth/llama-config.ts';
import { makeWeights, type LlamaWeights } from '../src/synth/llama-weights.ts';
import { buildDecoderOnnx } from '../src/synth/llama-onnx.ts';
import { DecoderRunner } from '../src/synth/decoder-runner.ts';

/**
 * A plain-JS Llama forward written from the Hugging Face modeling code (RMSNorm, rotate_half RoPE,
 * repeat_kv GQA, causal softmax attention, SwiGLU), independent of the graph builder. Returns
 * hidden_states [S,d] and logits [S,V] for one unpadded sequence.
 */
function referenceForward(c: LlamaConfig, w: LlamaWeights, ids: number[]): { hidden: Float32Array; logits: Float32Array } {
  const d = c.hiddenSize;
  const hd = headDim(c);
  const group = c.numHeads / c.numKvHeads;
  const matVec = (x: Float32Array, m: Float32Array, out: number): Float32Array => {
    const y = new Float32Array(out);
    for (let i = 0; i < x.length; i++) for (let j = 0; j < out; j++) y[j] += x[i] * m[i * out + j];
    return y;
  };
  const rmsNorm = (x: Float32Array, g: Float32Array): Float32Array => {
    const ms = x.reduce((a, v) => a + v * v, 0) / x.length;
    const r = 1 / Math.sqrt(ms + c.rmsEps);
    return x.map((v, i) => v * r * g[i]);
  };
  const rope = (x: Float32Array, heads: number, pos: number): Float32Array => {
    const out = new Float32Array(x.length);
    for (let h = 0; h < heads; h++) {
      for (let i = 0; i < hd / 2; i++) {
        const angle = pos / c.ropeTheta ** ((2 * i) / hd);
        const [a, b] = [x[h * hd + i], x[h * hd + i + hd / 2]];
        out[h * hd + i] = a * Math.cos(angle) - b * Math.sin(angle);
        out[h * hd + i + hd / 2] = b * Math.cos(angle) + a * Math.sin(angle);
      }
    }
    return out;
  };
  let hs = ids.map((id) => w.embed.slice(id * d, (id + 1) * d));
  for (const lw of w.layers) {
    const xs = hs.map((h) => rmsNorm(h, lw.inputNorm));
    const qs = xs.map((x, s) => rope(matVec(x, lw.wq, c.numHeads * hd), c.numHeads, s));
    const ks = xs.map((x, s) => rope(matVec(x, lw.wk, c.numKvHeads * hd), c.numKvHeads, s));
    const vs = xs.map((x) => matVec(x, lw.wv, c.numKvHeads * hd));
    hs = hs.map((h, s) => {
      const ctx = new Float32Array(c.numHeads * hd);
      for (let head = 0; head < c.numHeads; head++) {
        const kvHead = Math.floor(head / group);
        const scores = Array.from({ length: s + 1 }, (_, t) => {
          let dot = 0;
          for (let i = 0; i < hd; i++) dot += qs[s][head * hd + i] * ks[t][kvHead * hd + i];
          return dot / Math.sqrt(hd);
        });
        const max = Math.max(...scores);
        const e = scores.map((x) => Math.exp(x - max));
        const sum = e.reduce((a, b) => a + b, 0);
        for (let t = 0; t <= s; t++) for (let i = 0; i < hd; i++) ctx[head * hd + i] += (e[t] / sum) * vs[t][kvHead * hd + i];
      }
      const attn = matVec(ctx, lw.wo, d);
      const h1 = h.map((v, i) => v + attn[i]);
      const y = rmsNorm(h1, lw.postNorm);
      const gate = matVec(y, lw.wGate, c.intermediateSize);
      const up = matVec(y, lw.wUp, c.intermediateSize);
      const act = gate.map((g, i) => (g / (1 + Math.exp(-g))) * up[i]);
      const down = matVec(act, lw.wDown, d);
      return h1.map((v, i) => v + down[i]);
    });
  }
  const hidden = hs.map((h) => rmsNorm(h, w.finalNorm));
  const logits = hidden.map((x) => {
    const y = w.lmHead ? matVec(x, w.lmHead, c.vocabSize) : new Float32Array(c.vocabSize);
    if (!w.lmHead) for (let v = 0; v < c.vocabSize; v++) for (let i = 0; i < d; i++) y[v] += x[i] * w.embed[v * d + i];
    // The word-piece prior (logit-prior.ts) is added after the LM head.
    if (w.logitBias) for (let v = 0; v < c.vocabSize; v++) y[v] += w.logitBias[v];
    return y;
  });
  const flat = (rows: Float32Array[]) => Float32Array.from(rows.flatMap((r) => Array.from(r)));
  return { hidden: flat(hidden), logits: flat(logits) };
}

const maxAbsDiff = (a: Float32Array, b: Float32Array): number => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

describe('synthetic ONNX decoder matches a reference Llama forward', () => {
  for (const tie of [false, true]) {
    it(`${tie ? 'tied' : 'untied'} LM head: hidden_states and logits agree`, async () => {
      const c: LlamaConfig = { ...PRESETS.tiny, tieEmbeddings: tie, residualScale: 0.5, wordPrior: 1 };
      const w = makeWeights(c, 11);
      const runner = await DecoderRunner.open(Buffer.concat(buildDecoderOnnx(c, w, c.numLayers, 'target')), {
        num_layers: c.numLayers,
        num_kv_heads: c.numKvHeads,
        head_dim: headDim(c),
      });
      const ids = [0, 17, 300, 42, 42, 511, 8];
      const out = await runner.forward([ids]);
      await runner.release();
      const ref = referenceForward(c, w, ids);
      expect(maxAbsDiff(out.hidden, ref.hidden)).toBeLessThan(1e-3);
      expect(maxAbsDiff(out.logits, ref.logits)).toBeLessThan(1e-3);
      // The logits are not trivially small (the comparison means something).
      expect(Math.max(...Array.from(ref.logits, Math.abs))).toBeGreaterThan(1);
    });
  }
});

describe('surprise feature (judge signal)', () => {
  const c: LlamaConfig = { ...PRESETS.tiny, residualScale: 0.5 };
  const w = makeWeights(c, 5);
  const spec = { num_layers: c.numLayers, num_kv_heads: c.numKvHeads, head_dim: headDim(c) };
  const open = (judgeSignal: number) => DecoderRunner.open(Buffer.concat(buildDecoderOnnx(c, w, c.numLayers, 'target', { judgeSignal })), spec);
  const [d, V] = [c.hiddenSize, c.vocabSize];

  it('moves hidden_states by scale·s_j·u (s from the previous position’s logits), 0 at j = 0, logits unchanged', async () => {
    const scale = 1.5;
    const [off, on] = [await open(0), await open(scale)];
    const ids = [0, 300, 301, 17, 400, 258, 259, 511];
    const [a, b] = [await off.forward([ids]), await on.forward([ids])];
    expect(maxAbsDiff(b.logits, a.logits)).toBe(0);
    // Signal 0 is the plain final-norm output (the reference test above pins that) and the same graph as before.
    expect(maxAbsDiff(a.hidden, referenceForward(c, w, ids).hidden)).toBeLessThan(1e-3);
    const surprises: number[] = [];
    for (let j = 0; j < ids.length; j++) {
      let s = 0;
      if (j > 0) {
        const row = Array.from(a.logits.subarray((j - 1) * V, j * V));
        const lse = Math.log(row.reduce((acc, x) => acc + Math.exp(x - Math.max(...row)), 0)) + Math.max(...row);
        const logp = row.map((x) => x - lse);
        s = logp[ids[j]] - Math.max(...logp);
      }
      surprises.push(s);
      for (let k = 0; k < d; k++) {
        const delta = b.hidden[j * d + k] - a.hidden[j * d + k];
        expect(Math.abs(delta - scale * s * w.surpriseDirection[k])).toBeLessThan(1e-3);
      }
    }
    // The sequence mixes likely and unlikely tokens, so the check covers s well below 0.
    expect(Math.min(...surprises)).toBeLessThan(-1);
    expect(Math.hypot(...w.surpriseDirection)).toBeCloseTo(1, 5);
    // A cached single-token step (position 0 of its forward) gets s = 0; a cached chunk gets s_j from its own logits.
    const prefix = ids.slice(0, 5);
    const [pa, pb] = [await off.forward([prefix]), await on.forward([prefix])];
    const stepA = await off.forward([ids.slice(5)], { past: pa.present, pastLen: 5 });
    const stepB = await on.forward([ids.slice(5)], { past: pb.present, pastLen: 5 });
    expect(maxAbsDiff(stepB.logits, stepA.logits)).toBe(0);
    expect(maxAbsDiff(stepB.hidden.subarray(0, d), stepA.hidden.subarray(0, d))).toBe(0);
    for (let k = 0; k < d; k++) expect(Math.abs(stepB.hidden[d + k] - stepA.hidden[d + k] - scale * surprises[6] * w.surpriseDirection[k])).toBeLessThan(1e-3);
    const one = await on.forward([[9]]);
    expect(one.hidden.length).toBe(d);
    await off.release();
    await on.release();
  });
});
