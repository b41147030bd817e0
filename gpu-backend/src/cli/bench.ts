import { Command, InvalidArgumentError } from 'commander';
import { nonNegativeInt, positiveInt } from './options.ts';
import { MODES, type Mode } from '@verdict/protocol';
import { MultiBar, Presets } from 'cli-progress';
import { join, resolve } from 'node:path';
import { ensureBundle } from '../bench/bundle.ts';
import { baselineConfig, compareServeMemory, formatMemoryTable, mb, MEMORY_CONFIGS } from '../bench/memory.ts';
import { LOAD_PLANS, runCachePolicyBench, runLoadBench } from '../bench/load-run.ts';
import { runCacheDraftBench } from '../bench/gateway-draft-run.ts';
import { renderCachePolicyAlone } from '../bench/load-report.ts';
import { REPO_ROOT, runBench, type BenchProgress } from '../bench/run.ts';
import { benchWorkloads, formatWorkloads, sharedPlePair } from '../bench/workloads.ts';
import type { PresetName } from '../synth/presets.ts';

const kList = (v: string): number[] => {
  const ks = v.split(',').map((s) => s.trim()).filter(Boolean).map(positiveInt);
  if (ks.length === 0) throw new InvalidArgumentError('expected a comma-separated list of K values, e.g. 2,4,8');
  return ks;
};

const streamList = (v: string): number[] => {
  const xs = v.split(',').map((s) => s.trim()).filter(Boolean).map(positiveInt);
  if (xs.length === 0) throw new InvalidArgumentError('expected a comma-separated list of stream counts, e.g. 1,2,4');
  return xs;
};

const modeList = (v: string): Mode[] => {
  const ms = v.split(',').map((s) => s.trim()).filter(Boolean);
  const bad = ms.filter((m) => !(MODES as readonly string[]).includes(m));
  if (ms.length === 0 || bad.length) throw new InvalidArgumentError(`expected a comma-separated list of modes from ${MODES.join(', ')}${bad.length ? `; unknown: ${bad.join(', ')}` : ''}`);
  return ms as Mode[];
};

/** A cli-progress bar on stderr (stdout stays clean for --json); one line per phase. */
function progressBar(enabled: boolean): BenchProgress | undefined {
  if (!enabled) return undefined;
  const bars = new MultiBar({ format: '{phase} {bar} {value}/{total}  {duration_formatted}', stream: process.stderr, hideCursor: true, clearOnComplete: false, noTTYOutput: true, notTTYSchedule: 5000 }, Presets.shades_classic);
  let bar: ReturnType<MultiBar['create']> | undefined;
  return {
    phase(name, total) {
      bar?.update(bar.getTotal());
      bar = bars.create(total, 0, { phase: name.padEnd(8) });
    },
    tick(n = 1) {
      bar?.increment(n);
    },
    done() {
      bar?.update(bar.getTotal());
      bars.stop();
    },
  };
}

interface BenchCliOptions {
  /** With --memory: another checkout's verdict serve as one more configuration. */
  baseline?: string;
  /** With --memory: workload prompts repeated to this many characters. */
  promptChars?: number;
  workloads?: boolean;
  cacheDraft?: boolean;
  memory?: boolean;
  load?: boolean;
  /** --cache-policy: true (only that section); --no-cache-policy: false (skip it in --load). */
  cachePolicy?: boolean;
  quick: boolean;
  json: boolean;
  bundle?: string;
  out?: string;
  k?: number[];
  prompts?: number;
  maxTokens?: number;
  rounds?: number;
  threads?: number;
  streams?: number[];
  modes?: Mode[];
  requests?: number;
  warmup?: number;
  gateway: boolean;
  progress: boolean;
}

