import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { BenchSummarySchema } from '../src/bench/schema.ts';

const run = promisify(execFile);
const CLI = resolve(fileURLToPath(new URL('../bin/verdict.mjs', import.meta.url)));

/**
 * The CI smoke test of `verdict bench --quick`: it runs end to end (tiny bundle built into a temp
 * dir, every mode, the roofline, the real backend and gateway) and its output is well formed.
 * No speed is asserted: CI machines are shared and slow.
 */
describe('verdict bench --quick', () => {
  const dir = mkdtempSync(join(tmpdir(), 'verdict-bench-quick-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('prints only the summary JSON on stdout, valid against the schema, and writes the report and plots', async () => {
    const out = join(dir, 'out');
    const { stdout } = await run(process.execPath, [CLI, 'bench', '--quick', '--json', '--no-progress', '--bundle', join(dir, 'tiny'), '--out', out], {
      maxBuffer: 64 * 2 ** 20,
      timeout: 170_000,
    });
    const lines = stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const summary = BenchSummarySchema.parse(JSON.parse(lines[0]));
    expect(summary.quick).toBe(true);
    for (const mode of ['target', 'exact', 'kl'] as const) {
      expect(summary.modes[mode].tokens_per_s).toBeGreaterThan(0);
      expect(summary.modes[mode].mean_accepted_per_step).toBeGreaterThanOrEqual(1);
    }
    // At temperature 0 every speculative step still yields at least the target's own token.
    for (const p of summary.sweep) expect(p.tokens).toBeGreaterThanOrEqual(p.steps);
    expect(summary.roofline.bandwidth_gbs).toBeGreaterThan(0);
    expect(summary.ratios.target_vs_roofline).toBeGreaterThan(0);
    expect(summary.goals.length).toBeGreaterThanOrEqual(5);
    // The gateway ran (or says exactly why not): either way the report must be honest about it.
    if (summary.gateway.not_measured) expect(summary.notes.join('\n')).toContain('Gateway not measured');
    else expect(summary.gateway.hit_p50_ms).toBeGreaterThan(0);

    // verdict serve's RSS, read from /proc while it served the workload as a child process.
    const mem = summary.memory!;
    expect(mem).toBeDefined();
    if (process.platform === 'linux') {
      expect(mem.not_measured).toBeUndefined();
      expect(mem.phases.map((p) => p.phase)).toEqual(['listening', 'ready', 'first_request', 'workload', 'steady']);
      expect(mem.weight_bytes).toBeGreaterThan(0);
      expect(mem.steady_rss_bytes).toBe(mem.phases.at(-1)!.rss_bytes);
      // VmHWM is the peak of VmRSS: never below any reading taken before it.
      for (const p of mem.phases) expect(mem.peak_rss_bytes).toBeGreaterThanOrEqual(p.rss_bytes);
      expect(mem.steady_vs_weights).toBeCloseTo(mem.steady_rss_bytes! / mem.weight_bytes!, 6);
      expect(Object.values(mem.tokens_per_s).length).toBeGreaterThan(0);
      for (const v of Object.values(mem.tokens_per_s)) expect(v).toBeGreaterThan(0);
      expect(summary.goals.some((g) => g.name === 'serve RSS ≤ 1.5× weights')).toBe(true);
    } else expect(mem.not_measured).toBeTruthy();

    const onDisk = BenchSummarySchema.parse(JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')));
    expect(onDisk).toEqual(summary);
    const report = readFileSync(join(out, 'report.md'), 'utf8');
    for (const heading of ['## Machine', '## Goals', '## Decoding modes', '## Memory-bandwidth roofline', '## Cost split of a step', '## Gateway', '## Memory of verdict serve']) expect(report).toContain(heading);
    for (const svg of ['tokens-per-s.svg', 'accepted-per-step.svg', ...(summary.gateway.not_measured ? [] : ['gateway-latency.svg'])]) {
      expect(readFileSync(join(out, svg), 'utf8')).toMatch(/^<svg[\s\S]*<\/svg>\s*$/);
    }
  }, 180_000);
});
