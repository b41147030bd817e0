import { describe, expect, it } from 'vitest';
import { cachePolicyRow, cachePolicySchedule, checkIdenticalAnswers, stepTotals, withRatios, type CachePolicyRun } from '../src/bench/cache-policy.ts';
import { renderCachePolicySection } from '../src/bench/load-report.ts';
import { CachePolicyRowSchema } from '../src/bench/schema.ts';
import type { BatchStepInfo } from '../src/engine/types.ts';

const MIB = 2 ** 20;
const info = (rows: number, compactMs: number, deadBytes: number, cacheBytes: number): BatchStepInfo => ({ rows, kCap: 4, kWhy: 'fixed', cacheBytes, deadBytes, compactMs });

describe('cache policy: the interleaved order', () => {
  it('runs every mode on every W each round, the W order reversed every other round', () => {
    const s = cachePolicySchedule({ rounds: 2, wastes: [0, 0.5, 0.75], modes: ['exact', 'judge'] });
    expect(s.map((x) => `${x.round}:${x.mode}:${x.compactWaste}`)).toEqual([
      '0:exact:0', '0:exact:0.5', '0:exact:0.75', '0:judge:0', '0:judge:0.5', '0:judge:0.75',
      '1:exact:0.75', '1:exact:0.5', '1:exact:0', '1:judge:0.75', '1:judge:0.5', '1:judge:0',
    ]);
  });
});

describe('cache policy: per-step totals from per-row events', () => {
  // Step A: 3 rows, compacted for 6 ms, 30 dead of 300 bytes (each of its 3 rows reports it).
  // Step B: 1 row, 2 ms, 0 dead of 100 bytes.
  const events = [info(3, 6, 30, 300), info(3, 6, 30, 300), info(3, 6, 30, 300), info(1, 2, 0, 100)];

  it('counts each batched step once: compactMs / rows summed, means over steps', () => {
    const t = stepTotals(events);
    expect(t.steps).toBeCloseTo(2, 12);
    expect(t.compactMs).toBeCloseTo(8, 12); // 6 + 2, not 3·6 + 2
    expect(t.meanDeadBytes).toBeCloseTo(15, 12); // (30 + 0) / 2
    expect(t.maxDeadBytes).toBe(30);
    expect(t.meanCacheBytes).toBeCloseTo(200, 12); // (300 + 100) / 2
    expect(t.maxCacheBytes).toBe(300);
  });

  it('is all zeros without events', () => {
    expect(stepTotals([])).toEqual({ steps: 0, compactMs: 0, meanDeadBytes: 0, maxDeadBytes: 0, meanCacheBytes: 0, maxCacheBytes: 0 });
  });

  it('pools rounds into a row: tokens over summed wall time, compaction share of it', () => {
    const run = (wallMs: number, stepInfos: BatchStepInfo[]): CachePolicyRun => ({ wallMs, tokens: 40, answers: [], stepInfos });
    const r = cachePolicyRow({ compactWaste: 0, mode: 'exact' }, [run(100, events), run(300, [info(2, 4, 10 * MIB, 20 * MIB), info(2, 4, 10 * MIB, 20 * MIB)])]);
    expect(CachePolicyRowSchema.parse(r)).toEqual(r);
    expect(r).toMatchObject({ compact_waste: 0, mode: 'exact', tokens: 80, runs: 2, steps: 3, tokens_per_s_vs_w0: null, max_dead_bytes: 10 * MIB });
    expect(r.agg_tokens_per_s).toBeCloseTo(200, 9); // 80 tokens / 0.4 s
    expect(r.compact_ms).toBeCloseTo(12, 9); // 6 + 2 + 4
    expect(r.compact_ms_share).toBeCloseTo(0.03, 12); // 12 ms / 400 ms
    expect(r.mean_dead_bytes).toBeCloseTo((30 + 0 + 10 * MIB) / 3, 6);
    expect(r.wall_s).toBeCloseTo(0.4, 12);
    expect(() => cachePolicyRow({ compactWaste: 0, mode: 'exact' }, [])).toThrow(/no runs/);
  });
});

describe('cache policy: ratios and the report', () => {
  const row = (compactWaste: number, mode: 'exact' | 'judge', tps: number) =>
    cachePolicyRow({ compactWaste, mode }, [{ wallMs: 1000, tokens: tps, answers: [], stepInfos: [info(1, 1, 0, MIB)] }]);

  it('divides each W by the same mode at W = 0, null without one', () => {
    const rows = withRatios([row(0, 'exact', 100), row(0.5, 'exact', 125), row(0.5, 'judge', 90)]);
    expect(rows.map((r) => r.tokens_per_s_vs_w0)).toEqual([1, 1.25, null]);
  });

  it('renders the section with the table and the ratios side by side', () => {
    const rows = withRatios([row(0, 'exact', 100), row(0.5, 'exact', 150)]);
    const md = renderCachePolicySection({ wastes: [0, 0.5], modes: ['exact'], streams: 8, k: 4, max_tokens: 64, rounds: 2, threads: 0 }, rows);
    expect(md).toContain('## Batch cache: masking vs compacting');
    expect(md).toContain('| 0.5 | exact | 150 | 1.5× |');
    expect(md).toContain('| exact | 1× | 1.5× |');
  });
});

describe('cache policy: the answers must not depend on W', () => {
  const step = (compactWaste: number, mode: 'exact' | 'judge' = 'exact', round = 0) => ({ round, compactWaste, mode });

  it('passes identical answers per mode (modes may differ from each other)', () => {
    expect(() =>
      checkIdenticalAnswers([
        { step: step(0), answers: [[1, 2, 3], [4]] },
        { step: step(0.5), answers: [[1, 2, 3], [4]] },
        { step: step(0, 'judge'), answers: [[9], [4]] },
        { step: step(0.5, 'judge', 1), answers: [[9], [4]] },
      ]),
    ).not.toThrow();
  });

  it('fails loudly on a different token or length, naming both W and the position', () => {
    expect(() => checkIdenticalAnswers([{ step: step(0), answers: [[1, 2, 3]] }, { step: step(0.75), answers: [[1, 5, 3]] }])).toThrow(/exact answers differ between compactWaste 0 \(round 0\) and 0\.75 \(round 0\): prompt 0, 3 vs 3 tokens, first difference at token 1 \(2 vs 5\)/);
    expect(() => checkIdenticalAnswers([{ step: step(0), answers: [[1, 2]] }, { step: step(0.25), answers: [[1, 2, 3]] }])).toThrow(/2 vs 3 tokens, first difference at token 2/);
  });
});
