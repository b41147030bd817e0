import { sseData, SSE_DONE } from '@verdict/protocol';
import type { CachedAnswer } from './answer.ts';

const encoder = new TextEncoder();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Bounds on a replay at recorded pace: one slow backend step must not make every later visitor wait for it. */
export interface ReplayPace {
  maxGapMs: number;
  maxTotalMs: number;
}

/**
 * When each recorded chunk is sent, in ms from the start: the recorded gaps, each capped at `maxGapMs`,
 * then all scaled down together if they still add up to more than `maxTotalMs`.
 */
export function replaySchedule(offsets: number[], pace: ReplayPace): number[] {
  const gaps = offsets.map((t, i) => Math.min(Math.max(0, t - (i ? offsets[i - 1] : 0)), pace.maxGapMs));
  const total = gaps.reduce((a, b) => a + b, 0);
  const scale = total > pace.maxTotalMs ? pace.maxTotalMs / total : 1;
  let at = 0;
  return gaps.map((g) => (at += g * scale));
}

/**
 * A stored streamed answer as SSE again, chunk for chunk. With a `pace` the chunks are spaced as they
 * arrived from the backend the first time (for demos, within the pace's caps); otherwise they are sent at once.
 */
export function replaySse(record: Extract<CachedAnswer, { kind: 'sse' }>, transform: (data: string) => string, pace: ReplayPace | null): ReadableStream<Uint8Array> {
  let next = 0;
  const started = performance.now();
  const schedule = pace ? replaySchedule(record.events.map((e) => e.t), pace) : [];
  return new ReadableStream<Uint8Array>(
    {
      async pull(ctrl) {
        if (next >= record.events.length) {
          ctrl.enqueue(encoder.encode(sseData(SSE_DONE)));
          ctrl.close();
          return;
        }
        if (!pace) {
          ctrl.enqueue(encoder.encode(record.events.map((e) => sseData(transform(e.data))).join('')));
          next = record.events.length;
          return;
        }
        const wait = schedule[next] - (performance.now() - started);
        const ev = record.events[next++];
        if (wait > 0) await sleep(wait);
        ctrl.enqueue(encoder.encode(sseData(transform(ev.data))));
      },
    },
    { highWaterMark: 0 },
  );
}
