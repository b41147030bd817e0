import { Command, InvalidArgumentError } from 'commander';
import { positiveInt } from './options.ts';
import { MultiBar, Presets } from 'cli-progress';
import { runBench, type BenchProgress } from '../bench/run.ts';

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
    .option('--no-progress', 'no progress bar')
    .action(async (o: { quick: boolean; json: boolean; bundle?: string; out?: string; k?: number[]; prompts?: number; maxTokens?: number; rounds?: number; threads?: number; gateway: boolean; progress: boolean }) => {
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
