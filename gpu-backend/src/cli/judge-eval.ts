import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { JudgeHeadSchema, type JudgeHead } from '../bundle/judge-head.ts';
import { loadBundle } from '../bundle/load.ts';
import { classifyData, evalDecoding } from '../judge/eval.ts';
import type { ClassMetrics } from '../judge/metrics.ts';
import { mineBundle } from '../judge/mine.ts';
import { readPrompts, syntheticPrompts } from '../judge/prompts.ts';
import { loadChecker, parseRule, type Checker } from '../judge/rules.ts';
import { fmt, nonNegativeInt, positiveInt, unitInterval } from './options.ts';

interface EvalFlags {
  bundle: string;
  head?: string;
  data?: string;
  prompts?: string;
  promptCount: number;
  k: number;
  maxTokens: number;
  threshold?: number;
  checker?: string;
  seed: number;
  json: boolean;
}

export function evalCommand(): Command {
  return new Command('eval')
    .description('Held-out classification metrics of a judge head, and end-to-end greedy decoding: judge vs exact vs target (tokens/s, mean accepted per step, agreement with target).')
    .requiredOption('--bundle <dir>', 'model bundle')
    .option('--head <file>', "judge head to evaluate (default: the bundle's judge.json)")
    .option('--data <file>', "labelled JSONL to classify (default: freshly mined from new seeded prompts with the head's training rule)")
    .option('--prompts <file>', 'prompts for the decoding comparison (default: seeded vocabulary prompts)')
    .option('--prompt-count <n>', 'how many seeded prompts when --prompts is not given', positiveInt, 8)
    .option('--k <k>', 'draft tokens per step', positiveInt, 4)
    .option('--max-tokens <n>', 'tokens per decode', positiveInt, 64)
    .option('--threshold <t>', "judge threshold (default: the head's)", unitInterval)
    .option('--checker <module>', "ES module exporting check(): also report how many final answers it accepts (default: the head's module: rule, if any)")
    .option('--seed <n>', 'seed of the generated prompts (keep it different from training)', nonNegativeInt, 1000)
    .option('--json', 'print the results as JSON', false)
    .action(async (o: EvalFlags) => {
      const bundle = await loadBundle(o.bundle);
      const head: JudgeHead | undefined = o.head ? JudgeHeadSchema.parse(JSON.parse(await readFile(o.head, 'utf8'))) : bundle.judge;
      if (!head) throw new Error(`${o.bundle} has no judge.json; pass --head FILE`);
      if (head.hidden_size !== bundle.manifest.target.hidden_size) throw new Error(`head hidden_size ${head.hidden_size} does not match the target's ${bundle.manifest.target.hidden_size}`);
      const training = (head.training ?? {}) as { rule?: string; draft_temperature?: number };
      const specials = new Set([...(bundle.manifest.bos_token_id === null ? [] : [bundle.manifest.bos_token_id]), ...bundle.manifest.eos_token_ids]);
      const prompts = o.prompts ? await readPrompts(o.prompts) : syntheticPrompts(bundle.tokenizer, o.promptCount, o.seed, specials);

      let classification;
      let dataNote = o.data ?? '';
      if (o.data) classification = await classifyData(bundle, head, o.data, o.threshold);
      else {
        const work = await mkdtemp(join(tmpdir(), 'verdict-judge-eval-'));
        try {
          const rule = training.rule ?? 'ratio:0.5';
          const data = join(work, 'heldout.jsonl');
          const evalPrompts = syntheticPrompts(bundle.tokenizer, Math.max(o.promptCount, 16), o.seed + 1, specials);
          await mineBundle(bundle, evalPrompts, data, { rule: await parseRule(rule), k: o.k, maxTokens: o.maxTokens, draftTemperature: training.draft_temperature ?? 0, seed: o.seed });
          classification = await classifyData(bundle, head, data, o.threshold);
          dataNote = `freshly mined (${rule}, ${evalPrompts.length} new prompts, draft temperature ${training.draft_temperature ?? 0})`;
        } finally {
          await rm(work, { recursive: true, force: true });
        }
      }
      // A head mined with module:PATH is judged by the same checker unless another is given.
      const checkerPath = o.checker ?? (training.rule?.startsWith('module:') ? training.rule.slice('module:'.length) : undefined);
      const checker: Checker | undefined = checkerPath ? await loadChecker(checkerPath) : undefined;
      const decoding = await evalDecoding(bundle, head, prompts, { k: o.k, maxTokens: o.maxTokens, threshold: o.threshold, checker });

      if (o.json) {
        process.stdout.write(`${JSON.stringify({ classification: { data: dataNote, ...classification }, decoding, prompts: prompts.length, k: o.k, max_tokens: o.maxTokens }, null, 2)}\n`);
        return;
      }
      const line = (what: string, c: ClassMetrics) =>
        `  ${what}: ${c.positives} correct / ${c.negatives} wrong — precision ${fmt(c.precision)}  recall ${fmt(c.recall)}  F1 ${fmt(c.f1)}  ROC-AUC ${fmt(c.rocAuc)}\n`;
      process.stdout.write(
        `classification on ${dataNote}, threshold ${fmt(classification.all.threshold, 4)}:\n` +
          line('tokens the judge decides (not the target argmax)', classification.decided) +
          line('all tokens', classification.all) +
          `decoding ${prompts.length} prompts, greedy, k=${o.k}, max ${o.maxTokens} tokens:\n` +
          `  mode    tokens/s  accepted/step  draft acceptance  judge-only  agreement w/ target  identical${checker ? '  checker ok' : ''}\n`,
      );
      for (const d of decoding) {
        process.stdout.write(
          `  ${d.mode.padEnd(7)} ${fmt(d.tokensPerS, 1).padStart(8)}  ${fmt(d.meanAcceptedPerStep, 2).padStart(13)}  ${fmt(d.acceptanceRate).padStart(16)}  ${fmt(d.judgeAcceptedShare).padStart(10)}  ${fmt(d.tokenAgreement).padStart(19)}  ${`${d.identicalOutputs}/${prompts.length}`.padStart(9)}${checker ? `  ${d.checkerPassed}/${prompts.length}`.padStart(12) : ''}\n`,
        );
      }
    });
}
