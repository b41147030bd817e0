import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { BatchKvCache } from '../src/engine/batch/batch-cache.ts';
import { Acceptance, chooseK, ForwardCost } from '../src/engine/batch/cost-model.ts';
import { KvCache } from '../src/engine/kv-cache.ts';

const H = 2;
const D = 3;

/** A one-layer solo cache whose position p, head h, dim d holds tag·1000 + p·100 + h·10 + d (keys; values negated). */
function soloCache(tag: number, length: number): KvCache {
  const c = new KvCache(1, H, D);
  const k = new Float32Array(H * length * D);
  for (let h = 0; h < H; h++) for (let p = 0; p < length; p++) for (let d = 0; d < D; d++) k[(h * length + p) * D + d] = tag * 1000 + p * 100 + h * 10 + d;
  c.adopt({ 'present.0.key': new ort.Tensor('float32', k, [1, H, length, D]), 'present.0.value': new ort.Tensor('float32', k.map((x) => -x), [1, H, length, D]) }, length);
  return c;
}

/** What the batch holds for `row` at its position p, read back through a forward's feeds. */
function heldAt(batch: BatchKvCache, feeds: Record<string, ort.Tensor>, rowIndex: number, slot: number, h: number): number[] {
  const key = feeds['past_key_values.0.key'];
  const L = key.dims[2];
  const data = key.data as Float32Array;
  const at = ((rowIndex * H + h) * L + slot) * D;
  return [...data.subarray(at, at + D)];
}

/** Fake `present.*` for a forward: the old slots kept, then each new slot s of row b filled with tag 9, position s. */
function present(feeds: Record<string, ort.Tensor>, S: number): Record<string, ort.Tensor> {
  const past = feeds['past_key_values.0.key'];
  const [B, , L] = past.dims;
  const old = past.data as Float32Array;
  const k = new Float32Array(B * H * (L + S) * D);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++) {
      k.set(old.subarray((b * H + h) * L * D, (b * H + h + 1) * L * D), (b * H + h) * (L + S) * D);
      for (let s = 0; s < S; s++) for (let d = 0; d < D; d++) k[((b * H + h) * (L + S) + L + s) * D + d] = 9000 + (L + s) * 100 + h * 10 + d;
    }
  return { 'present.0.key': new ort.Tensor('float32', k, [B, H, L + S, D]), 'present.0.value': new ort.Tensor('float32', k.map((x) => -x), [B, H, L + S, D]) };
}

describe('BatchKvCache', () => {
  it('copies prefilled rows in, masks padding and rolled-back slots, and compacts without losing a position', () => {
    const batch = new BatchKvCache(1, H, D, 0.3);
    const a = batch.newRow();
    const b = batch.newRow();
    batch.add(a, soloCache(1, 3));
    batch.add(b, soloCache(2, 1));
    expect(batch.slotCount).toBe(3);
    let { feeds, perRow, S } = batch.inputs((row) => (row === a ? [5, 6] : [7, 8, 9]), true);
    expect(S).toBe(3);
    // row b has 1 position: slot 0 live, slots 1-2 padding; row a's third new token is padding
    expect([...(feeds.attention_mask.data as BigInt64Array)].map(Number)).toEqual([1, 1, 1, 1, 1, 0, 1, 0, 0, 1, 1, 1]);
    expect([...(feeds.position_ids.data as BigInt64Array)].map(Number)).toEqual([3, 4, 4, 1, 2, 3]);
    expect(heldAt(batch, feeds, a.index, 2, 1)).toEqual([1210, 1211, 1212]);
    expect(heldAt(batch, feeds, b.index, 0, 1)).toEqual([2010, 2011, 2012]);
    batch.adopt(present(feeds, S), perRow, S);
    expect(a.slots).toEqual([0, 1, 2, 3, 4]);
    expect(b.slots).toEqual([0, 3, 4, 5]);

    // roll back: a keeps 4 positions, b keeps 2 (its slots 0 and 3)
    a.truncate(4);
    b.truncate(2);
    expect(batch.waste).toBeCloseTo(1 - 4 / 6);
    expect(batch.bytes.total).toBe(2 * 2 * H * 6 * D * 4);
    expect(batch.maybeCompact()).toBe(true);
    expect(batch.slotCount).toBe(4);
    expect(a.slots).toEqual([0, 1, 2, 3]);
    expect(b.slots).toEqual([0, 1]);
    ({ feeds } = batch.inputs(() => [1], false));
    expect(feeds.position_ids).toBeUndefined();
    expect(heldAt(batch, feeds, a.index, 3, 0)).toEqual([9300, 9301, 9302]); // a's new token from slot 3
    expect(heldAt(batch, feeds, b.index, 0, 1)).toEqual([2010, 2011, 2012]); // b's prompt position
    expect(heldAt(batch, feeds, b.index, 1, 1)).toEqual([9310, 9311, 9312]); // b's first new token, from slot 3
    expect([...(feeds['past_key_values.0.value'].data as Float32Array).subarray(0, 3)]).toEqual([-1000, -1001, -1002]);

    // leaving moves the other row to index 0
    a.release();
    expect(batch.size).toBe(1);
    expect(b.index).toBe(0);
    expect(batch.slotCount).toBe(2);
    ({ feeds } = batch.inputs(() => [1], true));
    expect(heldAt(batch, feeds, 0, 1, 0)).toEqual([9300, 9301, 9302]);
    expect(() => b.truncate(3)).toThrow(/cannot truncate/);
  });

  it('does not compact below the waste bound', () => {
    const batch = new BatchKvCache(1, H, D, 0.5);
    const a = batch.newRow();
    batch.add(a, soloCache(1, 4));
    const { feeds, perRow, S } = batch.inputs(() => [1, 2], true);
    batch.adopt(present(feeds, S), perRow, S);
    a.truncate(5); // 5 of 6 slots needed
    expect(batch.maybeCompact()).toBe(false);
    expect(batch.slotCount).toBe(6);
  });
});

