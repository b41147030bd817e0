import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Mode } from '@verdict/protocol';
import { loadAgent, timedRequest } from '../src/bench/load-client.ts';
import { evaluateLoadGoals, loadRatios } from '../src/bench/load-goals.ts';
import { interTokenGaps, loadRow, loadSchedule, promptFor, type LoadWindow } from '../src/bench/load-stats.ts';
import { batchMetrics, parsePrometheus } from '../src/bench/prometheus.ts';
import { LoadRowSchema, type LoadRow } from '../src/bench/schema.ts';

const MIB = 2 ** 20;

describe('load: inter-token latency from chunk arrival times', () => {
  it('takes the gaps between consecutive content chunks, and each gap per token of the chunk that ends it', () => {
    const g = interTokenGaps([
      { at: 100, tokens: 1 },
      { at: 110, tokens: 2 },
      { at: 130, tokens: 4 },
      { at: 131, tokens: 1 },
    ]);
    expect(g.gaps).toEqual([10, 20, 1]);
    expect(g.perToken).toEqual([5, 5, 1]);
    expect(interTokenGaps([{ at: 5, tokens: 3 }])).toEqual({ gaps: [], perToken: [] });
  });
});

describe('load: a configuration row from its windows', () => {
  // Stream 0: one request; stream 1: two back to back. Window from 1000 ms to the last byte at 1200.
  const window: LoadWindow = {
    startAt: 1000,
    requests: [
      { stream: 0, sentAt: 1000, chunks: [{ at: 1010, tokens: 1 }, { at: 1020, tokens: 2 }, { at: 1050, tokens: 1 }], endAt: 1060, usageTokens: 4 },
      { stream: 1, sentAt: 1000, chunks: [{ at: 1030, tokens: 2 }, { at: 1040, tokens: 2 }], endAt: 1100, usageTokens: 4 },
      { stream: 1, sentAt: 1100, chunks: [{ at: 1120, tokens: 1 }, { at: 1125, tokens: 3 }], endAt: 1200, usageTokens: 4 },
    ],
  };
  const key = { mode: 'exact' as Mode, batching: 'on' as const, streams: 2 };

  it('aggregates usage tokens over the window, per stream over its own time, and pools TTFT and ITL (nearest rank)', () => {
    const r = loadRow(key, [window]);
    expect(r).toMatchObject({ mode: 'exact', batching: 'on', streams: 2, requests: 3, tokens: 12, chunk_tokens: 12, chunks: 7 });
    expect(r.window_s).toBeCloseTo(0.2, 12);
    expect(r.agg_tokens_per_s).toBeCloseTo(60, 9); // 12 tokens / 0.2 s
    expect(r.per_stream_tokens_per_s).toBeCloseTo((4 / 0.06 + 8 / 0.2) / 2, 9); // (66.67 + 40) / 2
    // TTFT 10, 30, 20 → p50 20, p99 30.
    expect(r.ttft_ms).toBe(20);
    expect(r.ttft_p99_ms).toBe(30);
    // Gaps 10, 30 | 10 | 5 → sorted 5, 10, 10, 30: p50 10, p99 30. Per token 5, 30 | 5 | 5/3 → p50 5, p99 30.
    expect(r.p50_itl_ms).toBe(10);
    expect(r.p99_itl_ms).toBe(30);
    expect(r.p50_itl_per_token_ms).toBe(5);
    expect(r.p99_itl_per_token_ms).toBe(30);
  });

  it('sums rounds: tokens and window time add up, so a repeated window keeps the rates', () => {
    const later = { startAt: 5000, requests: window.requests.map((q) => ({ ...q, sentAt: q.sentAt + 4000, endAt: q.endAt + 4000, chunks: q.chunks.map((c) => ({ ...c, at: c.at + 4000 })) })) };
    const r = loadRow(key, [window, later]);
    expect(r.requests).toBe(6);
    expect(r.tokens).toBe(24);
    expect(r.window_s).toBeCloseTo(0.4, 12);
    expect(r.agg_tokens_per_s).toBeCloseTo(60, 9);
    expect(r.per_stream_tokens_per_s).toBeCloseTo((4 / 0.06 + 8 / 0.2) / 2, 9);
  });

  it('has no ITL for responses of one chunk, and refuses a configuration without requests', () => {
    const r = loadRow(key, [{ startAt: 0, requests: [{ stream: 0, sentAt: 0, chunks: [{ at: 4, tokens: 1 }], endAt: 5, usageTokens: 1 }] }]);
    expect(r.p50_itl_ms).toBeNull();
    expect(r.p99_itl_ms).toBeNull();
    expect(r.ttft_ms).toBe(4);
    expect(r.agg_tokens_per_s).toBeCloseTo(200, 9);
    expect(() => loadRow(key, [{ startAt: 0, requests: [] }])).toThrow(/no measured requests/);
  });
});

