import { Command, Option } from 'commander';
import { loadBundle } from '../bundle/load.ts';
import { trainBundleJudge, writeBundleHead } from '../judge/bundle-judge.ts';
import { writeFileAtomic } from '../judge/files.ts';
import { foldBundleJudge } from '../judge/fold.ts';
import type { ThresholdGoal } from '../judge/metrics.ts';
import { prCurveSvg } from '../judge/plot.ts';
import { trainFromStore } from '../judge/train.ts';
import { fmt, nonNegative, nonNegativeInt, positiveInt, unitInterval } from './options.ts';

function goalOf(o: { precision?: number; recall?: number }): ThresholdGoal {
  if (o.precision !== undefined && o.recall !== undefined) throw new Error('give --precision or --recall, not both');
  if (o.precision !== undefined) return { precision: o.precision };
  if (o.recall !== undefined) return { recall: o.recall };
  return 'f1';
}

export function trainCommand(): Command {
  return new Command('train')
    .description('Train a linear judge head (logistic regression, class-weighted, L2, early stopping on a held-out split) on an embedding store.')
    .requiredOption('--emb <dir>', 'embedding store written by `judge collect`')
    .option('--out <file>', 'judge.json to write (the precision-recall plot goes next to it as <name>-pr.svg)')
    .option('--bundle <dir>', 'also install the head into this bundle (judge.json + bundle.json entry)')
    .addOption(new Option('--precision <p>', 'choose the lowest threshold whose held-out precision reaches P').argParser(unitInterval).conflicts('recall'))
    .addOption(new Option('--recall <r>', 'choose the highest threshold whose held-out recall reaches R').argParser(unitInterval))
    .option('--l2 <x>', 'L2 penalty on the standardised weights', nonNegative, 1e-3)
    .option('--seed <n>', 'held-out split and shuffling seed', nonNegativeInt, 0)
    .option('--held-out <fraction>', 'share of data records held out', unitInterval, 0.2)
    .option('--max-epochs <n>', 'epoch limit (early stopping usually ends sooner)', positiveInt, 100)
    .option('--verbose', 'print the held-out loss of every epoch', false)
    .action(async (o: { emb: string; out?: string; bundle?: string; precision?: number; recall?: number; l2: number; seed: number; heldOut: number; maxEpochs: number; verbose: boolean }) => {
      if (!o.out && !o.bundle) throw new Error('give --out FILE, --bundle DIR, or both');
      const started = performance.now();
      const result = await trainFromStore(o.emb, {
        goal: goalOf(o),
        l2: o.l2,
        seed: o.seed,
        heldOutFraction: o.heldOut,
        maxEpochs: o.maxEpochs,
        log: (line) => (o.verbose || line.startsWith('warning') ? process.stderr.write(`${line}\n`) : undefined),
      });
      const m = result.heldOut;
      const t = result.head.training as { train_rows: number; held_out_rows: number; best_epoch: number; threshold_goal: string; held_out_scope: string };
      const line = (what: string, c: typeof m) =>
        `  ${what} (${c.positives} correct, ${c.negatives} wrong): precision ${fmt(c.precision)}  recall ${fmt(c.recall)}  F1 ${fmt(c.f1)}  ROC-AUC ${fmt(c.rocAuc)}\n`;
      process.stdout.write(
        `trained on ${t.train_rows} tokens in ${((performance.now() - started) / 1000).toFixed(1)} s (best epoch ${t.best_epoch}); ` +
          `threshold ${fmt(m.threshold, 4)} for ${t.threshold_goal} on held-out ${t.held_out_scope}${result.goalMet ? '' : ' (NOT met)'}:\n` +
          line(`held-out, ${t.held_out_scope}`, m) +
          line('held-out, all tokens', result.heldOutAll),
      );
      const svg = await prCurveSvg(result.curve, m, `judge head, held-out precision–recall`);
      if (o.out) {
        await writeFileAtomic(o.out, `${JSON.stringify(result.head, null, 2)}\n`);
        const plot = o.out.replace(/(\.json)?$/, '-pr.svg');
        await writeFileAtomic(plot, svg);
        process.stdout.write(`wrote ${o.out} and ${plot}\n`);
      }
      if (o.bundle) {
        await writeBundleHead(o.bundle, result.head);
        await writeFileAtomic(`${o.bundle}/judge-pr.svg`, svg);
        process.stdout.write(`installed the head into ${o.bundle}\n`);
      }
    });
}

