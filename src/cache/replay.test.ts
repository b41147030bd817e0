import { describe, expect, it } from 'vitest';
import { replaySchedule } from './replay.ts';

describe('replaySchedule', () => {
  it('keeps the recorded pace when it is within the caps', () => {
    expect(replaySchedule([10, 30, 60], { maxGapMs: 100, maxTotalMs: 1000 })).toEqual([10, 30, 60]);
  });

  it('caps each gap, so one slow step does not stall every replay', () => {
    expect(replaySchedule([10, 5000, 5020], { maxGapMs: 250, maxTotalMs: 10_000 })).toEqual([10, 260, 280]);
  });

  it('scales the whole answer down to the total cap', () => {
    const s = replaySchedule([200, 400, 600, 800], { maxGapMs: 250, maxTotalMs: 400 });
    expect(s.at(-1)).toBeCloseTo(400);
    expect(s[0]).toBeCloseTo(100);
  });
});
