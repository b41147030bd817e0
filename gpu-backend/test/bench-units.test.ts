import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import { describe, expect, it } from 'vitest';
import type { DecodeEvent, DecodeRequest, DecodeStats } from '../src/engine/types.ts';
import { evaluateGoals } from '../src/bench/goals.ts';
import { baselineConfig, lengthen } from '../src/bench/memory.ts';
import type { OrtTimer } from '../src/bench/ort-timer.ts';
import { matmulChainModel, measureRoofline, weightBytesPerStep } from '../src/bench/roofline.ts';
import type { BenchSummary } from '../src/bench/schema.ts';
import { percentile, ratio } from '../src/bench/stats.ts';
import { benchConfigs, runSweep, sweepGenerations, type Decoder } from '../src/bench/sweep.ts';

describe('bench statistics', () => {
  it('takes nearest-rank percentiles of unsorted samples', () => {
    const xs = [5, 1, 4, 2, 3];
    expect(percentile(xs, 50)).toBe(3);
    expect(percentile(xs, 99)).toBe(5);
    expect(percentile(xs, 0)).toBe(1);
    expect(percentile([], 50)).toBeNaN();
  });
  it('refuses ratios it cannot compute instead of returning 0', () => {
    expect(ratio(6, 3)).toBe(2);
    expect(ratio(null, 3)).toBeNull();
    expect(ratio(1, 0)).toBeNull();
  });
});

describe('roofline', () => {
  it('counts a MatMul chain as streamed whole and measures a positive bandwidth', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bench-roofline-'));
    const file = join(dir, 'chain.onnx');
    writeFileSync(file, matmulChainModel(3, 64));
    const w = weightBytesPerStep(file);
    expect(w.totalBytes).toBe(3 * 64 * 64 * 4);
    expect(w.perStepBytes).toBe(w.totalBytes);
    expect(w.gatheredTables).toEqual([]);
    // A second graph fragment (protobuf merges it into the first; ORT reads both) with an embedding table.
    const { onnx } = onnxProto;
    const fragment = onnx.ModelProto.encode(
      onnx.ModelProto.create({
        graph: {
          node: [{ opType: 'Gather', input: ['table', 'ids'], output: ['e'] }],
          initializer: [{ name: 'table', dims: [100, 64], dataType: onnx.TensorProto.DataType.FLOAT, rawData: new Uint8Array(100 * 64 * 4) }],
        },
      }),
    ).finish();
    const merged = join(dir, 'merged.onnx');
    writeFileSync(merged, Buffer.concat([matmulChainModel(3, 64), fragment]));
    const m = weightBytesPerStep(merged);
    expect(m.totalBytes).toBe(3 * 64 * 64 * 4 + 100 * 64 * 4);
    expect(m.perStepBytes).toBe(3 * 64 * 64 * 4 + 64 * 4);
    expect(m.gatheredTables).toEqual(['table']);
    const r = await measureRoofline({ bytes: 4 * 512 * 512 * 4, runs: 3, warmup: 1 });
    expect(r.layers).toBe(4);
    expect(r.bytes).toBe(4 * 512 * 512 * 4);
    expect(r.bandwidthGBs).toBeGreaterThan(0);
  });
});

