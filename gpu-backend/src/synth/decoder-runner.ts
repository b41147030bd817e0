import * as ort from 'onnxruntime-node';

/** One forward's outputs, batch row 0 unless noted. */
export interface ForwardResult {
  /** [B,S,V] flattened. */
  logits: Float32Array;
  /** [B,S,d] flattened. */
  hidden: Float32Array;
  /** present.{i}.key|value, ready to feed back as past_key_values. */
  present: ort.Tensor[];
  seqLen: number;
}

/**
 * A minimal driver for a synthetic decoder with Optimum I/O, for calibration and tests (the engine
 * has its own session with rollback). Batch of rows of equal length; attention_mask defaults to ones.
 */
export class DecoderRunner {
  private constructor(
    readonly session: ort.InferenceSession,
    readonly numLayers: number,
    readonly numKvHeads: number,
    readonly headDim: number,
  ) {}

  /** `model`: a path, or the ONNX bytes themselves (calibration sweeps never touch the disk). */
  static async open(
    model: string | Uint8Array,
    spec: { num_layers: number; num_kv_heads: number; head_dim: number },
    threads = 1,
  ): Promise<DecoderRunner> {
    const options = { intraOpNumThreads: threads, interOpNumThreads: 1 };
    const session = typeof model === 'string' ? await ort.InferenceSession.create(model, options) : await ort.InferenceSession.create(model, options);
    return new DecoderRunner(session, spec.num_layers, spec.num_kv_heads, spec.head_dim);
  }

  /**
   * rows: token ids per batch row; positions default to pastLen..pastLen+S-1;
   * mask: attention_mask rows covering past + new tokens (default all ones).
   */
  async forward(
    rows: number[][],
    opts: { past?: ort.Tensor[]; pastLen?: number; positions?: number[][]; mask?: number[][] } = {},
  ): Promise<ForwardResult> {
    const b = rows.length;
    const s = rows[0].length;
    const p = opts.pastLen ?? 0;
    const i64 = (m: number[][], cols: number): ort.Tensor => new ort.Tensor('int64', BigInt64Array.from(m.flat().map(BigInt)), [b, cols]);
    const positions = opts.positions ?? rows.map(() => Array.from({ length: s }, (_, j) => p + j));
    const mask = opts.mask ?? rows.map(() => new Array<number>(p + s).fill(1));
    const feeds: Record<string, ort.Tensor> = {
      input_ids: i64(rows, s),
      attention_mask: i64(mask, p + s),
      position_ids: i64(positions, s),
    };
    const empty = new ort.Tensor('float32', new Float32Array(0), [b, this.numKvHeads, 0, this.headDim]);
    for (let i = 0; i < this.numLayers; i++) {
      feeds[`past_key_values.${i}.key`] = opts.past?.[2 * i] ?? empty;
      feeds[`past_key_values.${i}.value`] = opts.past?.[2 * i + 1] ?? empty;
    }
    const out = await this.session.run(feeds);
    const present: ort.Tensor[] = [];
    for (let i = 0; i < this.numLayers; i++) present.push(out[`present.${i}.key`], out[`present.${i}.value`]);
    return { logits: out.logits.data as Float32Array, hidden: out.hidden_states.data as Float32Array, present, seqLen: s };
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
