import * as ort from 'onnxruntime-node';
import type { KvCache, RowCache } from '../kv-cache.ts';

/**
 * One request's positions in a {@link BatchKvCache}: the slots (indices along the cache's sequence
 * axis) that hold them, in order. Rolling back is dropping slots from the end: the data stays where
 * it is, masked out of every later forward, until the batch compacts.
 */
export class BatchRow implements RowCache {
  /** Slot of each held position, increasing. */
  slots: number[] = [];
  /** Row in the batch tensors; -1 while not in the batch. */
  index = -1;

  constructor(private readonly batch: BatchKvCache) {}

  get length(): number {
    return this.slots.length;
  }

  truncate(length: number): void {
    if (length > this.slots.length || length < 0) throw new Error(`cannot truncate a ${this.slots.length}-position cache to ${length}`);
    this.slots.length = length;
  }

  release(): void {
    this.batch.remove(this);
  }
}

/**
 * The KV cache of every request in a batch, for one decoder: per layer a key and a value tensor
 * [B, kv_heads, L, head_dim] (Optimum layout), fed back whole as `past_key_values.*`.
 *
 * Ragged rows share one slot axis: every forward appends S slots to all rows (a row with fewer new
 * tokens pads, and its padding is masked), and a rejection only forgets slots. So a step moves no
 * memory; rows join, leave and the dead slots go in one copy ({@link rebuild}), when a row joins or
 * leaves and when the dead fraction passes `compactWaste`.
 */
export class BatchKvCache {
  private rows: BatchRow[] = [];
  private keys: Float32Array[] = [];
  private values: Float32Array[] = [];
  /** Slots per row. */
  private L = 0;

  constructor(
    readonly numLayers: number,
    readonly numKvHeads: number,
    readonly headDim: number,
    /** Compact when more than this fraction of the slot axis is dead (see {@link waste}). */
    readonly compactWaste: number,
  ) {}

  get size(): number {
    return this.rows.length;
  }

  get slotCount(): number {
    return this.L;
  }

  /** The fraction of the slot axis a compacted cache would not need: 1 − (longest row) / L. */
  get waste(): number {
    if (this.L === 0) return 0;
    return 1 - Math.max(0, ...this.rows.map((r) => r.length)) / this.L;
  }

  /** Bytes of the batch tensors, and of the slots a compacted cache would drop. */
  get bytes(): { total: number; dead: number } {
    const perSlot = 2 * this.numLayers * this.rows.length * this.numKvHeads * this.headDim * 4;
    return { total: perSlot * this.L, dead: Math.round(perSlot * this.L * this.waste) };
  }

  /** A row handle, not yet in the batch: {@link add} puts a prefilled request's positions in it. */
  newRow(): BatchRow {
    return new BatchRow(this);
  }

  /** Copy `solo`'s positions into `row` and take the row into the batch (the solo cache can be released after). */
  add(row: BatchRow, solo: KvCache): void {
    if (row.index >= 0) throw new Error('the row is already in the batch');
    this.rebuild([...this.rows, row], solo);
  }

  /** Take a row out of the batch, and its slots with it. */
  remove(row: BatchRow): void {
    if (row.index < 0) return;
    this.rebuild(this.rows.filter((r) => r !== row));
    row.index = -1;
    row.slots = [];
  }

  /** Compact when the dead slots pass the bound. Returns whether it did. */
  maybeCompact(): boolean {
    if (this.L === 0 || this.waste <= this.compactWaste) return false;
    this.rebuild(this.rows);
    return true;
  }