/** A decoder whose every generation takes 10 ms of decode and accepts `accepted` drafts in each of 2 steps. */
function fakeDecoder(calls: string[]): Decoder {
  return {
    async *decode(req: DecodeRequest): AsyncGenerator<DecodeEvent> {
      calls.push(`${req.mode}:${req.k}:${req.promptIds[0]}`);
      expect(req.temperature).toBe(0);
      const accepted = req.mode === 'target' ? 0 : Math.min(req.k, 1);
      yield { type: 'prefill', promptTokens: req.promptIds.length, ms: 5 };
      for (let step = 0; step < 2; step++) {
        yield {
          type: 'step',
          step,
          tokens: new Array(accepted + 1).fill(7),
          provenance: new Array(accepted + 1).fill('target'),
          text: '',
          stats: { draftMs: 1, verifyMs: 2, judgeMs: 0, rollbackMs: 0, drafted: req.mode === 'target' ? 0 : req.k, accepted, judgeAccepted: 0 },
        };
      }
      const tokens = 2 * (accepted + 1);
      const stats: DecodeStats = {
        promptTokens: req.promptIds.length,
        completionTokens: tokens,
        steps: 2,
        drafted: req.mode === 'target' ? 0 : 2 * req.k,
        accepted: 2 * accepted,
        judgeAccepted: 0,
        meanAcceptedPerStep: tokens / 2,
        prefillMs: 5,
        draftMs: 2,
        verifyMs: 4,
        judgeMs: 0,
        rollbackMs: 0,
        totalMs: 15,
        tokensPerS: (tokens / 10) * 1000,
      };
      yield { type: 'done', finishReason: 'length', tokens: [], text: '', stats };
    },
  };
}

const noTimer: OrtTimer = { ms: 0, runs: 0, uninstall() {} };

describe('mode sweep', () => {
  it('interleaves every configuration per prompt, after one warm-up each, and aggregates what the engine reports', async () => {
    const calls: string[] = [];
    const opts = { prompts: [[1], [2]], maxTokens: 4, ks: [2, 4], modes: ['target', 'exact', 'kl'] as const, rounds: 1, klThreshold: 0.5, klConfidence: 0.9 };
    expect(benchConfigs([...opts.modes], opts.ks).map((c) => `${c.mode}:${c.k}`)).toEqual(['target:null', 'exact:2', 'kl:2', 'exact:4', 'kl:4']);
    let ticks = 0;
    const interleave = async () => void calls.push('roofline');
    const points = await runSweep({ ...opts, modes: [...opts.modes], engine: fakeDecoder(calls), timer: noTimer, interleave, onGeneration: () => ticks++ });
    expect(ticks).toBe(sweepGenerations({ ...opts, modes: [...opts.modes] }));
    // 5 warm-ups on prompt 1, then prompt 1 in order, then prompt 2 rotated by one: never all of one mode first.
    // The roofline chain runs after each prompt's pass, so it shares the configurations' drift.
    expect(calls.slice(5)).toEqual(['target:1:1', 'exact:2:1', 'kl:2:1', 'exact:4:1', 'kl:4:1', 'roofline', 'exact:2:2', 'kl:2:2', 'exact:4:2', 'kl:4:2', 'target:1:2', 'roofline']);
    const exact2 = points.find((p) => p.mode === 'exact' && p.k === 2)!;
    expect(exact2.tokens).toBe(8);
    expect(exact2.steps).toBe(4);
    expect(exact2.tokens_per_s).toBeCloseTo((8 / 20) * 1000);
    expect(exact2.mean_accepted_per_step).toBe(2);
    expect(exact2.acceptance_rate).toBeCloseTo(4 / 8);
    expect(exact2.accepted_histogram).toEqual([0, 4, 0]);
    expect(exact2.step_ms.draft).toBeCloseTo(1);
    expect(exact2.step_ms.verify).toBeCloseTo(2);
    const target = points.find((p) => p.mode === 'target')!;
    expect(target.k).toBeNull();
    expect(target.acceptance_rate).toBeNull();
    expect(target.mean_accepted_per_step).toBe(1);
  });
});

