import { SSE_DONE, SseParser } from '@verdict/protocol/browser';
import type { ChatCompletionChunk } from '@verdict/protocol/browser';

/** What the page sees of a chat stream: chunks, then either the end or an error that ended it. */
export type StreamItem =
  | { kind: 'chunk'; chunk: ChatCompletionChunk }
  | { kind: 'done' }
  | { kind: 'error'; message: string };

/**
 * Reads an OpenAI chat-completion SSE body. A stream can end three ways and the page must say which:
 * `data: [DONE]` (complete), an error event (`data: {"error": …}` — the backend or gateway gave up mid-stream), or
 * the connection closing without either (truncated: reported as an error rather than a silent stall).
 */
export async function* readChatStream(body: ReadableStream<Uint8Array>): AsyncGenerator<StreamItem> {
  const parser = new SseParser();
  const decoder = new TextDecoder();
  const reader = body.getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      const text = done ? decoder.decode() : decoder.decode(value, { stream: true });
      for (const ev of parser.push(done ? text + '\n\n' : text)) {
        const item = interpretEvent(ev.data, ev.event);
        // Read the body to its end after [DONE] so the fetch completes (its resource-timing entry, which carries
        // Server-Timing, only appears then) instead of being cancelled.
        if (item.kind === 'done') await drain(reader, 1000);
        yield item;
        if (item.kind !== 'chunk') return;
      }
      if (done) break;
    }
    yield { kind: 'error', message: 'The stream ended before it was complete (the connection closed without [DONE]).' };
  } finally {
    reader.releaseLock();
    // Cancelling a finished body is a no-op; cancelling an unfinished one tells the gateway to stop the generation.
    body.cancel().catch(() => {});
  }
}

/** One SSE event's data as a stream item. */
export function interpretEvent(data: string, event?: string): StreamItem {
  if (data === SSE_DONE) return { kind: 'done' };
  let json: unknown;
  try {
    json = JSON.parse(data);
  } catch {
    return { kind: 'error', message: `The server sent something that is not JSON: ${data.slice(0, 120)}` };
  }
  const err = (json as { error?: { message?: unknown } } | null)?.error;
  if (event === 'error' || err) {
    const message = typeof err?.message === 'string' ? err.message : data.slice(0, 200);
    return { kind: 'error', message: `The stream stopped with an error: ${message}` };
  }
  const chunk = json as ChatCompletionChunk;
  if (!Array.isArray(chunk?.choices)) return { kind: 'error', message: `Unexpected chunk without choices: ${data.slice(0, 120)}` };
  return { kind: 'chunk', chunk };
}

async function drain(reader: ReadableStreamDefaultReader<Uint8Array>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
  const rest = (async () => {
    while (!(await reader.read()).done) {
      /* discard: nothing may follow [DONE] */
    }
  })().catch(() => {});
  await Promise.race([rest, timeout]);
  clearTimeout(timer);
}
