import { describe, expect, it } from 'vitest';
import { LiveFigures, formatMs, formatNumber } from '../../src/demo/figures.ts';
import type { ChatCompletionChunk, Timings } from '@verdict/protocol/browser';
import type { Provenance } from '@verdict/protocol/browser';

function step(content: string, provenance: Provenance[], timings?: Timings): ChatCompletionChunk {
  return { id: 'x', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { content }, finish_reason: null, logprobs: null }], x_verdict: { provenance, step: 1 }, ...(timings ? { timings } : {}) };
}

const timings: Timings = { queue_ms: 1, prefill_ms: 2, draft_ms: 3, verify_ms: 4, judge_ms: 0.5, total_ms: 20, steps: 2, drafted: 8, accepted: 5, judge_accepted: 2, mean_accepted_per_step: 3.5, tokens_per_s: 350 };

describe('LiveFigures', () => {
  it('measures TTFT, tokens/s after the first chunk and tokens per step', () => {
    const f = new LiveFigures(1000);
    f.onChunk({ ...step('', []), choices: [{ index: 0, delta: { role: 'assistant' }, finish_reason: null, logprobs: null }] }, 1010);
    expect(f.snapshot(1010).ttftMs).toBeNull();
    f.onChunk(step('abc', ['draft', 'judge', 'target']), 1050);
    f.onChunk(step('de', ['draft', 'target']), 1150);
    const s = f.snapshot(1200);
    expect(s.ttftMs).toBe(50);
    expect(s.tokens).toBe(5);
    expect(s.steps).toBe(2);
    expect(s.tokensPerS).toBeCloseTo(2 / 0.1);
    expect(s.acceptedPerStep).toBeCloseTo(2.5);
    expect(s.byProvenance).toEqual({ draft: 2, judge: 1, prediction: 0, target: 2 });
    expect(s.elapsedMs).toBe(200);
  });

  it("prefers the server's mean accepted per step once the final timings arrive", () => {
    const f = new LiveFigures(0);
    f.onChunk(step('ab', ['draft', 'target']), 10);
    f.onChunk({ ...step('', []), timings }, 20);
    const s = f.snapshot(30);
    expect(s.acceptedPerStep).toBe(3.5);
    expect(s.timings).toEqual(timings);
    expect(s.steps).toBe(1);
  });

  it('has no rate from a single chunk', () => {
    const f = new LiveFigures(0);
    f.onChunk(step('ab', ['draft', 'target']), 10);
    expect(f.snapshot(50).tokensPerS).toBeNull();
  });
});

describe('formatting', () => {
  it('formats milliseconds and numbers', () => {
    expect(formatMs(null)).toBe('—');
    expect(formatMs(3.14159)).toBe('3.1 ms');
    expect(formatMs(250.4)).toBe('250 ms');
    expect(formatMs(1234)).toBe('1.23 s');
    expect(formatNumber(2.345, 2)).toBe('2.35');
    expect(formatNumber(Number.NaN)).toBe('—');
  });
});
