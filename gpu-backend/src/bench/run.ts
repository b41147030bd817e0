import { mkdir, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Mode } from '@verdict/protocol';
import { parseConfig } from '../server/config.ts';
import { createEngine } from '../engine/engine.ts';
import type { PresetName } from '../synth/presets.ts';
import type { LoadedBundle } from '../bundle/types.ts';
import { ensureBundle } from './bundle.ts';
import { startGatewayStack } from './gateway-harness.ts';
import { measureGateway } from './gateway-load.ts';
import { evaluateGoals } from './goals.ts';
import { machineInfo } from './machine.ts';
import { installOrtTimer } from './ort-timer.ts';
import { acceptedHistogramSpec, gatewayLatencySpec, renderSvg, tokensPerSecondSpec } from './plots.ts';
import { BENCH_PROMPTS } from './prompts.ts';
import { PLOT_FILES, renderReport } from './report.ts';
import { openRoofline, rooflineResult, weightBytesPerStep, type RooflineResult } from './roofline.ts';
import { measureServeMemory, memorySection } from './memory.ts';
import { BENCH_FORMAT, BenchSummarySchema, type BenchSummary, type GatewayResult, type MemoryResult, type SweepPoint } from './schema.ts';
import { ratio } from './stats.ts';
import { runSweep, sweepGenerations } from './sweep.ts';

export const REPO_ROOT = resolve(fileURLToPath(new URL('../../..', import.meta.url)));

export interface BenchOptions {
  quick: boolean;
  /** Bundle to decode with; default models/bench (models/tiny with --quick), built when missing. */
  bundleDir?: string;
  /** Bundle the gateway section serves (a tiny one: the gateway's cost, not the model's, is measured). */
  gatewayBundleDir?: string;
  outDir?: string;
  ks?: number[];
  prompts?: number;
  maxTokens?: number;
  rounds?: number;
  gateway?: boolean;
  /** Measure `verdict serve`'s RSS on the decoding bundle (default true; Linux only). */
  memory?: boolean;
  /** onnxruntime intra-op threads for the engine and the roofline alike (default: every core). */
  threads?: number;
  progress?: BenchProgress;
  /** The command line, recorded in the report. */
  command?: string;
  /** Lines about slow one-off work (building a bundle, training a judge): stderr in the CLI. */
  log?: (line: string) => void;
}

/** What a progress bar needs: a phase with a known number of units, then ticks. */
export interface BenchProgress {
  phase(name: string, total: number): void;
  tick(n?: number): void;
  done(): void;
}

export interface BenchResult {
  summary: BenchSummary;
  outDir: string;
}

const PRESETS = { quick: { preset: 'tiny', ks: [2, 4], prompts: 3, maxTokens: 24, rounds: 1 }, full: { preset: 'bench', ks: [2, 4, 8, 16], prompts: 8, maxTokens: 64, rounds: 2 } } as const;

/** bench/results/<date>-<host>[-<kind>][-quick]: where a run writes unless --out says otherwise. */
export function defaultOutDir(startedAt: Date, host: string, quick: boolean, kind?: string): string {
  const day = startedAt.toISOString().slice(0, 10);
  return join(REPO_ROOT, 'bench', 'results', `${day}-${host.replace(/[^A-Za-z0-9._-]/g, '_')}${kind ? `-${kind}` : ''}${quick ? '-quick' : ''}`);
}

