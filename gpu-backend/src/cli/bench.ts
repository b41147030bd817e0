import { Command, InvalidArgumentError } from 'commander';
import { positiveInt } from './options.ts';
import { MultiBar, Presets } from 'cli-progress';
import { join, resolve } from 'node:path';
import { ensureBundle } from '../bench/bundle.ts';
import { compareServeMemory, formatMemoryTable, mb, MEMORY_CONFIGS } from '../bench/memory.ts';
import { REPO_ROOT, runBench, type BenchProgress } from '../bench/run.ts';
import { benchWorkloads, formatWorkloads, sharedPlePair } from '../bench/workloads.ts';
import type { PresetName } from '../synth/presets.ts';

const kList = (v: string): number[] => {
  const ks = v.split(',').map((s) => s.trim()).filter(Boolean).map(positiveInt);
  if (ks.length === 0) throw new InvalidArgumentError('expected a comma-separated list of K values, e.g. 2,4,8');
  return ks;
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

export function command(): Command {
  return new Command('bench')
    .description(
      'Benchmark every decoding mode (target, exact, judge, kl) over a K sweep, the memory-bandwidth roofline, ' +
        "the cost split of a speculative step and the gateway's added latency, in one interleaved run. " +
        'Writes report.md, summary.json and SVG plots to bench/results/<date>-<host>/.',
    )
    .option('--quick', 'reduced run (tiny bundle, 3 prompts, K 2,4, short gateway section): under a minute', false)
    .option('--json', 'print the summary JSON on stdout (and nothing else)', false)
    .option('--bundle <dir>', 'bundle to decode with (default models/bench, or models/tiny with --quick; built when missing)')
    .option('--out <dir>', 'output directory (default bench/results/<date>-<host>[-quick])')
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
    .option('--no-memory', "skip the memory section (verdict serve's RSS) of the full run")
    .option(
      '--workloads',
      'only the proposer workloads (chat, regenerate, edit, copy) × proposers (draft, ngram, prediction) × modes (exact, judge): tokens per target pass and tokens/s ' +
        'side by side, on the bundle and on the real TinyStories pair when ../shared has it; --k (first value), --prompts (default 4), --max-tokens (64)',
    )
    .option('--no-progress', 'no progress bar')
    .action(async (o: { workloads?: boolean; memory?: boolean; quick: boolean; json: boolean; bundle?: string; out?: string; k?: number[]; prompts?: number; maxTokens?: number; rounds?: number; threads?: number; gateway: boolean; progress: boolean }) => {
      if (o.workloads) return workloadsOnly(o);
      if (o.memory) return memoryOnly(o);
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
        progress: progressBar(o.progress),
        log: (line) => process.stderr.write(`${line}\n`),
        command: ['verdict', 'bench', ...process.argv.slice(3)].join(' '),
      });
      if (o.json) {
        process.stdout.write(`${JSON.stringify(summary)}\n`);
        return;
      }
      const t = summary.modes;
      const f = (x: number | null | undefined) => (x == null ? '—' : x.toFixed(1));
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

/** `verdict bench --memory`: the configurations of MEMORY_CONFIGS side by side, interleaved. */
async function memoryOnly(o: { json: boolean; quick: boolean; bundle?: string; prompts?: number; maxTokens?: number; rounds?: number; threads?: number }): Promise<void> {
  const plan = o.quick ? { preset: 'tiny', requests: 2, maxTokens: 24 } : { preset: 'bench', requests: 8, maxTokens: 64 };
  const bundleDir = resolve(o.bundle ?? join(REPO_ROOT, 'models', plan.preset));
  await ensureBundle(bundleDir, plan.preset as PresetName, (line) => process.stderr.write(`${line}\n`));
  const threads = ['--intra-op-threads', String(o.threads ?? 0)];
  const results = await compareServeMemory(
    MEMORY_CONFIGS.map((c) => ({ ...c, args: [...(c.args ?? []), ...threads] })),
    {
      bundleDir,
      rounds: o.rounds ?? 1,
      requests: o.prompts ?? plan.requests,
      maxTokens: o.maxTokens ?? plan.maxTokens,
      onResult: (r) => process.stderr.write(`memory: ${r.config}: steady ${mb(r.steady_rss_bytes)} MiB, peak ${mb(r.peak_rss_bytes)} MiB\n`),
    },
  );
  process.stdout.write(o.json ? `${JSON.stringify(results)}\n` : `${formatMemoryTable(results)}\n`);
}
