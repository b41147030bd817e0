import { Command } from 'commander';
import { loadBundle } from '../bundle/load.ts';
import { collectEmbeddings } from '../judge/collect.ts';
import { mineBundle } from '../judge/mine.ts';
import { readPrompts } from '../judge/prompts.ts';
import { parseRule, SELFJUDGE_DEFAULTS } from '../judge/rules.ts';
import { nonNegative, nonNegativeInt, positiveInt, progressBar } from './options.ts';

export function mineCommand(): Command {
  return new Command('mine')
    .description('Label draft tokens automatically: the draft proposes K tokens per step, the target scores them in one forward; a token is correct if it is the target argmax or the rule calls the mismatch harmless.')
    .requiredOption('--bundle <dir>', 'model bundle')
    .requiredOption('--prompts <file>', 'prompts, one per line (plain text, or JSON objects with a "prompt")')
    .requiredOption('--out <file>', 'JSONL data file to write')
    .requiredOption('--rule <rule>', 'topk:N | ratio:A | module:PATH (an ES module exporting check({prompt, prefix, continuation, response, reference})) | selfjudge[:N,δ]')
    .option('--selfjudge-tokens <n>', `selfjudge: greedy continuation tokens N whose target log-likelihood is compared (default ${SELFJUDGE_DEFAULTS.n})`, positiveInt)
    .option('--selfjudge-delta <nats>', `selfjudge: a mismatch is harmless when its continuation's log-likelihood is within δ nats of the target's own (default ${SELFJUDGE_DEFAULTS.delta})`, nonNegative)
    .option('--k <k>', 'draft tokens per step', positiveInt, 4)
    .option('--max-tokens <n>', 'tokens generated per prompt', positiveInt, 64)
    .option('--draft-temperature <t>', 'sample drafts at this temperature (0 = greedy)', nonNegative, 0)
    .option('--seed <n>', 'draft sampling seed', nonNegativeInt, 0)
    .action(async (o: { bundle: string; prompts: string; out: string; rule: string; k: number; maxTokens: number; draftTemperature: number; seed: number; selfjudgeTokens?: number; selfjudgeDelta?: number }) => {
      const rule = await parseRule(o.rule, { n: o.selfjudgeTokens, delta: o.selfjudgeDelta });
      const prompts = await readPrompts(o.prompts);
      const bundle = await loadBundle(o.bundle);
      const bar = progressBar('mine', 'prompts');
      bar?.start(prompts.length, 0, { extra: '' });
      const s = await mineBundle(bundle, prompts, o.out, {
        rule,
        k: o.k,
        maxTokens: o.maxTokens,
        draftTemperature: o.draftTemperature,
        seed: o.seed,
        onProgress: (done, labels) => bar?.update(done, { extra: `${labels} labels` }),
      }).finally(() => bar?.stop());
      process.stdout.write(
        `wrote ${o.out}: ${s.records} records, ${s.labels} labelled draft tokens from ${s.prompts} prompts — ` +
          `${s.agreed} agreed with the target, ${s.harmless} harmless mismatches (${o.rule}), ${s.negatives} wrong\n` +
          `tokens per step on these drafts: exact rule ${(s.exactTokens / s.records).toFixed(2)}, a perfect judge for ${o.rule} ${(s.oracleTokens / s.records).toFixed(2)}\n`,
      );
    });
}

export function collectCommand(): Command {
  return new Command('collect')
    .description("Run the target over each record and store its hidden state at every labelled token's position (resumable: rerun with the same --out to continue).")
    .requiredOption('--bundle <dir>', 'model bundle')
    .requiredOption('--data <file>', 'JSONL data (see docs/judge.md)')
    .requiredOption('--out <dir>', 'embedding store directory')
    .option('--shard-rows <n>', 'rows per shard file', positiveInt, 4096)
    .action(async (o: { bundle: string; data: string; out: string; shardRows: number }) => {
      const bundle = await loadBundle(o.bundle);
      const bar = progressBar('collect', 'tokens');
      const started = performance.now();
      const { manifest, resumedFrom } = await collectEmbeddings(bundle, o.data, o.out, {
        shardRows: o.shardRows,
        onProgress: (p) => {
          if (p.records === 0) bar?.start(p.totalRows, 0, { extra: p.skipped ? `(resuming after ${p.skipped} records)` : '' });
          else bar?.update(p.rows);
        },
      }).finally(() => bar?.stop());
      process.stdout.write(
        `wrote ${o.out}: ${manifest.rows} hidden states (${manifest.positives} correct, ${manifest.rows - manifest.positives} wrong) ` +
          `from ${manifest.records_done} records${resumedFrom ? `, resumed after ${resumedFrom}` : ''} in ${((performance.now() - started) / 1000).toFixed(1)} s\n`,
      );
    });
}