export function command(): Command {
  return new Command('bench')
    .description(
      'Benchmark every decoding mode (target, exact, judge, kl) over a K sweep, the memory-bandwidth roofline, ' +
        "the cost split of a speculative step and the gateway's added latency, in one interleaved run. " +
        'Writes report.md, summary.json and SVG plots to bench/results/<date>-<host>/. ' +
        "--memory and --load measure only verdict serve's memory, or its throughput and latency under concurrent streams (batching on against off).",
    )
    .option('--quick', 'reduced run (tiny bundle, 3 prompts, K 2,4, short gateway section): under a minute', false)
    .option('--json', 'print the summary JSON on stdout (and nothing else)', false)
    .option('--bundle <dir>', 'bundle to decode with (default models/bench, or models/tiny with --quick; built when missing)')
    .option('--out <dir>', 'output directory (default bench/results/<date>-<host>[-load][-quick])')
    .option('--k <list>', 'K values to sweep, e.g. 2,4,8,16', kList)
    .option('--prompts <n>', 'prompts from the fixed set (at most 8)', positiveInt)
    .option('--max-tokens <n>', 'new tokens per generation', positiveInt)
    .option('--rounds <n>', 'passes over the prompt set', positiveInt)
    .option('--threads <n>', 'onnxruntime intra-op threads (default: every core)', positiveInt)
    .option('--no-gateway', 'skip the gateway section')
    .option(
      '--memory',
      "only measure verdict serve's memory: start it as a child process on the bundle with its defaults, then with each memory setting turned back " +
        '(--precompile off; --malloc system), all running at once; send --prompts (default 8) requests per mode (target, judge) of --max-tokens (64) tokens ' +
        'to each in turn, read VmRSS/VmHWM from /proc at each phase, and print the table (RSS steady/peak, × weights, tokens/s ratios); --rounds repeats it',
    )
    .option(
      '--baseline <checkout>',
      'with --memory: also run the verdict serve of another checkout (the root of a git worktree of an earlier commit, with node_modules) with its defaults, ' +
        'interleaved with the others: a before/after of a code change in one run',
    )
    .option('--prompt-chars <n>', "with --memory: repeat each workload prompt to n characters (long prompts show what a prefill leaves behind in onnxruntime's arena)", positiveInt)
    .option('--no-memory', "skip the memory section (verdict serve's RSS) of the full run")
    .option(
      '--workloads',
      'only the proposer workloads (chat, regenerate, edit, copy) × proposers (draft, ngram, prediction) × modes (exact, judge): tokens per target pass and tokens/s ' +
        'side by side, on the bundle and on the real TinyStories pair when ../shared has it; --k (first value), --prompts (default 4), --max-tokens (64)',
    )
    .option(
      '--load',
      'only measure serving under concurrent load, through the real HTTP server: start two verdict serve children on the bundle (--batching on and off), ' +
        'then for every mode (target, exact, judge) × batching × streams (1,2,4,8,16,32) run that many closed-loop streaming chat requests at once ' +
        `(temperature 0, --max-tokens, default ${LOAD_PLANS.full.maxTokens}), one configuration at a time in an interleaved order, ${LOAD_PLANS.full.warmup} warm-up + --requests (${LOAD_PLANS.full.requests}) measured requests per stream, ` +
        `--rounds (${LOAD_PLANS.full.rounds}) times; report aggregate and per-stream tokens/s, TTFT, p50/p99 inter-token latency, RSS and the goals ` +
        '(target 8 streams ≥ 4× 1 stream, best speculative ≥ 1.2× target, p99 ITL 8 ≤ 2× 1); then the batch-cache comparison of --cache-policy (--no-cache-policy skips it). Writes bench/results/<date>-<host>-load/. ' +
        `With --quick: tiny bundle, streams 1,2,4, ${LOAD_PLANS.quick.requests} requests of ${LOAD_PLANS.quick.maxTokens} tokens per stream`,
    )
    .option(
      '--cache-policy',
      'only the batch-cache comparison (also the last section of --load): one engine per --batch-compact-waste W in 0, 0.25, 0.5, 0.75 on the bundle, ' +
        '8 concurrent greedy decodes (K 4, 64 tokens) of exact and judge on each, round-robin over W, 2 rounds (1 with --quick); tokens/s, time compacting, ' +
        'dead and total batch-cache bytes, tokens/s ÷ W=0; fails unless every W gives the same tokens',
    )
    .option('--no-cache-policy', 'with --load: skip the batch-cache comparison')
    .option(
      '--cache-draft',
      "only the gateway's cache-as-draft measurement: one verdict serve on the bundle behind two gateways (CACHE_AS_DRAFT on and off); each of --prompts (default all 8) bench prompts " +
        'is answered once at T = 0, then regenerated --requests times (default 4) per gateway at T = 0.7 in judge mode (K = --k, default 8; --max-tokens, default 64), interleaved; ' +
        'prints tokens/s per arm, their ratio (goal ≥ 2×) and tokens per target pass, and checks every X-Cache; --quick: tiny bundle, 2 prompts, 1 regeneration',
    )
    .option('--streams <list>', 'with --load: concurrent stream counts, e.g. 1,2,4', streamList)
    .option('--modes <list>', `with --load: modes to measure, from ${MODES.join(', ')} (default target,exact,judge)`, modeList)
    .option('--requests <n>', 'with --load: measured requests per stream per round', positiveInt)
    .option('--warmup <n>', 'with --load: warm-up requests per stream per round (not counted)', nonNegativeInt)
    .option('--no-progress', 'no progress bar')
    .action(async (o: BenchCliOptions) => {
      if (o.workloads) return workloadsOnly(o);
      if (o.cacheDraft) return cacheDraftOnly(o);
      if ((o.baseline || o.promptChars) && !o.memory) throw new Error(`${o.baseline ? '--baseline' : '--prompt-chars'} goes with --memory (it changes the memory comparison)`);
      if (o.memory) return memoryOnly(o);
      if (o.cachePolicy === true && !o.load) return cachePolicyOnly(o);
      if (o.load) return loadOnly(o);
      const { summary, outDir } = await runBench({
        quick: o.quick,
        bundleDir: o.bundle,
        outDir: o.out,
        ks: o.k,
        prompts: o.prompts,
        maxTokens: o.maxTokens,
        rounds: o.rounds,
        threads: o.threads,
        gateway: o.gateway,
        memory: o.memory !== false,
        ...runIo(o),
      });
      if (o.json) return printJson(summary);
      const t = summary.modes;
      process.stdout.write(
        `tokens/s: target ${f(t.target.tokens_per_s)}, exact ${f(t.exact.tokens_per_s)} (K=${t.exact.k}), judge ${f(t.judge?.tokens_per_s)} (K=${t.judge?.k ?? '—'}), kl ${f(t.kl.tokens_per_s)} (K=${t.kl.k})\n` +
          `roofline ${summary.roofline.bandwidth_gbs.toFixed(1)} GB/s; target at ${f((summary.ratios.target_vs_roofline ?? Number.NaN) * 100)}% of it\n` +
          `gateway: ${summary.gateway.not_measured ? `not measured (${summary.gateway.not_measured})` : `hit p50 ${f(summary.gateway.hit_p50_ms)} ms, miss +${f(summary.gateway.miss_overhead_p50_ms)} ms, stream first byte +${f(summary.gateway.stream_ttfb_overhead_p50_ms)} ms`}\n` +
          `report: ${outDir}/report.md\n`,
      );
    });
}

