import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JudgeHead } from '../bundle/judge-head.ts';
import { loadBundle, MANIFEST_FILE } from '../bundle/load.ts';
import { BundleManifestSchema, type BundleManifest } from '../bundle/manifest.ts';
import { collectEmbeddings } from './collect.ts';
import { sha256Bytes, writeFileAtomic } from './files.ts';
import type { ThresholdGoal } from './metrics.ts';
import { mineBundle, type MineSummary } from './mine.ts';
import { prCurveSvg } from './plot.ts';
import { syntheticPrompts } from './prompts.ts';
import { parseRule } from './rules.ts';
import { thresholdForBudget } from './quality-budget.ts';
import { TRAIN_OPENINGS } from '../fidelity/prompts.ts';
import { trainFromStore, type TrainResult } from './train.ts';

export const JUDGE_FILE = 'judge.json';
export const JUDGE_PLOT_FILE = 'judge-pr.svg';

export interface BundleJudgeOptions {
  /** Mining rule (default ratio:0.5). */
  rule?: string;
  prompts?: number;
  maxTokens?: number;
  k?: number;
  /** Draft sampling temperature while mining (default 0: greedy, as served). */
  draftTemperature?: number;
  goal?: ThresholdGoal;
  seed?: number;
  /** selfjudge rule: continuation tokens N and tolerance δ (nats). */
  selfjudge?: { n?: number; delta?: number };
  /** Choose the threshold from a quality budget instead of the precision goal (see quality-budget.ts). */
  maxQualityGap?: number;
  /** Evaluators for the quality budget (default: the bundle's target). */
  evaluators?: string[];
  log?: (line: string) => void;
}

export interface BundleJudgeResult {
  head: JudgeHead;
  mined: MineSummary;
  train: TrainResult;
}

/** A bundle made by `verdict import` from real exports (not synthetic). */
export const isRealPair = (manifest: BundleManifest): boolean => manifest.meta?.imported_from !== undefined;

/**
 * Defaults for a real (imported) pair: SelfJudge labels (no ground truth needed), the committed
 * TinyStories-style training openings (disjoint from the fidelity set; the last 16 are kept for
 * the quality budget), drafts sampled at T = 0.8 as served, and one ORT thread per session.
 */
export const REAL_PAIR_DEFAULTS = { rule: 'selfjudge', mineOpenings: 80, budgetOpenings: 16, maxTokens: 40, k: 4, draftTemperature: 0.8 } as const;

/** Mining sizes per target width: tiny bundles train in about a second, bench ones in minutes. */
export function defaultJudgeSizes(hiddenSize: number): { prompts: number; maxTokens: number } {
  return hiddenSize <= 128 ? { prompts: 64, maxTokens: 24 } : { prompts: 40, maxTokens: 48 };
}

/**
 * mine → collect → train on the bundle's own models, then writes judge.json (and the held-out
 * precision–recall plot) into the bundle and points bundle.json's `judge` entry at it.
 * Mining prompts are drawn, seeded, from the tokenizer's vocabulary.
 */
