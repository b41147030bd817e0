import { Command } from 'commander';
import { rerenderFidelity, runFidelity } from '../fidelity/bench.ts';
import { positiveInt, progressBar } from './options.ts';

const collect = (v: string, acc: string[]) => [...acc, v];

/** `verdict fidelity`: every decoding rule's speed and quality on a real pair, scored by independent models. */
export function command(): Command {
  return new Command('fidelity')
    .description(
      'Measure tokens per target pass, tokens/s and quality (evaluator NLL with bootstrap 95% intervals, quality gap, distinct-2) of target, exact, ' +
        'judge and kl over threshold sweeps, the entropy rule and the draft alone, at K ∈ {4, 8}, T = 0.8 and greedy. Writes report.md, summary.json and SVG plots.',
    )
    .option('--bundle <dir>', 'model bundle (with a judge head for the judge configurations)')
    .option('--rerender <dir>', "re-derive a finished run's summary, report.md and plots from its summary.json (no decoding)")
    .option('--evaluator <dir>', 'an export directory or bundle that scores the text (repeatable; neither draft nor target)', collect, [])
    .option('--quick', 'small sizes for CI (under 3 minutes)', false)
    .option('--prompts <n>', 'evaluation openings (default 64; --quick 6)', positiveInt)
    .option('--seeds <n>', 'seeds per opening at T = 0.8 (default 2; --quick 1)', positiveInt)
    .option('--max-tokens <n>', 'tokens per generation (default 64; --quick 32)', positiveInt)
    .option('--threads <n>', 'ONNX Runtime intra-op threads per session', positiveInt, 1)
    .option('--out <dir>', 'results directory (default bench/results/<date>-<host>-fidelity)')
    .option('--json', 'print one JSON object {modes[], summary} on stdout', false)
    .action(async (o: { bundle?: string; rerender?: string; evaluator: string[]; quick: boolean; prompts?: number; seeds?: number; maxTokens?: number; threads: number; out?: string; json: boolean }) => {
      if (o.rerender) {
        await rerenderFidelity(o.rerender);
        process.stdout.write(`rewrote ${o.rerender}/report.md, summary.json and plots\n`);
        return;
      }
      if (!o.bundle) throw new Error('give --bundle DIR (and --evaluator DIR)');
      const bar = o.json ? undefined : progressBar('fidelity', 'generations');
      let started = false;
      const { result, outDir } = await runFidelity({
        bundle: o.bundle,
        evaluators: o.evaluator,
        quick: o.quick,
        prompts: o.prompts,
        seeds: o.seeds,
        maxTokens: o.maxTokens,
        outDir: o.out,
        threads: o.threads,
        onProgress: (done, total, what) => {
          if (!started) bar?.start(total, 0, { extra: '' });
          started = true;
          bar?.update(done, { extra: what });
        },
      }).finally(() => bar?.stop());
      if (o.json) {
        const { modes, summary } = result;
        process.stdout.write(`${JSON.stringify({ ...result, modes, summary })}\n`);
        return;
      }
      const s = result.summary;
      process.stdout.write(
        `wrote ${outDir}/report.md\n` +
          `judge @${s.shipped_threshold ?? '–'} (K=8, T=0.8): ${s.judge_vs_exact_tokens_per_pass?.toFixed(2) ?? '–'}× exact's tokens per pass, quality gap ${s.judge_quality_gap?.toFixed(3) ?? '–'}; ` +
          `exact-gap half-width ${s.exact_gap_half_width?.toFixed(3) ?? '–'}${s.too_few_tokens ? ' (too few tokens: wider than ±0.1)' : ''}\n`,
      );
    });
}