describe('cost model', () => {
  it('fits a + b·tokens from observations and uses the prior slope while there is no spread', () => {
    const c = new ForwardCost(1);
    expect(c.predict(10)).toBe(0);
    c.observe(4, 10);
    c.observe(4, 10);
    expect(c.predict(4)).toBeCloseTo(10);
    expect(c.predict(40)).toBeGreaterThan(10); // prior slope: more tokens cost more
    for (const x of [1, 8, 16, 32]) c.observe(x, 5 + 0.5 * x);
    const fit = new ForwardCost(1);
    for (const x of [1, 8, 16, 32]) fit.observe(x, 5 + 0.5 * x);
    expect(fit.predict(0)).toBeCloseTo(5);
    expect(fit.predict(64)).toBeCloseTo(37);
  });

  it('estimates acceptance as kept / (kept + rejections) and the expected tokens of a step', () => {
    const a = new Acceptance(0.5, 0, 1);
    a.observe(4, 4); // all kept
    a.observe(4, 2); // 2 kept, then a rejection
    expect(a.rate).toBeCloseTo(6 / 7);
    const half = new Acceptance(0.5, 10, 1);
    expect(half.expectedTokens(0)).toBeCloseTo(1);
    expect(half.expectedTokens(3)).toBeCloseTo(1 + 0.5 + 0.25 + 0.125);
  });

  it('speculates when drafts are cheap and accepted, and not when the target forward grows with every token', () => {
    const cheap = new ForwardCost(1);
    cheap.observe(1, 0.1);
    cheap.observe(32, 0.2);
    const flatTarget = new ForwardCost(1);
    flatTarget.observe(1, 10);
    flatTarget.observe(64, 11);
    const good = [new Acceptance(0.9, 100), new Acceptance(0.9, 100)];
    expect(chooseK([4, 4], good, 2, cheap, flatTarget).k).toBe(4);
    const computeBound = new ForwardCost(1);
    computeBound.observe(1, 1);
    computeBound.observe(64, 64);
    const poor = [new Acceptance(0.2, 100), new Acceptance(0.2, 100)];
    expect(chooseK([4, 4], poor, 2, cheap, computeBound).k).toBe(0);
    // a row that may not draft (target mode) caps nothing but adds its token to every choice
    expect(chooseK([0, 4], good, 1, cheap, flatTarget).k).toBe(4);
    // before any forward has been timed, the requests' own k
    expect(chooseK([3, 2], good, 2, new ForwardCost(), new ForwardCost()).k).toBe(3);
  });
});