export function foldCommand(): Command {
  return new Command('fold')
    .description("Fold the bundle's judge head into the target graph as a `judge_logits` [B,S] output (rewrites target.onnx, updates bundle.json and judge.json).")
    .requiredOption('--bundle <dir>', 'model bundle with a judge.json')
    .action(async (o: { bundle: string }) => {
      const r = await foldBundleJudge(o.bundle);
      await loadBundle(o.bundle); // every hash and the head's fingerprint check out
      process.stdout.write(`folded the judge head into ${o.bundle}/target.onnx (${(r.bytes / 1e6).toFixed(1)} MB, sha256 ${r.targetSha256.slice(0, 12)}…)\n`);
    });
}

export function bundleCommand(): Command {
  return new Command('bundle')
    .description(
      "mine → collect → train on a bundle's own models and install the head. Synthetic bundles: seeded vocabulary prompts, ratio:0.5 (what `verdict synth` does). " +
        'Imported real pairs: the committed story openings, selfjudge labels, drafts sampled at T = 0.8.',
    )
    .argument('[bundle]', 'model bundle (or --bundle)')
    .option('--bundle <dir>', 'model bundle')
    .option('--rule <rule>', 'topk:N | ratio:A | module:PATH | selfjudge[:N,δ] (default: selfjudge for imported pairs, ratio:0.5 for synthetic ones)')
    .option('--selfjudge-tokens <n>', 'selfjudge: continuation tokens N', positiveInt)
    .option('--selfjudge-delta <nats>', 'selfjudge: tolerance δ in nats', nonNegative)
    .option('--max-quality-gap <g>', 'choose the most lenient threshold whose measured quality gap (K=8, T=0.8) stays within g; recorded in judge.json', nonNegative)
    .option('--evaluator <dir>', 'evaluator for --max-quality-gap (repeatable; default: the target itself)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--prompts <n>', 'number of generated prompts (default: by model size)', positiveInt)
    .option('--max-tokens <n>', 'tokens per prompt (default: by model size)', positiveInt)
    .option('--k <k>', 'draft tokens per step while mining (default 4)', positiveInt)
    .option('--draft-temperature <t>', 'draft sampling temperature while mining (default: 0.8 for imported pairs, 0 = greedy for synthetic ones)', nonNegative)
    .addOption(new Option('--precision <p>', 'threshold goal').argParser(unitInterval).default(0.9))
    .option('--seed <n>', 'prompt, sampling and split seed', nonNegativeInt, 0)
    .action(async (arg: string | undefined, o: { bundle?: string; rule?: string; selfjudgeTokens?: number; selfjudgeDelta?: number; maxQualityGap?: number; evaluator: string[]; prompts?: number; maxTokens?: number; k?: number; draftTemperature?: number; precision: number; seed: number }) => {
      const dir = o.bundle ?? arg;
      if (!dir) throw new Error('give the bundle: verdict judge bundle DIR (or --bundle DIR)');
      o = { ...o, bundle: dir };
      await trainBundleJudge(dir, {
        rule: o.rule,
        selfjudge: { n: o.selfjudgeTokens, delta: o.selfjudgeDelta },
        maxQualityGap: o.maxQualityGap,
        evaluators: o.evaluator,
        prompts: o.prompts,
        maxTokens: o.maxTokens,
        k: o.k,
        draftTemperature: o.draftTemperature,
        goal: { precision: o.precision },
        seed: o.seed,
        log: (line) => process.stdout.write(`${line}\n`),
      });
      process.stdout.write(`installed ${dir}/judge.json\n`);
    });
}