  /**
   * The inputs of a forward in which each row appends `feed(row)` (possibly nothing). Pads to the
   * longest feed S; padding and dead slots get attention_mask 0, and every real token the position
   * after its row's last, so RoPE and the causal mask (over slots) see each row as if alone.
   */
  inputs(feed: (row: BatchRow) => readonly number[], withPositionIds: boolean): { feeds: Record<string, ort.Tensor>; perRow: (readonly number[])[]; S: number } {
    const B = this.rows.length;
    const perRow = this.rows.map(feed);
    const S = Math.max(1, ...perRow.map((t) => t.length));
    const T = this.L + S;
    const ids = new BigInt64Array(B * S);
    const mask = new BigInt64Array(B * T);
    const pos = new BigInt64Array(B * S);
    for (let b = 0; b < B; b++) {
      const row = this.rows[b];
      const tokens = perRow[b];
      for (const s of row.slots) mask[b * T + s] = 1n;
      const P = row.length;
      for (let i = 0; i < S; i++) {
        const real = i < tokens.length;
        ids[b * S + i] = BigInt(real ? tokens[i] : 0);
        if (real) mask[b * T + this.L + i] = 1n;
        pos[b * S + i] = BigInt(P + Math.min(i, Math.max(0, tokens.length - 1)));
      }
    }
    const feeds: Record<string, ort.Tensor> = {
      input_ids: new ort.Tensor('int64', ids, [B, S]),
      attention_mask: new ort.Tensor('int64', mask, [B, T]),
    };
    if (withPositionIds) feeds.position_ids = new ort.Tensor('int64', pos, [B, S]);
    const dims = [B, this.numKvHeads, this.L, this.headDim];
    for (let i = 0; i < this.numLayers; i++) {
      feeds[`past_key_values.${i}.key`] = new ort.Tensor('float32', this.keys[i] ?? new Float32Array(0), dims);
      feeds[`past_key_values.${i}.value`] = new ort.Tensor('float32', this.values[i] ?? new Float32Array(0), dims);
    }
    return { feeds, perRow, S };
  }

  /** Take the forward's `present.*` as the new cache; each row now also holds the slots of its real new tokens. */
  adopt(outputs: Record<string, ort.OnnxValue>, perRow: (readonly number[])[], S: number): void {
    const newL = this.L + S;
    for (let i = 0; i < this.numLayers; i++) {
      const k = outputs[`present.${i}.key`] as ort.Tensor;
      const v = outputs[`present.${i}.value`] as ort.Tensor;
      if (!k || !v) throw new Error(`decoder output present.${i}.key/value is missing`);
      if (k.dims[0] !== this.rows.length || k.dims[2] !== newL) throw new Error(`present.${i}.key is [${k.dims.join(', ')}], expected [${this.rows.length}, ·, ${newL}, ·]`);
      this.keys[i] = k.data as Float32Array;
      this.values[i] = v.data as Float32Array;
    }
    for (let b = 0; b < this.rows.length; b++) {
      const row = this.rows[b];
      for (let j = 0; j < perRow[b].length; j++) row.slots.push(this.L + j);
    }
    this.L = newL;
  }

  /**
   * New tensors for `rows` (in this order), each row's positions moved to slots 0..len-1; `solo`
   * fills the row that is not in the batch yet. One copy per contiguous run of slots.
   */
  private rebuild(rows: BatchRow[], solo?: KvCache): void {
    const H = this.numKvHeads;
    const D = this.headDim;
    const newL = Math.max(0, ...rows.map((r) => (r.index < 0 ? (solo?.length ?? 0) : r.length)));
    for (let layer = 0; layer < this.numLayers; layer++) {
      for (const kind of ['key', 'value'] as const) {
        const old = kind === 'key' ? this.keys[layer] : this.values[layer];
        const next = new Float32Array(rows.length * H * newL * D);
        rows.forEach((row, b) => {
          if (row.index < 0) {
            const src = solo!.layer(layer)[kind].data as Float32Array; // [1, H, len, D]: head blocks are contiguous
            const len = solo!.length;
            for (let h = 0; h < H; h++) next.set(src.subarray(h * len * D, (h + 1) * len * D), (b * H + h) * newL * D);
            return;
          }
          for (let h = 0; h < H; h++) {
            const from = (row.index * H + h) * this.L * D;
            const to = (b * H + h) * newL * D;
            copyRuns(row.slots, (s, n, at) => next.set(old.subarray(from + s * D, from + (s + n) * D), to + at * D));
          }
        });
        if (kind === 'key') this.keys[layer] = next;
        else this.values[layer] = next;
      }
    }
    rows.forEach((row, b) => {
      row.slots = Array.from({ length: row.index < 0 ? solo!.length : row.length }, (_, i) => i);
      row.index = b;
    });
    this.rows = rows;
    this.L = newL;
  }
}

/** Calls `copy(firstSlot, count, destination)` once per run of consecutive slots. */
function copyRuns(slots: readonly number[], copy: (slot: number, count: number, at: number) => void): void {
  let i = 0;
  while (i < slots.length) {
    let j = i + 1;
    while (j < slots.length && slots[j] === slots[j - 1] + 1) j++;
    copy(slots[i], j - i, i);
    i = j;
  }
}