export async function trainBundleJudge(bundleDir: string, opts: BundleJudgeOptions = {}): Promise<BundleJudgeResult> {
  const log = opts.log ?? (() => {});
  const bundle = await loadBundle(bundleDir);
  const sizes = defaultJudgeSizes(bundle.manifest.target.hidden_size);
  const seed = opts.seed ?? 0;
  const real = isRealPair(bundle.manifest);
  const R = REAL_PAIR_DEFAULTS;
  const rule = await parseRule(opts.rule ?? (real ? R.rule : 'ratio:0.5'), opts.selfjudge);
  const ruleSpec = rule.spec;
  const specials = new Set([...(bundle.manifest.bos_token_id === null ? [] : [bundle.manifest.bos_token_id]), ...bundle.manifest.eos_token_ids]);
  const prompts = real ? TRAIN_OPENINGS.slice(0, opts.prompts ?? R.mineOpenings) : syntheticPrompts(bundle.tokenizer, opts.prompts ?? sizes.prompts, seed, specials);
  const k = opts.k ?? (real ? R.k : 4);
  const work = await mkdtemp(join(tmpdir(), 'verdict-judge-'));
  try {
    const data = join(work, 'data.jsonl');
    const draftTemperature = opts.draftTemperature ?? (real ? R.draftTemperature : 0);
    const mined = await mineBundle(bundle, prompts, data, {
      rule,
      k,
      maxTokens: opts.maxTokens ?? (real ? R.maxTokens : sizes.maxTokens),
      draftTemperature,
      seed,
      session: real ? { intraOpThreads: 1 } : undefined,
      onProgress: (done, labels) => (done % 16 === 0 ? log(`judge: mined ${done}/${prompts.length} prompts, ${labels} labels`) : undefined),
    });
    log(
      `judge: mined ${mined.labels} labels (${mined.agreed} agreed, ${mined.harmless} harmless by ${ruleSpec}, ${mined.negatives} wrong) from ${mined.prompts} prompts; ` +
        `tokens/step on these drafts: exact ${(mined.exactTokens / mined.records).toFixed(2)}, perfect judge ${(mined.oracleTokens / mined.records).toFixed(2)}`,
    );
    await collectEmbeddings(bundle, data, join(work, 'emb'));
    const train = await trainFromStore(join(work, 'emb'), { goal: opts.goal ?? { precision: 0.9 }, seed });
    const m = train.heldOut;
    log(
      `judge: held-out (tokens the judge decides) precision ${m.precision.toFixed(3)} recall ${m.recall.toFixed(3)} ROC-AUC ${m.rocAuc.toFixed(3)} at threshold ${m.threshold.toFixed(3)}` +
        (train.goalMet ? '' : ' (the precision goal is not met with confidence: the head accepts nothing, judge mode = exact)'),
    );
    let head: JudgeHead = {
      ...train.head,
      training: {
        ...train.head.training,
        source: real
          ? 'verdict judge bundle: judge mine (TRAIN_OPENINGS) → collect → train on the bundle’s own models'
          : 'verdict synth: judge mine → collect → train on the bundle’s own models',
        rule: ruleSpec,
        prompts: prompts.length,
        k,
        draft_temperature: draftTemperature,
        mined,
      },
    };
    await writeBundleHead(bundleDir, head);
    if (opts.maxQualityGap !== undefined) {
      log(`judge: choosing the threshold for a quality gap ≤ ${opts.maxQualityGap} (K = 8, T = 0.8)`);
      const budgetPrompts = real ? TRAIN_OPENINGS.slice(-R.budgetOpenings) : syntheticPrompts(bundle.tokenizer, 16, seed + 7, specials);
      const choice = await thresholdForBudget(await loadBundle(bundleDir), { maxQualityGap: opts.maxQualityGap, prompts: budgetPrompts, evaluators: opts.evaluators ?? [], log });
      log(choice.met ? `judge: threshold ${choice.threshold} (most lenient within the budget)` : `judge: no threshold kept the gap within ${opts.maxQualityGap}; threshold 1 (accepts nothing)`);
      head = { ...head, threshold: choice.threshold, training: { ...head.training, precision_threshold: train.head.threshold, quality_budget: choice } };
      await writeBundleHead(bundleDir, head);
    }
    await writeFileAtomic(join(bundleDir, JUDGE_PLOT_FILE), await prCurveSvg(train.curve, m, `judge head, held-out (${ruleSpec})`));
    return { head, mined, train };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** Writes judge.json into a bundle and points bundle.json at it (both atomically, manifest last). */
export async function writeBundleHead(bundleDir: string, head: JudgeHead): Promise<void> {
  const manifestPath = join(bundleDir, MANIFEST_FILE);
  const manifest = BundleManifestSchema.parse(JSON.parse(await readFile(manifestPath, 'utf8')));
  if (head.target_sha256 !== manifest.target.sha256) {
    throw new Error(`${manifestPath}: the head was trained on target ${head.target_sha256.slice(0, 12)}…, the bundle's target is ${manifest.target.sha256.slice(0, 12)}…`);
  }
  const text = `${JSON.stringify(head, null, 2)}\n`;
  const file = manifest.judge?.file ?? JUDGE_FILE;
  await writeFileAtomic(join(bundleDir, file), text);
  await writeFileAtomic(manifestPath, `${JSON.stringify({ ...manifest, judge: { file, sha256: sha256Bytes(text) } }, null, 2)}\n`);
}

/**
 * The synth pipeline's step (runs on the finished models in the bundle's temp directory, before
 * synth writes bundle.json): writes a provisional bundle.json so the bundle loads, trains and
 * installs the head, and hands the resulting `judge` entry back to synth's manifest.
 */
export function judgeSynthStep(opts: BundleJudgeOptions = {}) {
  return async (ctx: { dir: string; manifest: BundleManifest }): Promise<void> => {
    const manifestPath = join(ctx.dir, MANIFEST_FILE);
    await writeFileAtomic(manifestPath, `${JSON.stringify(ctx.manifest, null, 2)}\n`);
    await trainBundleJudge(ctx.dir, opts);
    const updated = BundleManifestSchema.parse(JSON.parse(await readFile(manifestPath, 'utf8')));
    ctx.manifest.judge = updated.judge;
  };
}
