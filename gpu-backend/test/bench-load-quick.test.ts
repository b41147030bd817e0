import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LoadSummarySchema } from '../src/bench/schema.ts';
import { tinyJudgeBundle } from './server-helpers.ts';

const run = promisify(execFile);
const CLI = resolve(fileURLToPath(new URL('../bin/verdict.mjs', import.meta.url)));

/**
 * `verdict bench --load` end to end at its smallest: the real tiny bundle (with a judge head, so all
 * three modes run), two real `verdict serve` children (batching on and off), streams 1 and 2, two
 * measured requests per stream. No speed is asserted (shared CI machines); the rows must be complete
 * and agree with each other.
 */
describe('verdict bench --load --quick', () => {
  let bundle: Awaited<ReturnType<typeof tinyJudgeBundle>>;
  beforeAll(async () => {
    bundle = await tinyJudgeBundle();
  });
  afterAll(() => bundle?.cleanup());

  it('prints only the summary JSON, every mode × batching × streams row complete and consistent, and writes the report and plots', async () => {
    const out = join(bundle.dir, '..', 'out');
    const maxTokens = 16;
    const { stdout } = await run(
      process.execPath,
      [CLI, 'bench', '--load', '--quick', '--json', '--no-progress', '--bundle', bundle.dir, '--out', out, '--streams', '2,1', '--requests', '2', '--max-tokens', String(maxTokens)],
      { maxBuffer: 64 * 2 ** 20, timeout: 170_000 },
    );
    const lines = stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const s = LoadSummarySchema.parse(JSON.parse(lines[0]));
    expect(s.quick).toBe(true);
    expect(s.config).toMatchObject({ streams: [1, 2], modes: ['target', 'exact', 'judge'], max_tokens: maxTokens, requests_per_stream: 2, warmup_requests: 1, rounds: 1 });
    expect(s.servers.map((v) => v.batching)).toEqual(['on', 'off']);
    expect(s.servers[0].args).toEqual(expect.arrayContaining(['--batching', 'on', '--concurrency', '2']));
    for (const v of s.servers) expect(v.engine_batching).toHaveLength(1); // one worker, and it said whether it batches

    const keys = s.load.map((r) => `${r.mode}/${r.batching}/${r.streams}`).sort();
    expect(keys).toEqual(['exact/off/1', 'exact/off/2', 'exact/on/1', 'exact/on/2', 'judge/off/1', 'judge/off/2', 'judge/on/1', 'judge/on/2', 'target/off/1', 'target/off/2', 'target/on/1', 'target/on/2']);
    for (const r of s.load) {
      const what = `${r.mode}/${r.batching}/${r.streams}`;
      expect(r.requests, what).toBe(r.streams * 2);
      // The tokens the rates count (usage of each final chunk) are the tokens the content chunks carried.
      expect(r.chunk_tokens, what).toBe(r.tokens);
      expect(r.tokens, what).toBeGreaterThanOrEqual(r.requests);
      expect(r.tokens, what).toBeLessThanOrEqual(r.requests * maxTokens);
      expect(r.chunks, what).toBeLessThanOrEqual(r.tokens);
      if (r.mode === 'target') expect(r.chunks, what).toBe(r.tokens); // one token per step
      expect(r.agg_tokens_per_s, what).toBeCloseTo(r.tokens / r.window_s, 6);
      // One stream: its own time is the window. More: the window is the slowest stream's time, so the
      // aggregate is at most the sum of the streams' rates; with 2 streams of equal work it is at least
      // their mean unless one stream finished in under a third of the other's time (an unfair scheduler).
      if (r.streams === 1) expect(r.agg_tokens_per_s / r.per_stream_tokens_per_s, what).toBeCloseTo(1, 9);
      else {
        expect(r.agg_tokens_per_s, what).toBeLessThanOrEqual(r.streams * r.per_stream_tokens_per_s * (1 + 1e-9));
        expect(r.agg_tokens_per_s, what).toBeGreaterThanOrEqual(r.per_stream_tokens_per_s);
      }
      expect(r.ttft_ms, what).toBeGreaterThan(0);
      expect(r.ttft_p99_ms, what).toBeGreaterThanOrEqual(r.ttft_ms);
      expect(r.p50_itl_ms, what).not.toBeNull();
      expect(r.p99_itl_ms!, what).toBeGreaterThanOrEqual(r.p50_itl_ms!);
      expect(r.p99_itl_per_token_ms!, what).toBeLessThanOrEqual(r.p99_itl_ms!);
      // The window holds at least the first request's wait for its first token.
      expect(r.window_s * 1000, what).toBeGreaterThanOrEqual(r.ttft_ms);
      if (process.platform === 'linux') {
        expect(r.rss_bytes, what).toBeGreaterThan(0);
        expect(r.peak_rss_bytes!, what).toBeGreaterThanOrEqual(r.rss_bytes!);
      }
    }
    expect(s.ratios.map((r) => r.streams)).toEqual([1, 2]);
    expect(s.ratios[0].target_scaling_on).toBe(1);
    expect(s.goals.map((g) => g.name)).toEqual(['target 8 streams ≥ 4× 1 stream', 'best speculative ≥ 1.2× target at every concurrency', 'p99 ITL 8 streams ≤ 2× 1 stream', 'batching RSS cost']);
    // No 8-stream configuration in this run: those goals say so instead of passing or failing.
    expect(s.goals[0]).toMatchObject({ met: null, measured: null });
    expect(typeof s.goals[1].met).toBe('boolean');

    // The engine-level batch-cache section (tiny bundle, 1 round): every W × mode, the same tokens whatever W.
    expect(s.cache_policy_config).toMatchObject({ wastes: [0, 0.25, 0.5, 0.75], modes: ['exact', 'judge'], streams: 8, k: 4, max_tokens: 64, rounds: 1 });
    expect(s.cache_policy!.map((r) => `${r.mode}/${r.compact_waste}`)).toEqual(['exact/0', 'exact/0.25', 'exact/0.5', 'exact/0.75', 'judge/0', 'judge/0.25', 'judge/0.5', 'judge/0.75']);
    for (const r of s.cache_policy!) {
      const what = `${r.mode}/${r.compact_waste}`;
      const w0 = s.cache_policy!.find((b) => b.mode === r.mode && b.compact_waste === 0)!;
      expect(r.tokens, what).toBe(w0.tokens);
      expect(r.tokens_per_s_vs_w0!, what).toBeCloseTo(r.agg_tokens_per_s / w0.agg_tokens_per_s, 9);
      expect(r.agg_tokens_per_s, what).toBeCloseTo(r.tokens / r.wall_s, 6);
      expect(r.max_dead_bytes, what).toBeLessThanOrEqual(r.max_cache_bytes);
      expect(r.mean_cache_bytes, what).toBeGreaterThan(0);
      if (r.compact_waste === 0) expect(r.max_dead_bytes, what).toBe(0); // compacted after every step
    }

    const onDisk = LoadSummarySchema.parse(JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')));
    expect(onDisk).toEqual(s);
    const report = readFileSync(join(out, 'report.md'), 'utf8');
    for (const heading of ['## Machine', '## Load: concurrent streams through verdict serve', '### Goals (batching on)', '### Results', '### Ratios the goals use, side by side', '## Batch cache: masking vs compacting']) expect(report).toContain(heading);
    expect(report).toMatch(/\| 2 \| judge \| off \| [\d.]+ \|/);
    for (const svg of ['load-tokens-per-s.svg', 'load-p99-itl.svg']) expect(readFileSync(join(out, svg), 'utf8')).toMatch(/^<svg[\s\S]*<\/svg>\s*$/);
  }, 180_000);
});
