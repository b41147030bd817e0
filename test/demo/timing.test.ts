import { describe, expect, it } from 'vitest';
import { barFractions, cacheStatus, timingBars } from '../../src/demo/timing.ts';
import { parseServerTiming } from '@verdict/protocol/browser';
import type { Timings } from '@verdict/protocol/browser';

const timings: Timings = { queue_ms: 1.5, prefill_ms: 12, draft_ms: 30, verify_ms: 40, judge_ms: 2, total_ms: 90, steps: 10, drafted: 40, accepted: 30, judge_accepted: 6, mean_accepted_per_step: 4, tokens_per_s: 400 };

describe('timingBars', () => {
  it('takes everything from the final timings when present', () => {
    const bars = timingBars({ ...timings, edge_ms: 3, upstream_ms: 20 }, parseServerTiming('edge;dur=99, upstream;dur=99'));
    expect(bars.map((b) => [b.name, b.ms, b.source])).toEqual([
      ['queue', 1.5, 'timings'],
      ['prefill', 12, 'timings'],
      ['draft', 30, 'timings'],
      ['verify', 40, 'timings'],
      ['judge', 2, 'timings'],
      ['edge', 3, 'timings'],
      ['upstream', 20, 'timings'],
    ]);
  });

  it('fills what the timings lack from Server-Timing', () => {
    const bars = timingBars(timings, parseServerTiming('queue;dur=7, edge;dur=4.5, upstream;dur=18.25, cache;desc=miss'));
    expect(bars.find((b) => b.name === 'edge')).toEqual({ name: 'edge', ms: 4.5, source: 'server-timing' });
    expect(bars.find((b) => b.name === 'upstream')).toEqual({ name: 'upstream', ms: 18.25, source: 'server-timing' });
    expect(bars.find((b) => b.name === 'queue')?.ms).toBe(1.5);
  });

  it('works from Server-Timing alone and skips entries without a duration', () => {
    const bars = timingBars(null, parseServerTiming('prefill;dur=5, edge, cache;desc=hit'));
    expect(bars).toEqual([{ name: 'prefill', ms: 5, source: 'server-timing' }]);
  });
});

describe('cacheStatus', () => {
  it('reads X-Cache first, then Server-Timing, then timings.cache', () => {
    expect(cacheStatus('HIT', [], null)).toBe('hit');
    expect(cacheStatus(null, parseServerTiming('cache;desc=hit'), { ...timings, cache: 'miss' })).toBe('hit');
    expect(cacheStatus(null, [], { ...timings, cache: 'bypass' })).toBe('bypass');
    expect(cacheStatus('weird', [], null)).toBe('unknown');
    // cache-as-draft: X-Cache DRAFT, Server-Timing cache;desc=draft or draft-edit, timings.cache draft
    expect(cacheStatus('DRAFT', [], null)).toBe('draft');
    expect(cacheStatus(null, parseServerTiming('cache;desc=draft-edit'), null)).toBe('draft');
    expect(cacheStatus(null, [], { ...timings, cache: 'draft' })).toBe('draft');
  });
});

describe('barFractions', () => {
  it('scales to the longest bar and keeps tiny non-zero bars visible', () => {
    const f = barFractions([
      { name: 'queue', ms: 0, source: 'timings' },
      { name: 'verify', ms: 200, source: 'timings' },
      { name: 'judge', ms: 0.1, source: 'timings' },
    ]);
    expect(f).toEqual([0, 1, 0.01]);
    expect(barFractions([])).toEqual([]);
  });
});

describe('barFractions with a common scale', () => {
  it('measures against the larger of the scale and the longest bar', () => {
    expect(barFractions([{ name: 'verify', ms: 50, source: 'timings' }], 200)).toEqual([0.25]);
    expect(barFractions([{ name: 'verify', ms: 50, source: 'timings' }], 10)).toEqual([1]);
  });
});