/** `verdict bench --workloads`: the proposer workloads on the bench bundle (tiny with --quick) and the real pair. */
async function workloadsOnly(o: { json: boolean; quick: boolean; bundle?: string; k?: number[]; prompts?: number; maxTokens?: number; threads?: number }): Promise<void> {
  const plan = o.quick ? { preset: 'tiny', prompts: 2, maxTokens: 24 } : { preset: 'bench', prompts: 4, maxTokens: 64 };
  const bundleDir = resolve(o.bundle ?? join(REPO_ROOT, 'models', plan.preset));
  const log = (line: string) => process.stderr.write(`${line}\n`);
  await ensureBundle(bundleDir, plan.preset as PresetName, log);
  const opts = { k: o.k?.[0] ?? 4, maxTokens: o.maxTokens ?? plan.maxTokens, prompts: o.prompts ?? plan.prompts, threads: o.threads ?? 0, log };
  const result = await benchWorkloads([bundleDir], opts, sharedPlePair(REPO_ROOT));
  process.stdout.write(o.json ? `${JSON.stringify(result)}\n` : `${formatWorkloads(result)}\n`);
}

/** What a full or load run takes from the command line besides its own options. */
function runIo(o: { progress: boolean }) {
  return { progress: progressBar(o.progress), log: (line: string) => process.stderr.write(`${line}\n`), command: ['verdict', 'bench', ...process.argv.slice(3)].join(' ') };
}

const printJson = (summary: unknown): void => void process.stdout.write(`${JSON.stringify(summary)}\n`);

/** A number to one decimal, or — when there is none. */
const f = (x: number | null | undefined) => (x == null ? '—' : x.toFixed(1));

/** `verdict bench --cache-draft`: regenerations through the gateway with and without the held answer as the draft. */
async function cacheDraftOnly(o: BenchCliOptions): Promise<void> {
  const preset: PresetName = o.quick ? 'tiny' : 'bench';
  const bundleDir = resolve(o.bundle ?? join(REPO_ROOT, 'models', preset));
  await ensureBundle(bundleDir, preset, (line) => process.stderr.write(`${line}\n`));
  const bar = progressBar(o.progress && !o.json);
  let started = false;
  const r = await runCacheDraftBench({
    bundleDir,
    prompts: o.prompts ?? (o.quick ? 2 : undefined),
    regenerations: o.requests ?? (o.quick ? 1 : undefined),
    maxTokens: o.maxTokens,
    k: o.k?.[0],
    onSample: (done, total) => {
      if (!started) bar?.phase('requests', total);
      started = true;
      bar?.tick();
    },
  });
  bar?.done();
  process.stdout.write(o.json ? `${JSON.stringify({ model: r.model, bundle: bundleDir, options: r.options, summary: r.summary })}\n` : `${r.text}\n`);
}