describe('load: the interleaved order', () => {
  it('runs every configuration once per round, both batching settings back to back, alternating which goes first', () => {
    const s = loadSchedule({ rounds: 2, streams: [1, 2], modes: ['target', 'judge'] });
    const short = s.map((x) => `${x.round}:${x.streams}:${x.mode}:${x.batching}`);
    expect(short).toEqual([
      '0:1:target:on', '0:1:target:off',
      '0:1:judge:off', '0:1:judge:on',
      '0:2:target:on', '0:2:target:off',
      '0:2:judge:off', '0:2:judge:on',
      '1:1:target:on', '1:1:target:off',
      '1:1:judge:off', '1:1:judge:on',
      '1:2:target:on', '1:2:target:off',
      '1:2:judge:off', '1:2:judge:on',
    ]);
    // With an odd number of (streams, mode) pairs the first side flips from round to round too.
    const odd = loadSchedule({ rounds: 2, streams: [4], modes: ['exact'] }).map((x) => x.batching);
    expect(odd).toEqual(['on', 'off', 'off', 'on']);
  });

  it('gives every stream a different prompt, and each stream a new one per request', () => {
    const prompts = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];
    expect([0, 1, 2, 3].map((s) => promptFor(s, 0, prompts))).toEqual(['a', 'b', 'c', 'd']);
    expect([0, 1, 2].map((i) => promptFor(0, i, prompts))).toEqual(['a', 'd', 'g']);
    expect(promptFor(7, 1, prompts)).toBe('c'); // (7 + 3) % 8
  });
});

/** A row with every number filled in; the goal tests set what they look at. */
function row(mode: Mode, batching: 'on' | 'off', streams: number, agg: number, p99: number, rssMiB: number): LoadRow {
  return {
    mode, batching, streams,
    agg_tokens_per_s: agg, per_stream_tokens_per_s: agg / streams,
    ttft_ms: 10, ttft_p99_ms: 20, p50_itl_ms: p99 / 2, p99_itl_ms: p99, p50_itl_per_token_ms: 1, p99_itl_per_token_ms: 2,
    rss_bytes: rssMiB * MIB, peak_rss_bytes: rssMiB * MIB, requests: streams, tokens: 64 * streams, chunk_tokens: 64 * streams, chunks: 16 * streams, window_s: 1,
  };
}

