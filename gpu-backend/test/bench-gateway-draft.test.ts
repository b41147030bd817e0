import { describe, expect, it } from 'vitest';
import { formatDraftReport, legOrder, summariseDraftBench, type DraftSample } from '../src/bench/gateway-draft.ts';

// The pure parts of the cache-as-draft measurement (the run itself needs a backend and two gateways: gateway-draft-run.ts).
const sample = (arm: 'on' | 'off', wallMs: number, tokens: number, extra: Partial<DraftSample> = {}): DraftSample => ({
  arm,
  prompt: 0,
  round: 0,
  wallMs,
  completionTokens: tokens,
  cache: arm === 'on' ? 'DRAFT' : 'BYPASS',
  serverTokensPerS: null,
  meanAcceptedPerStep: arm === 'on' ? 6 : 3,
  acceptedPredictionTokens: arm === 'on' ? 40 : 0,
  ...extra,
});

describe('cache-as-draft bench', () => {
  it('alternates which arm goes first', () => {
    expect([0, 1, 2, 3].map(legOrder)).toEqual([
      ['on', 'off'],
      ['off', 'on'],
      ['on', 'off'],
      ['off', 'on'],
    ]);
  });

  it('sums tokens over wall time per arm and compares them with the goal', () => {
    const s = summariseDraftBench([sample('on', 500, 64), sample('on', 300, 32), sample('off', 1000, 64), sample('off', 1000, 64)]);
    expect(s.on).toMatchObject({ requests: 2, tokens: 96, tokens_per_s: 120, mean_accepted_per_step: 6, accepted_prediction_tokens: 80, wrong_cache_header: 0 });
    expect(s.off.tokens_per_s).toBe(64);
    expect(s.ratio).toBeCloseTo(1.875);
    expect(s.meets_goal).toBe(false);
    expect(summariseDraftBench([sample('on', 400, 64), sample('off', 1000, 64)]).meets_goal).toBe(true);
  });

  it('never meets the goal when an answer carried the wrong X-Cache', () => {
    const s = summariseDraftBench([sample('on', 100, 64, { cache: 'BYPASS' }), sample('off', 1000, 64)]);
    expect(s.ratio).toBeGreaterThan(2);
    expect(s.on.wrong_cache_header).toBe(1);
    expect(s.meets_goal).toBe(false);
  });

  it('reports both arms and the ratio', () => {
    const s = summariseDraftBench([sample('on', 400, 64), sample('off', 1000, 64)]);
    const text = formatDraftReport(s, { prompts: ['a'], regenerations: 1, maxTokens: 64, k: 8, temperature: 0.7 });
    expect(text).toContain('| on (X-Cache: DRAFT) | 1 | 64 | 0.40 | 160.0 | 6.00 | 40 | 0 |');
    expect(text).toContain('tokens/s ratio on/off: 2.50× (goal ≥ 2×: met)');
  });
});
