import type { Mode } from '@verdict/protocol';
import { BENCH_PROMPTS } from './prompts.ts';
import type { LoadRow } from './schema.ts';
import { percentile } from './stats.ts';

/**
 * The pure side of `verdict bench --load`: the order configurations run in, which prompt each
 * request sends, and a configuration's row from the client's timestamps. No I/O here.
 */

export type Batching = 'on' | 'off';

/** One configuration measured once: which server, which mode, how many concurrent streams. */
export interface LoadStep {
  round: number;
  streams: number;
  mode: Mode;
  batching: Batching;
}

/**
 * The interleaved order: for each round, for each streams value, for each mode, both batching
 * settings back to back, which one goes first alternating from one (streams, mode) pair to the
 * next (and so from round to round when the pair count is odd), so drift on a shared machine
 * lands on both sides alike.
 */
export function loadSchedule(o: { rounds: number; streams: readonly number[]; modes: readonly Mode[]; batching?: readonly Batching[] }): LoadStep[] {
  const batching = o.batching ?? ['on', 'off'];
  const out: LoadStep[] = [];
  let pair = 0;
  for (let round = 0; round < o.rounds; round++) {
    for (const streams of o.streams) {
      for (const mode of o.modes) {
        const order = pair % 2 === 0 ? batching : [...batching].reverse();
        for (const b of order) out.push({ round, streams, mode, batching: b });
        pair++;
      }
    }
  }
  return out;
}

/** The prompt of a stream's n-th request (warm-ups included): every stream starts at a different prompt and moves on each request. */
export function promptFor(stream: number, request: number, prompts: readonly string[] = BENCH_PROMPTS): string {
  return prompts[(stream + request * 3) % prompts.length];
}

/** A content chunk as the client saw it: when it arrived (ms, performance.now) and how many tokens it carried. */
export interface ChunkArrival {
  at: number;
  tokens: number;
}

/** One streamed request, timed by the client. */
export interface TimedRequest {
  stream: number;
  sentAt: number;
  /** Content chunks only (one per engine step; the chat opener and the closing chunks are not content). */
  chunks: ChunkArrival[];
  /** The last byte of the response. */
  endAt: number;
  /** `usage.completion_tokens` of the final chunk. */
  usageTokens: number;
}

/** One measured window: every stream started its first measured request at `startAt`. */
export interface LoadWindow {
  startAt: number;
  requests: TimedRequest[];
}

/**
 * Inter-token latency of one response: the gaps between consecutive content chunks (ms), and each
 * gap divided by the tokens of the chunk that ends it. The first chunk starts no gap (it is TTFT).
 */
export function interTokenGaps(chunks: readonly ChunkArrival[]): { gaps: number[]; perToken: number[] } {
  const gaps: number[] = [];
  const perToken: number[] = [];
  for (let i = 1; i < chunks.length; i++) {
    const gap = chunks[i].at - chunks[i - 1].at;
    gaps.push(gap);
    perToken.push(gap / Math.max(1, chunks[i].tokens));
  }
  return { gaps, perToken };
}

/** NaN (no samples) as null, for the summary. */
const orNull = (x: number) => (Number.isFinite(x) ? x : null);

/** A configuration's row from its measured windows (one per round): the numbers only, memory and metrics are added by the caller. */
export function loadRow(key: { mode: Mode; batching: Batching; streams: number }, windows: readonly LoadWindow[]): Omit<LoadRow, 'rss_bytes' | 'peak_rss_bytes' | 'metrics'> {
  const requests = windows.flatMap((w) => w.requests);
  if (requests.length === 0) throw new Error(`load: ${key.mode}/${key.batching}/${key.streams} streams has no measured requests`);
  let tokens = 0;
  let chunkTokens = 0;
  let chunks = 0;
  let windowMs = 0;
  const perStream: number[] = [];
  const ttft: number[] = [];
  const gaps: number[] = [];
  const perToken: number[] = [];
  for (const w of windows) {
    const ends = new Map<number, { tokens: number; end: number }>();
    let end = w.startAt;
    for (const r of w.requests) {
      tokens += r.usageTokens;
      chunks += r.chunks.length;
      for (const c of r.chunks) chunkTokens += c.tokens;
      if (r.chunks.length) ttft.push(r.chunks[0].at - r.sentAt);
      const g = interTokenGaps(r.chunks);
      gaps.push(...g.gaps);
      perToken.push(...g.perToken);
      const s = ends.get(r.stream) ?? { tokens: 0, end: w.startAt };
      s.tokens += r.usageTokens;
      s.end = Math.max(s.end, r.endAt);
      ends.set(r.stream, s);
      end = Math.max(end, r.endAt);
    }
    windowMs += end - w.startAt;
    for (const s of ends.values()) perStream.push(s.end > w.startAt ? (s.tokens / (s.end - w.startAt)) * 1000 : 0);
  }
  return {
    ...key,
    agg_tokens_per_s: windowMs > 0 ? (tokens / windowMs) * 1000 : 0,
    per_stream_tokens_per_s: perStream.reduce((a, b) => a + b, 0) / perStream.length,
    ttft_ms: percentile(ttft, 50),
    ttft_p99_ms: percentile(ttft, 99),
    p50_itl_ms: orNull(percentile(gaps, 50)),
    p99_itl_ms: orNull(percentile(gaps, 99)),
    p50_itl_per_token_ms: orNull(percentile(perToken, 50)),
    p99_itl_per_token_ms: orNull(percentile(perToken, 99)),
    requests: requests.length,
    tokens,
    chunk_tokens: chunkTokens,
    chunks,
    window_s: windowMs / 1000,
  };
}
