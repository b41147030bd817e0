import { Agent, request } from 'undici';
import { SSE_DONE, SseParser, type Mode } from '@verdict/protocol';
import { promptFor, type ChunkArrival, type LoadWindow, type TimedRequest } from './load-stats.ts';

/**
 * The load generator of `verdict bench --load`: `streams` closed loops, each sending streaming
 * `/v1/chat/completions` requests one after another over an undici keep-alive agent, timing
 * every content chunk as it arrives.
 */

export const LOAD_ENDPOINT = '/v1/chat/completions';

export interface LoadTarget {
  url: string;
  model: string;
}

export interface LoadRequestOptions {
  mode: Mode;
  maxTokens: number;
  /** Draft length to ask for; undefined leaves it to the server. */
  k?: number;
}

/** A keep-alive agent with a connection for every stream (and no body deadline: a 32-stream run is slow). */
export function loadAgent(streams: number): Agent {
  return new Agent({ connections: streams + 2, keepAliveTimeout: 60_000, headersTimeout: 600_000, bodyTimeout: 600_000 });
}

interface StreamChunk {
  choices?: { delta?: { content?: string }; text?: string }[];
  usage?: { completion_tokens: number } | null;
  x_verdict?: { provenance?: unknown[] };
  error?: { message: string };
}

/** One streaming request; content chunks are the ones carrying tokens (`x_verdict.provenance`, one entry per token). */
export async function timedRequest(agent: Agent, target: LoadTarget, stream: number, prompt: string, o: LoadRequestOptions): Promise<TimedRequest> {
  const body = JSON.stringify({
    model: target.model,
    messages: [{ role: 'user', content: prompt }],
    max_tokens: o.maxTokens,
    temperature: 0,
    stream: true,
    stream_options: { include_usage: true },
    speculative: o.k ? { mode: o.mode, k: o.k } : { mode: o.mode },
  });
  const sentAt = performance.now();
  const res = await request(`${target.url}${LOAD_ENDPOINT}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body, dispatcher: agent });
  if (res.statusCode !== 200) throw new Error(`load: ${target.url} answered HTTP ${res.statusCode}: ${(await res.body.text()).slice(0, 300)}`);
  const parser = new SseParser();
  const decoder = new TextDecoder();
  const chunks: ChunkArrival[] = [];
  let usageTokens: number | null = null;
  let done = false;
  for await (const data of res.body) {
    const at = performance.now();
    for (const ev of parser.push(decoder.decode(data as Uint8Array, { stream: true }))) {
      if (ev.data === SSE_DONE) {
        done = true;
        continue;
      }
      const chunk = JSON.parse(ev.data) as StreamChunk;
      if (chunk.error) throw new Error(`load: the stream failed: ${chunk.error.message}`);
      const tokens = chunk.x_verdict?.provenance?.length ?? 0;
      if (tokens > 0) chunks.push({ at, tokens });
      if (chunk.usage) usageTokens = chunk.usage.completion_tokens;
    }
  }
  if (!done) throw new Error('load: the stream ended without data: [DONE]');
  if (usageTokens == null) throw new Error('load: the stream had no usage chunk (stream_options.include_usage)');
  return { stream, sentAt, chunks, endAt: performance.now(), usageTokens };
}

/**
 * One configuration: every stream first sends `warmup` requests (not measured), all streams wait
 * for each other, then every stream sends `requests` measured requests back to back from the same
 * instant, the window's start. `onRequest` is called after each request, warm-ups included.
 */
export async function runWindow(
  agent: Agent,
  target: LoadTarget,
  o: LoadRequestOptions & { streams: number; warmup: number; requests: number; onRequest?: () => void },
): Promise<LoadWindow> {
  const loop = async (stream: number, from: number, count: number, out: TimedRequest[] | null) => {
    for (let i = from; i < from + count; i++) {
      const r = await timedRequest(agent, target, stream, promptFor(stream, i), o);
      out?.push(r);
      o.onRequest?.();
    }
  };
  const streams = Array.from({ length: o.streams }, (_, s) => s);
  await Promise.all(streams.map((s) => loop(s, 0, o.warmup, null)));
  const requests: TimedRequest[] = [];
  const startAt = performance.now();
  await Promise.all(streams.map((s) => loop(s, o.warmup, o.requests, requests)));
  return { startAt, requests };
}