/** Runs every section, validates the summary, writes summary.json, report.md and the SVG plots. */
export async function runBench(opts: BenchOptions): Promise<BenchResult> {
  const started = new Date();
  const t0 = performance.now();
  const plan = opts.quick ? PRESETS.quick : PRESETS.full;
  const promptCount = opts.prompts ?? plan.prompts;
  if (promptCount > BENCH_PROMPTS.length) throw new Error(`--prompts ${promptCount}: the fixed prompt set has ${BENCH_PROMPTS.length} prompts`);
  const machine = machineInfo();
  const threads = opts.threads ?? machine.cores;
  const progress = opts.progress;
  const notes: string[] = [];

  const bundleDir = resolve(opts.bundleDir ?? join(REPO_ROOT, 'models', plan.preset));
  progress?.phase('bundle', 1);
  const { bundle, built, trainedJudge, stale } = await ensureBundle(bundleDir, plan.preset as PresetName, opts.log);
  if (stale) notes.push(`The bundle was built from an older version of the '${plan.preset}' preset: ${stale}. Delete ${bundleDir} to rebuild it.`);
  progress?.tick();
  if (built) notes.push(`The bundle was built by this run (synthetic preset '${plan.preset}').`);
  if (trainedJudge) notes.push('The judge head was trained by this run on the bundle’s own draft/target (as `verdict judge bundle` does).');

  const weights = weightBytesPerStep(bundle.targetPath);
  // The roofline chain is run between the sweep's prompts too, so bandwidth and decoding share the machine's drift.
  const chain = await openRoofline({ bytes: weights.perStepBytes, intraOpNumThreads: threads });
  const chainTimes: number[] = [];
  const runChain = async (n: number) => {
    for (let i = 0; i < n; i++) chainTimes.push(await chain.run());
  };

  const engine = await createEngine(bundle, { intraOpThreads: threads });
  const modes = (engine.modes as Mode[]).filter((m) => m !== 'entropy'); // lossy rules are compared with their quality in `verdict fidelity`
  if (!modes.includes('judge')) notes.push(`judge mode was not measured: the bundle ${bundleDir} has no judge head (judge.json).`);
  const serve = parseConfig({ bundle: bundleDir });
  const promptTexts = BENCH_PROMPTS.slice(0, promptCount);
  const sweepOpts = {
    engine,
    prompts: promptTexts.map((p) => bundle.encodePrompt(p)),
    maxTokens: opts.maxTokens ?? plan.maxTokens,
    ks: opts.ks ?? [...plan.ks],
    modes,
    rounds: opts.rounds ?? plan.rounds,
    klThreshold: serve.defaultKlThreshold,
    klConfidence: serve.defaultKlConfidence,
  };
  progress?.phase('modes', sweepGenerations(sweepOpts));
  const timer = installOrtTimer();
  let sweep: SweepPoint[];
  let roofline: RooflineResult;
  try {
    for (let i = 0; i < 3; i++) await chain.run(); // warm-up
    await runChain(5);
    sweep = await runSweep({ ...sweepOpts, timer, interleave: () => runChain(3), onGeneration: () => progress?.tick() });
    roofline = rooflineResult(chain, chainTimes);
  } finally {
    timer.uninstall();
    await engine.dispose();
    await chain.release();
  }

  let gateway: GatewayResult;
  if (opts.gateway === false) {
    gateway = nullGateway('skipped with --no-gateway');
  } else {
    const samples = opts.quick ? 20 : 200;
    // A tiny bundle: the gateway's cost is measured, not the model's (with --quick, the one already decoding).
    const gwDir = resolve(opts.gatewayBundleDir ?? (opts.quick ? bundleDir : join(REPO_ROOT, 'models', 'tiny')));
    progress?.phase('gateway', samples * 3);
    try {
      await ensureBundle(gwDir, 'tiny', opts.log);
      const stack = await startGatewayStack(gwDir);
      try {
        gateway = await measureGateway(stack, {
          samples,
          throughputSeconds: opts.quick ? 2 : 10,
          concurrency: 8,
          maxTokens: 8,
          onSample: () => progress?.tick(),
        });
      } finally {
        await stack.close();
      }
    } catch (err) {
      // The decoding numbers stand on their own; the report says plainly why this section is empty.
      gateway = nullGateway(`the gateway section failed: ${err instanceof Error ? err.message : String(err)}`);
      notes.push(`Gateway not measured: ${gateway.not_measured}`);
    }
  }
  let memory: MemoryResult;
  const memWorkload = opts.quick ? { requests: 2, maxTokens: 24 } : { requests: 8, maxTokens: opts.maxTokens ?? plan.maxTokens };
  if (opts.memory === false) memory = memorySection(null, memWorkload, 'skipped with --no-memory');
  else if (process.platform !== 'linux') memory = memorySection(null, memWorkload, `RSS is read from /proc, which ${process.platform} does not have`);
  else {
    progress?.phase('memory', 1);
    try {
      const r = await measureServeMemory({ bundleDir, config: { name: 'default', args: ['--intra-op-threads', String(threads)] }, requests: memWorkload.requests, maxTokens: memWorkload.maxTokens });
      memory = memorySection(r, memWorkload);
    } catch (err) {
      memory = memorySection(null, memWorkload, `the memory section failed: ${err instanceof Error ? err.message : String(err)}`);
      notes.push(`Memory not measured: ${memory.not_measured}`);
    }
    progress?.tick();
  }
  progress?.done();
  machine.load_avg_1m_end = Math.round(loadavg()[0] * 100) / 100;

  const bestOf = (mode: Mode) => {
    const points = sweep.filter((p) => p.mode === mode);
    if (points.length === 0) return null;
    const b = points.reduce((a, p) => (p.tokens_per_s > a.tokens_per_s ? p : a));
    return { k: b.k, tokens_per_s: b.tokens_per_s, mean_accepted_per_step: b.mean_accepted_per_step };
  };
  const required = (mode: Mode) => {
    const r = bestOf(mode);
    if (!r) throw new Error(`bench: mode ${mode} produced no measurements`);
    return r;
  };
  const lenient = sweep.filter((p) => p.mode === 'kl' && (p.acceptance_rate ?? 0) >= 0.99);
  if (lenient.length) {
    notes.push(
      `kl kept ≥ 99% of the draft tokens at K=${lenient.map((p) => p.k).join(', ')}: at kl_threshold ${sweepOpts.klThreshold} nats ` +
        '(the server default) the rule is lenient on this draft/target pair, so its speed here says nothing about its output quality.',
    );
  }
  const modesOut = { target: required('target'), exact: required('exact'), judge: bestOf('judge'), kl: required('kl') };
  const boundTps = roofline.bandwidthGBs * 1e9 / weights.perStepBytes;
  const partial = {
    format: BENCH_FORMAT,
    quick: opts.quick,
    started_at: started.toISOString(),
    duration_s: (performance.now() - t0) / 1000,
    machine,
    bundle: { name: bundle.manifest.name, dir: bundleDir, meta: bundle.manifest.meta, judge: judgeInfo(bundle.judge) },
    config: { prompts: sweepOpts.prompts.length, max_tokens: sweepOpts.maxTokens, ks: sweepOpts.ks, rounds: sweepOpts.rounds, threads, command: opts.command },
    modes: modesOut,
    sweep,
    roofline: {
      target_bytes_per_step: weights.perStepBytes,
      chain_bytes: roofline.bytes,
      chain_median_ms: roofline.medianMs,
      chain_runs: roofline.runs,
      bandwidth_gbs: roofline.bandwidthGBs,
      target_bound_tokens_per_s: boundTps,
    },
    ratios: {
      judge_vs_target: ratio(modesOut.judge?.tokens_per_s, modesOut.target.tokens_per_s),
      judge_vs_exact: ratio(modesOut.judge?.tokens_per_s, modesOut.exact.tokens_per_s),
      target_vs_roofline: ratio(modesOut.target.tokens_per_s, boundTps),
    },
    gateway,
    memory,
    notes,
  } as const;
  const summary = BenchSummarySchema.parse({ ...partial, goals: evaluateGoals(partial as unknown as BenchSummary) });

  const outDir = resolve(opts.outDir ?? defaultOutDir(started, machine.host, opts.quick));
  await mkdir(outDir, { recursive: true });
  await writeFile(join(outDir, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
  await writeFile(join(outDir, PLOT_FILES.tokensPerS), await renderSvg(tokensPerSecondSpec(sweep)));
  const bestSpec = sweep.filter((p) => p.k != null && (summary.modes as Record<string, { k: number | null } | null | undefined>)[p.mode]?.k === p.k);
  await writeFile(join(outDir, PLOT_FILES.acceptedHistogram), await renderSvg(acceptedHistogramSpec(bestSpec)));
  const gatewayPlot = !gateway.not_measured && gateway.samples_ms != null;
  if (gatewayPlot) await writeFile(join(outDir, PLOT_FILES.gatewayLatency), await renderSvg(gatewayLatencySpec(gateway)));
  await writeFile(join(outDir, 'report.md'), renderReport(summary, { gateway: gatewayPlot }));
  return { summary, outDir };
}

/** The judge head's threshold and held-out metrics, as its trainer recorded them (verdict judge). */
function judgeInfo(head: LoadedBundle['judge']): BenchSummary['bundle']['judge'] {
  if (!head) return null;
  const held = (head.training?.held_out ?? {}) as Record<string, unknown>;
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : null);
  return { threshold: head.threshold, held_out_roc_auc: num(held.rocAuc), held_out_precision: num(held.precision), held_out_recall: num(held.recall) };
}

function nullGateway(reason: string): GatewayResult {
  return { hit_p50_ms: null, hit_p99_ms: null, miss_overhead_p50_ms: null, stream_ttfb_overhead_p50_ms: null, not_measured: reason };
}
