import { sseData, SSE_DONE } from '@verdict/protocol';
import type { CachedAnswer } from './record.ts';

const encoder = new TextEncoder();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A stored streamed answer as SSE again, chunk for chunk. With `recordedPace` the chunks are spaced as they
 * arrived from the backend the first time (for demos); otherwise they are sent at once.
 */
export function replaySse(record: Extract<CachedAnswer, { kind: 'sse' }>, transform: (data: string) => string, recordedPace: boolean): ReadableStream<Uint8Array> {
  let next = 0;
  const started = performance.now();
  return new ReadableStream<Uint8Array>(
    {
      async pull(ctrl) {
        if (next >= record.events.length) {
          ctrl.enqueue(encoder.encode(sseData(SSE_DONE)));
          ctrl.close();
          return;
        }
        if (!recordedPace) {
          ctrl.enqueue(encoder.encode(record.events.map((e) => sseData(transform(e.data))).join('')));
          next = record.events.length;
          return;
        }
        const ev = record.events[next++];
        const wait = ev.t - (performance.now() - started);
        if (wait > 0) await sleep(wait);
        ctrl.enqueue(encoder.encode(sseData(transform(ev.data))));
      },
    },
    { highWaterMark: 0 },
  );
}