describe('load: goals', () => {
  const rows: LoadRow[] = [
    row('target', 'on', 1, 100, 10, 200), row('target', 'off', 1, 100, 10, 150),
    row('exact', 'on', 1, 150, 20, 205), row('exact', 'off', 1, 140, 20, 150),
    row('judge', 'on', 1, 130, 20, 200), row('judge', 'off', 1, 120, 20, 150),
    row('target', 'on', 8, 450, 15, 240), row('target', 'off', 8, 200, 40, 160),
    row('exact', 'on', 8, 500, 50, 250), row('exact', 'off', 8, 300, 60, 160),
    row('judge', 'on', 8, 400, 30, 245), row('judge', 'off', 8, 250, 50, 170),
  ];

  it('computes the ratios side by side per streams value', () => {
    const r = loadRatios(rows);
    expect(r.map((x) => x.streams)).toEqual([1, 8]);
    expect(r[1].target_scaling_on).toBeCloseTo(4.5, 12);
    expect(r[1].target_scaling_off).toBeCloseTo(2, 12);
    expect(r[0]).toMatchObject({ best_spec_mode_on: 'exact', best_spec_mode_off: 'exact' });
    expect(r[0].best_spec_vs_target_on).toBeCloseTo(1.5, 12);
    expect(r[1].best_spec_vs_target_on).toBeCloseTo(500 / 450, 12);
    expect(r[1].best_spec_vs_target_off).toBeCloseTo(1.5, 12);
    expect(r[1].p99_itl_vs_1_on.target).toBeCloseTo(1.5, 12);
    expect(r[1].p99_itl_vs_1_on.exact).toBeCloseTo(2.5, 12);
    expect(r[1].p99_itl_vs_1_on.judge).toBeCloseTo(1.5, 12);
    // on − off per mode at 8 streams: 80, 90, 75 MiB → the largest, 90.
    expect(r[1].rss_on_minus_off_bytes).toBe(90 * MIB);
    expect(r[0].rss_on_minus_off_bytes).toBe(55 * MIB);
  });

  it('says which goals are met and misses by how much', () => {
    const g = evaluateLoadGoals(rows, loadRatios(rows));
    expect(g.map((x) => x.name)).toEqual(['target 8 streams ≥ 4× 1 stream', 'best speculative ≥ 1.2× target at every concurrency', 'p99 ITL 8 streams ≤ 2× 1 stream', 'batching RSS cost']);
    expect(g[0]).toMatchObject({ met: true });
    expect(g[0].measured).toBeCloseTo(4.5, 12);
    expect(g[0].note).toMatch(/^met \(4\.5×/);
    // 500/450 = 1.111×, 1.2 / 1.111 = 1.08× short, at 8 streams only.
    expect(g[1]).toMatchObject({ met: false });
    expect(g[1].measured).toBeCloseTo(1.1111, 4);
    expect(g[1].note).toContain('missed at 8 streams');
    expect(g[1].note).toContain('1.08× short of 1.2×');
    // exact 50 ms vs 20 ms = 2.5×, 1.25× over.
    expect(g[2]).toMatchObject({ met: false, measured: 2.5 });
    expect(g[2].note).toContain('exact 2.5× is 1.25× over 2×');
    expect(g[3]).toMatchObject({ met: null, measured: 90 });
    expect(g[3].note).toContain('90 MiB at 8 streams');
  });

  it('leaves goals unjudged when their concurrency was not run', () => {
    const only1 = rows.filter((r) => r.streams === 1);
    const g = evaluateLoadGoals(only1, loadRatios(only1));
    expect(g[0]).toMatchObject({ met: null, measured: null });
    expect(g[2]).toMatchObject({ met: null, measured: null });
    expect(g[1]).toMatchObject({ met: true });
  });
});

describe('load: schema', () => {
  it('accepts a complete row and refuses missing or non-finite numbers', () => {
    const r = row('judge', 'on', 2, 10, 5, 100);
    expect(LoadRowSchema.parse(r)).toEqual(r);
    expect(LoadRowSchema.safeParse({ ...r, agg_tokens_per_s: Number.NaN }).success).toBe(false);
    const { ttft_ms: _, ...noTtft } = r;
    expect(LoadRowSchema.safeParse(noTtft).success).toBe(false);
    expect(LoadRowSchema.safeParse({ ...r, batching: 'maybe' }).success).toBe(false);
    expect(LoadRowSchema.safeParse({ ...r, streams: 0 }).success).toBe(false);
    expect(LoadRowSchema.parse({ ...r, p99_itl_ms: null, rss_bytes: null }).p99_itl_ms).toBeNull();
  });
});

describe('load: Prometheus metrics', () => {
  const before = parsePrometheus(['# HELP verdict_batch_size x', '# TYPE verdict_batch_size gauge', 'verdict_batch_size 2', 'verdict_batch_steps_total{mode="judge"} 10', 'verdict_requests_total{route="chat",status="200"} 4'].join('\n'));
  it('reads samples with their label sets, and keeps only the batch-related ones with their change', () => {
    expect(before.get('verdict_batch_steps_total{mode="judge"}')).toBe(10);
    expect(before.get('verdict_requests_total{route="chat",status="200"}')).toBe(4);
    const after = parsePrometheus('verdict_batch_size 3\nverdict_batch_steps_total{mode="judge"} 25\nverdict_spec_k_chosen{k="2"} 7 1700000000\nverdict_requests_total{route="chat",status="200"} 9\n');
    expect(batchMetrics(before, after)).toEqual({
      verdict_batch_size: { value: 3, delta: 1 },
      'verdict_batch_steps_total{mode="judge"}': { value: 25, delta: 15 },
      'verdict_spec_k_chosen{k="2"}': { value: 7, delta: 7 },
    });
    expect(batchMetrics(null, parsePrometheus('verdict_requests_total 1\n'))).toBeNull();
  });
});

describe('load: the streaming client', () => {
  let server: Server;
  let url = '';
  /** What the next response sends: SSE events, written one by one. */
  let script: string[] = [];
  beforeAll(async () => {
    server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        for (const e of script) res.write(`data: ${e}\n\n`);
        res.end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const step = (text: string, provenance: string[]) => JSON.stringify({ choices: [{ index: 0, delta: { content: text } }], usage: null, x_verdict: { mode: 'judge', provenance, step: 0 } });

  it('counts tokens per content chunk from x_verdict.provenance and reads the final usage', async () => {
    script = [
      JSON.stringify({ choices: [{ index: 0, delta: { role: 'assistant', content: '' } }], usage: null, x_verdict: { mode: 'judge' } }),
      step('a', ['target']),
      step('bcd', ['draft', 'judge', 'target']),
      JSON.stringify({ choices: [{ index: 0, delta: {}, finish_reason: 'length' }], usage: null }),
      JSON.stringify({ choices: [], usage: { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 } }),
      '[DONE]',
    ];
    const agent = loadAgent(1);
    try {
      const r = await timedRequest(agent, { url, model: 'm' }, 3, 'hi', { mode: 'judge', maxTokens: 4 });
      expect(r.stream).toBe(3);
      expect(r.chunks.map((c) => c.tokens)).toEqual([1, 3]);
      expect(r.usageTokens).toBe(4);
      expect(r.chunks[0].at).toBeGreaterThanOrEqual(r.sentAt);
      expect(r.chunks[1].at).toBeGreaterThanOrEqual(r.chunks[0].at);
      expect(r.endAt).toBeGreaterThanOrEqual(r.chunks[1].at);
    } finally {
      await agent.close();
    }
  });

  it('fails on an error event, a stream cut before [DONE], and a stream without usage', async () => {
    const agent = loadAgent(1);
    try {
      script = [step('a', ['target']), JSON.stringify({ error: { message: 'boom', type: 'server_error', param: null, code: null } })];
      await expect(timedRequest(agent, { url, model: 'm' }, 0, 'hi', { mode: 'target', maxTokens: 4 })).rejects.toThrow(/the stream failed: boom/);
      script = [step('a', ['target'])];
      await expect(timedRequest(agent, { url, model: 'm' }, 0, 'hi', { mode: 'target', maxTokens: 4 })).rejects.toThrow(/without data: \[DONE\]/);
      script = [step('a', ['target']), '[DONE]'];
      await expect(timedRequest(agent, { url, model: 'm' }, 0, 'hi', { mode: 'target', maxTokens: 4 })).rejects.toThrow(/no usage chunk/);
    } finally {
      await agent.close();
    }
  });
});
