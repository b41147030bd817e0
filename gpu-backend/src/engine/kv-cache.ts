import * as ort from 'onnxruntime-node';

/** What a request's state needs of its cache between steps, whether it has its own or a row of a batch's. */
export interface RowCache {
  /** Positions held. */
  readonly length: number;
  /** Forget every position from `length` on. */
  truncate(length: number): void;
  /** Give the memory back; the cache is unusable after. */
  release(): void;
}

/**
 * One request's KV cache for one decoder: per layer a key and a value tensor [1, kv_heads, L, head_dim]
 * (Optimum layout). The tensors are the previous step's `present.*` outputs, fed back as `past_key_values.*`.
 *
 * Rolling back rejected positions happens in place: within each tensor the heads are contiguous
 * blocks of L*head_dim floats, so truncating to L' < L moves heads 1..H-1 down with copyWithin and
 * re-wraps a shorter view of the same buffer. No allocation, and nothing at all when K drafts pass.
 */
export class KvCache implements RowCache {
  private keys: ort.Tensor[];
  private values: ort.Tensor[];
  private len = 0;

  constructor(
    readonly numLayers: number,
    readonly numKvHeads: number,
    readonly headDim: number,
  ) {
    const empty = () => new ort.Tensor('float32', new Float32Array(0), [1, numKvHeads, 0, headDim]);
    this.keys = Array.from({ length: numLayers }, empty);
    this.values = Array.from({ length: numLayers }, empty);
  }

  /** Layer i's key and value tensors [1, kv_heads, length, head_dim] (the batch cache copies a prefilled request from them). */
  layer(i: number): { key: ort.Tensor; value: ort.Tensor } {
    return { key: this.keys[i], value: this.values[i] };
  }

  /** Positions held. */
  get length(): number {
    return this.len;
  }

  /** Feeds `past_key_values.{i}.key|value` into `feeds`. */
  feed(feeds: Record<string, ort.Tensor>): void {
    for (let i = 0; i < this.numLayers; i++) {
      feeds[`past_key_values.${i}.key`] = this.keys[i];
      feeds[`past_key_values.${i}.value`] = this.values[i];
    }
  }

  /** Take the run's `present.*` outputs as the new cache (which then holds `newLength` positions). */
  adopt(outputs: Record<string, ort.OnnxValue>, newLength: number): void {
    for (let i = 0; i < this.numLayers; i++) {
      const k = outputs[`present.${i}.key`] as ort.Tensor;
      const v = outputs[`present.${i}.value`] as ort.Tensor;
      if (!k || !v) throw new Error(`decoder output present.${i}.key/value is missing`);
      if (k.dims[2] !== newLength) throw new Error(`present.${i}.key holds ${k.dims[2]} positions, expected ${newLength}`);
      this.keys[i] = k;
      this.values[i] = v;
    }
    this.len = newLength;
  }

  /** Forget every position from `length` on. */
  truncate(length: number): void {
    if (length > this.len || length < 0) throw new Error(`cannot truncate a ${this.len}-position cache to ${length}`);
    if (length === this.len) return;
    for (let i = 0; i < this.numLayers; i++) {
      this.keys[i] = this.shorten(this.keys[i], length);
      this.values[i] = this.shorten(this.values[i], length);
    }
    this.len = length;
  }

  private shorten(t: ort.Tensor, length: number): ort.Tensor {
    const data = t.data as Float32Array;
    const oldBlock = this.len * this.headDim;
    const newBlock = length * this.headDim;
    for (let h = 1; h < this.numKvHeads; h++) data.copyWithin(h * newBlock, h * oldBlock, h * oldBlock + newBlock);
    return new ort.Tensor('float32', data.subarray(0, this.numKvHeads * newBlock), [1, this.numKvHeads, length, this.headDim]);
  }

  /** Drop the tensors so their memory can go as soon as the request ends. */
  release(): void {
    this.keys = [];
    this.values = [];
    this.len = 0;
  }
}
