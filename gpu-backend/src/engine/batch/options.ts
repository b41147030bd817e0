/** How an engine batches the generations it runs at once (`verdict serve --batching`, `--spec-k`, …). */
export interface BatchOptions {
  /** One draft and one target forward per step over every running generation; false: each runs its own forwards. */
  enabled: boolean;
  /** 'auto': the cost model picks each step's draft length up to the request's k; 'fixed': always the request's k. */
  specK: 'auto' | 'fixed';
  /** No speculation while at least this many generations share the batch (0: never disabled). */
  specDisableBatch: number;
  /** Compact the batch KV cache when this fraction of its slots is dead (0: every step). */
  compactWaste: number;
}

/**
 * An engine's defaults (and `verdict serve`'s): batched, drafting exactly the request's k, so an answer
 * never depends on the load. `specK: 'auto'` trades that for speed under load (see docs/engine.md).
 */
export const BATCH_DEFAULTS: BatchOptions = { enabled: true, specK: 'fixed', specDisableBatch: 0, compactWaste: 0.5 };

/** The serve configuration's batching fields as engine options. */
export function batchOptions(c: { batching: 'on' | 'off'; specK: 'auto' | 'fixed'; specDisableBatch: number; batchCompactWaste: number }): BatchOptions {
  return { enabled: c.batching === 'on', specK: c.specK, specDisableBatch: c.specDisableBatch, compactWaste: c.batchCompactWaste };
}