describe('goals', () => {
  it('says by how much a goal is missed and what the step split shows', () => {
    const point = (mode: 'target' | 'exact' | 'judge', k: number | null, tps: number, tokensPerStep: number) => ({
      mode,
      k,
      tokens_per_s: tps,
      mean_accepted_per_step: tokensPerStep,
      acceptance_rate: null,
      judge_share: null,
      tokens: 10,
      steps: 5,
      decode_ms: 100,
      step_ms: { total: 10, draft: 3, verify: 6, judge: 0.5, rollback: 0.1, ort: 9, js_overhead: 1 },
      accepted_histogram: [],
    });
    const s = {
      modes: { target: { k: null, tokens_per_s: 100, mean_accepted_per_step: 1 }, exact: { k: 4, tokens_per_s: 150, mean_accepted_per_step: 2 }, judge: { k: 4, tokens_per_s: 200, mean_accepted_per_step: 3 }, kl: { k: 4, tokens_per_s: 150, mean_accepted_per_step: 2 } },
      sweep: [point('target', null, 100, 1), point('exact', 4, 150, 2), point('judge', 4, 200, 3)],
      roofline: { target_bytes_per_step: 1000, chain_bytes: 1000, chain_median_ms: 1, bandwidth_gbs: 1, target_bound_tokens_per_s: 110 },
      ratios: { judge_vs_target: 2, judge_vs_exact: 200 / 150, target_vs_roofline: 100 / 110 },
      gateway: { hit_p50_ms: 0.5, hit_p99_ms: 2, miss_overhead_p50_ms: 1, stream_ttfb_overhead_p50_ms: 3 },
    } as unknown as Omit<BenchSummary, 'goals'>;
    const goals = evaluateGoals(s);
    const byName = Object.fromEntries(goals.map((g) => [g.name, g]));
    expect(byName['judge ≥ 3× target'].met).toBe(false);
    expect(byName['judge ≥ 3× target'].note).toMatch(/1\.5× short of 3×.*draft 3, verify 6, judge 0\.5/);
    expect(byName['target ≥ 80% of roofline'].met).toBe(true);
    expect(byName['gateway hit p50 ≤ 1 ms'].met).toBe(true);
    expect(byName['gateway stream TTFB ≤ +2 ms'].note).toMatch(/missed by 1 ms/);
    expect(byName['judge ≥ 3× target'].caveat).toBeUndefined();

    // A head that keeps every draft meets the speed goals by accepting everything: the goal says so.
    const judgeAll = { ...s.sweep[2], acceptance_rate: 1 };
    const allGoals = evaluateGoals({ ...s, sweep: [s.sweep[0], s.sweep[1], judgeAll], ratios: { ...s.ratios, judge_vs_target: 4 } });
    const all = allGoals.find((g) => g.name === 'judge ≥ 3× target')!;
    expect(all.met).toBe(true);
    expect(all.caveat).toMatch(/accepts essentially everything/);
  });
});

describe('memory baseline (--baseline)', () => {
  const root = new URL('../..', import.meta.url).pathname;

  it("runs the checkout's own serve entry, named by its commit", () => {
    const rev = execFileSync('git', ['-C', root, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    const c = baselineConfig(root);
    expect(c.bin).toBe(join(root, 'gpu-backend', 'src', 'server', 'bin.mjs'));
    expect(c.name).toBe(`baseline ${rev}: its defaults`);
    expect(c.args).toBeUndefined();
  });

  it('refuses a directory that is not a checkout, or one without node_modules, saying what to do', () => {
    const dir = mkdtempSync(join(tmpdir(), 'verdict-baseline-'));
    expect(() => baselineConfig(dir)).toThrow(/no gpu-backend\/src\/server\/bin\.mjs there; give the root of a Verdict checkout/);
    mkdirSync(join(dir, 'gpu-backend', 'src', 'server'), { recursive: true });
    writeFileSync(join(dir, 'gpu-backend', 'src', 'server', 'bin.mjs'), '');
    expect(() => baselineConfig(dir)).toThrow(/has no node_modules; run npm ci there first/);
  });
});

describe('memory workload prompts (--prompt-chars)', () => {
  it('repeats a prompt, space-separated, to exactly the length asked; leaves it alone without one', () => {
    expect(lengthen('ab cd', 12)).toBe('ab cd ab cd ');
    expect(lengthen('ab cd', 3)).toBe('ab ');
    expect(lengthen('ab cd')).toBe('ab cd');
  });
});
