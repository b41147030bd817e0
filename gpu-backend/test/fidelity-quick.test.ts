/**
 * `verdict fidelity --quick --json` end to end on the real TinyStories pair: import, a CI-sized judge
 * head from `verdict judge bundle` (real-pair defaults), then the benchmark. Checks the JSON's shape
 * and sanity, never speed.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HAVE_PLE, PLE } from './shared-models.ts';

const run = promisify(execFile);
const VERDICT = fileURLToPath(new URL('../bin/verdict.mjs', import.meta.url));

interface Iv {
  mean: number;
  lo: number;
  hi: number;
}
interface Mode {
  mode: string;
  k: number | null;
  threshold: number | null;
  temperature: number;
  tokens_per_pass: number;
  tokens_per_s: number;
  nll: Record<string, Iv>;
  gap: Record<string, Iv>;
  distinct2: number;
}

describe.skipIf(!HAVE_PLE)('verdict fidelity --quick --json (real pair)', () => {
  let root: string;
  let out: { modes: Mode[]; summary: Record<string, unknown>; evaluators: string[] };

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'verdict-fidelity-'));
    const bundle = join(root, 'ple');
    await run(process.execPath, [VERDICT, 'import', '--target', PLE.c3M, '--draft', PLE.c1M, '--out', bundle]);
    const { stdout: trained } = await run(process.execPath, [VERDICT, 'judge', 'bundle', bundle, '--prompts', '6', '--max-tokens', '24'], { timeout: 240_000 });
    expect(trained).toMatch(/selfjudge/);
    const head = JSON.parse(await readFile(join(bundle, 'judge.json'), 'utf8'));
    expect(head.training.rule).toMatch(/^selfjudge:/);
    const { stdout } = await run(process.execPath, [VERDICT, 'fidelity', '--bundle', bundle, '--evaluator', PLE.c2M, '--evaluator', PLE.L8, '--quick', '--json', '--out', join(root, 'results')], {
      timeout: 300_000,
      maxBuffer: 1 << 26,
    });
    out = JSON.parse(stdout);
  }, 600_000);
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('has every configuration with its fields, and a summary at K = 8, T = 0.8', () => {
    const modes = new Set(out.modes.map((m) => m.mode));
    for (const m of ['target', 'exact', 'judge', 'kl', 'entropy', 'draft']) expect(modes).toContain(m);
    expect(new Set(out.modes.map((m) => m.temperature))).toEqual(new Set([0.8, 0]));
    expect(new Set(out.modes.filter((m) => m.k != null).map((m) => m.k))).toEqual(new Set([4, 8]));
    expect(out.evaluators).toEqual(['ple-c2M-s0', 'ple-L8-s0']);
    for (const m of out.modes) {
      expect(Object.keys(m.nll)).toEqual(out.evaluators);
      expect(m.distinct2).toBeGreaterThan(0);
      expect(m.tokens_per_s).toBeGreaterThan(0);
    }
    expect(out.summary).toHaveProperty('judge_vs_exact_tokens_per_pass');
    expect(out.summary).toHaveProperty('judge_quality_gap');
    expect(typeof out.summary.judge_vs_exact_tokens_per_pass).toBe('number');
  });

  it('is sane: target 1 token/pass, exact more; intervals contain their means; target gap 0, draft gap 1', () => {
    for (const m of out.modes) {
      if (m.mode === 'target' || m.mode === 'draft') expect(m.tokens_per_pass).toBe(1);
      if (m.mode === 'exact') expect(m.tokens_per_pass).toBeGreaterThan(1);
      for (const iv of [...Object.values(m.nll), ...Object.values(m.gap)]) {
        expect(iv.lo).toBeLessThanOrEqual(iv.mean + 1e-12);
        expect(iv.hi).toBeGreaterThanOrEqual(iv.mean - 1e-12);
      }
      for (const e of out.evaluators) {
        if (m.mode === 'target') expect(m.gap[e]).toEqual({ mean: 0, lo: 0, hi: 0 });
        if (m.mode === 'draft') expect(m.gap[e].mean).toBeCloseTo(1, 12);
      }
    }
  });
});