/** `verdict bench --memory`: the configurations of MEMORY_CONFIGS side by side, interleaved. */
async function memoryOnly(o: { json: boolean; quick: boolean; bundle?: string; prompts?: number; maxTokens?: number; rounds?: number; threads?: number; baseline?: string; promptChars?: number }): Promise<void> {
  const configs = [...MEMORY_CONFIGS, ...(o.baseline ? [baselineConfig(o.baseline)] : [])];
  const plan = o.quick ? { preset: 'tiny', requests: 2, maxTokens: 24 } : { preset: 'bench', requests: 8, maxTokens: 64 };
  const bundleDir = resolve(o.bundle ?? join(REPO_ROOT, 'models', plan.preset));
  await ensureBundle(bundleDir, plan.preset as PresetName, (line) => process.stderr.write(`${line}\n`));
  const threads = ['--intra-op-threads', String(o.threads ?? 0)];
  const results = await compareServeMemory(
    configs.map((c) => ({ ...c, args: [...(c.args ?? []), ...threads] })),
    {
      bundleDir,
      rounds: o.rounds ?? 1,
      requests: o.prompts ?? plan.requests,
      maxTokens: o.maxTokens ?? plan.maxTokens,
      promptChars: o.promptChars,
      onResult: (r) => process.stderr.write(`memory: ${r.config}: steady ${mb(r.steady_rss_bytes)} MiB, peak ${mb(r.peak_rss_bytes)} MiB\n`),
    },
  );
  process.stdout.write(o.json ? `${JSON.stringify(results)}\n` : `${formatMemoryTable(results)}\n`);
}

/** `verdict bench --load`: modes × batching on/off × concurrent streams through two verdict serve children. */
async function loadOnly(o: BenchCliOptions): Promise<void> {
  if (o.k && o.k.length !== 1) throw new Error('--load takes one K (--k 4), sent with every request; leave it out for the server default');
  const { summary, outDir } = await runLoadBench({
    quick: o.quick,
    bundleDir: o.bundle,
    outDir: o.out,
    streams: o.streams,
    modes: o.modes,
    maxTokens: o.maxTokens,
    requests: o.requests,
    warmup: o.warmup,
    rounds: o.rounds,
    threads: o.threads,
    k: o.k?.[0],
    cachePolicy: o.cachePolicy !== false,
    ...runIo(o),
  });
  if (o.json) return printJson(summary);
  const lines = summary.load.map((r) => `${String(r.streams).padStart(3)} streams  ${r.mode.padEnd(7)} batching ${r.batching.padEnd(3)}  ${f(r.agg_tokens_per_s)} tok/s (${f(r.per_stream_tokens_per_s)}/stream)  TTFT ${f(r.ttft_ms)} ms  ITL p50 ${f(r.p50_itl_ms)} p99 ${f(r.p99_itl_ms)} ms`);
  const goals = summary.goals.map((g) => `${g.name}: ${g.note}`);
  const cache = (summary.cache_policy ?? []).map((r) => `cache policy W=${r.compact_waste} ${r.mode.padEnd(5)}  ${f(r.agg_tokens_per_s)} tok/s (${r.tokens_per_s_vs_w0 == null ? '—' : r.tokens_per_s_vs_w0.toFixed(3)}× W=0)  compacting ${f(r.compact_ms_share * 100)}%  dead mean ${f(r.mean_dead_bytes / 2 ** 20)} max ${f(r.max_dead_bytes / 2 ** 20)} MiB`);
  process.stdout.write(`${[...lines, '', ...goals, ...(cache.length ? ['', ...cache] : []), '', `report: ${outDir}/report.md`].join('\n')}\n`);
}

/** `verdict bench --cache-policy`: masking vs compacting in the batch KV cache, engine level. */
async function cachePolicyOnly(o: BenchCliOptions): Promise<void> {
  const summary = await runCachePolicyBench({ quick: o.quick, bundleDir: o.bundle, threads: o.threads, rounds: o.rounds, log: (line) => process.stderr.write(`${line}\n`) });
  process.stdout.write(o.json ? `${JSON.stringify(summary)}\n` : `${renderCachePolicyAlone(summary)}\n`);
}
