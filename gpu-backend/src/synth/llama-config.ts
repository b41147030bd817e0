/** Shape and initialisation of one synthetic Llama decoder pair (target + derived draft). */
export interface LlamaConfig {
  vocabSize: number;
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  intermediateSize: number;
  ropeTheta: number;
  rmsEps: number;
  /** LM head = embedding matrix transposed (no separate lm_head weights). */
  tieEmbeddings: boolean;
  /** The draft is the target's first `draftLayers` layers + the shared embeddings, final norm and LM head. */
  draftLayers: number;
  /** Target layers at index >= draftLayers get their residual branches (o_proj, down_proj) scaled by this. */
  residualScale: number;
  /** Standard deviation of the logits at init (sets how peaked the next-token distribution is). */
  logitStd: number;
  /**
   * Surprise feature (synth/surprise-feature.ts): the target's hidden_states output moves along a
   * fixed seeded unit vector by `judgeSignal` × s, where s (≤ 0, nats) is how much less likely the
   * position's input token was than the previous position's argmax. 0 = off (plain final-norm output).
   */
  judgeSignal: number;
  /**
   * Word-piece prior (synth/logit-prior.ts): a fixed Zipf-like bias added to the logits of draft
   * and target alike, −wordPrior·ln(rank) per word piece, byte tokens and specials far below. 0 = off.
   */
  wordPrior: number;
  maxContext: number;
}

export function headDim(c: LlamaConfig): number {
  return c.hiddenSize / c.numHeads;
}

/** Checks the shape constraints the graph relies on; messages name the field. */
export function validateConfig(c: LlamaConfig): void {
  const fail = (msg: string): never => {
    throw new Error(`synth config: ${msg}`);
  };
  for (const k of ['vocabSize', 'hiddenSize', 'numLayers', 'numHeads', 'numKvHeads', 'intermediateSize', 'draftLayers'] as const) {
    if (!Number.isInteger(c[k]) || c[k] <= 0) fail(`${k} must be a positive integer, got ${c[k]}`);
  }
  if (c.hiddenSize % c.numHeads !== 0) fail(`hiddenSize ${c.hiddenSize} is not divisible by numHeads ${c.numHeads}`);
  if (headDim(c) % 2 !== 0) fail(`head dim ${headDim(c)} must be even for RoPE`);
  if (c.numHeads % c.numKvHeads !== 0) fail(`numHeads ${c.numHeads} is not a multiple of numKvHeads ${c.numKvHeads}`);
  if (c.draftLayers > c.numLayers) fail(`draftLayers ${c.draftLayers} exceeds numLayers ${c.numLayers}`);
  for (const k of ['residualScale', 'judgeSignal', 'wordPrior'] as const) {
    if (!(c[k] >= 0) || !Number.isFinite(c[k])) fail(`${k} must be a finite number >= 0, got ${c[k]}`);
  }
}

/** Parameter count of a decoder with `layers` layers (embedding counted once; lm_head unless tied). */
export function paramCount(c: LlamaConfig, layers: number): number {
  const d = c.hiddenSize;
  const kvDim = c.numKvHeads * headDim(c);
  const perLayer = 2 * d + d * d * 2 + d * kvDim * 2 + 3 * d * c.intermediateSize;
  return c.vocabSize * d * (c.tieEmbeddings ? 1 : 2) + d + layers * perLayer;
}
