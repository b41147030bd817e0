import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import type { LoadedBundle } from '../bundle/types.ts';
import { decode } from '../engine/decode.ts';
import { greedyRequest } from '../engine/engine.ts';
import { propose } from '../engine/propose.ts';
import { RequestState, soloCaches, type DecodeModels } from '../engine/request.ts';
import { score } from '../engine/score.ts';
import type { SessionOptions } from '../engine/session.ts';
import type { Provenance } from '../engine/types.ts';
import type { JudgeRecord } from './data.ts';
import { loadDecodeModels } from './models.ts';
import { harmlessByDistribution, type MiningRule } from './rules.ts';
import { selfJudgeHarmless } from './selfjudge.ts';

export interface MineOptions {
  rule: MiningRule;
  /** Draft tokens per step. */
  k: number;
  /** Generated tokens per prompt. */
  maxTokens: number;
  /** 0 (default): greedy drafts, as served at temperature 0. Above 0, drafts are sampled, giving more (and more varied) mismatches. */
  draftTemperature?: number;
  /** Seed of the draft sampler. */
  seed?: number;
  onProgress?: (promptsDone: number, labels: number) => void;
  /** ONNX Runtime session options (small real models run best on one thread). */
  session?: SessionOptions;
}

export interface MineSummary {
  prompts: number;
  records: number;
  labels: number;
  /** Draft tokens equal to the target's argmax. */
  agreed: number;
  /** Mismatches the rule called harmless (positives beyond exact agreement). */
  harmless: number;
  /** Draft tokens that are neither the argmax nor harmless by the rule. */
  negatives: number;
  /** Σ (leading argmax agreements + 1) over steps: tokens per step the exact rule would emit from these drafts. */
  exactTokens: number;
  /** Σ (leading correct labels + 1) over steps: tokens per step a perfect judge for this rule would emit. */
  oracleTokens: number;
}

/**
 * `judge mine`: labelled data from draft proposals checked against the target.
 *
 * Each step the draft proposes K tokens (greedy, or sampled with draftTemperature) and the target scores them in one forward.
 * Each draft token is labelled correct (1) if it is the target's argmax at its position or the rule
 * calls the mismatch harmless, wrong (0) otherwise — every token on its own, in the context it
 * was drafted in (the earlier drafts included). The sequence then advances the way a perfect judge would:
 * by the correct prefix plus the target's own token, so the contexts mined include
 * judge-accepted mismatches, as they will at serving time.
 *
 * One JSONL record per step: the context so far as `prompt`/`prompt_ids`, the K draft tokens
 * as `response`/`response_ids`, and their `labels`. Written to `out.tmp`, renamed when done.
 */
export async function mineBundle(bundle: LoadedBundle, prompts: string[], out: string, opts: MineOptions): Promise<MineSummary> {
  if (!Number.isInteger(opts.k) || opts.k < 1) throw new Error(`--k must be a positive integer, got ${opts.k}`);
  if (!Number.isInteger(opts.maxTokens) || opts.maxTokens < 2) throw new Error(`--max-tokens must be an integer >= 2, got ${opts.maxTokens}`);
  const models = await loadDecodeModels(bundle, undefined, opts.session);
  const tmp = `${out}.tmp`;
  const stream = createWriteStream(tmp, 'utf8');
  const summary: MineSummary = { prompts: 0, records: 0, labels: 0, agreed: 0, harmless: 0, negatives: 0, exactTokens: 0, oracleTokens: 0 };
  try {
    for (const prompt of prompts) {
      for (const record of await minePrompt(models, bundle, prompt, opts, summary)) {
        if (!stream.write(`${JSON.stringify(record)}\n`)) await new Promise<void>((r) => stream.once('drain', () => r()));
      }
      summary.prompts++;
      opts.onProgress?.(summary.prompts, summary.labels);
    }
    await new Promise<void>((res, rej) => stream.end((err?: Error | null) => (err ? rej(err) : res())));
    if (summary.records === 0) throw new Error('mining produced no records (every prompt ended before a draft step)');
    await rename(tmp, out);
    return summary;
  } catch (err) {
    stream.destroy();
    await rm(tmp, { force: true });
    throw err;
  } finally {
    await models.dispose();
  }
}

async function minePrompt(models: DecodeModels, bundle: LoadedBundle, prompt: string, opts: MineOptions, summary: MineSummary): Promise<JudgeRecord[]> {
  const promptIds = bundle.encodePrompt(prompt);
  const req = greedyRequest(promptIds, { mode: 'exact', k: opts.k, maxTokens: opts.maxTokens, temperature: opts.draftTemperature ?? 0, seed: (opts.seed ?? 0) + summary.prompts });
  const reference = opts.rule.kind === 'module' ? await greedyText(models, promptIds, opts.maxTokens) : '';
  const r = new RequestState(models, req, soloCaches(models, req));
  const records: JudgeRecord[] = [];
  try {
    await r.prefill(r.targetCache, r.draftCache);
    while (!r.out.finished) {
      const k = r.draftLength();
      if (k <= 0) break;
      const context = [...r.seq];
      const drafts = await propose(models.draft, r.draftCache!, r.draftFeed(), k, r.draftRows, r.greedy, r.rng);
      await score(models.target, r.targetCache, r.pending, drafts, r.targetRows, { kind: 'none' });
      // Each draft token is judged on its own, in the context it was drafted in (after the earlier
      // drafts, right or wrong): the target's distribution at its position decides.
      const labels: (0 | 1)[] = [];
      const provenance: Provenance[] = [];
      for (let i = 0; i < k; i++) {
        const row = r.targetRows[i];
        const agrees = row.argmax() === drafts[i];
        const ok = agrees || (await harmless(models, bundle, opts, prompt, reference, context, promptIds.length, drafts.slice(0, i + 1), row.softmax()));
        if (agrees) summary.agreed++;
        else if (ok) summary.harmless++;
        labels.push(ok ? 1 : 0);
        provenance.push(agrees ? 'draft' : ok ? 'judge' : 'target');
      }
      summary.negatives += labels.filter((l) => l === 0).length;
      summary.labels += k;
      records.push({
        prompt: prompt + decodeIds(bundle, context.slice(promptIds.length)),
        response: bundle.tokenizer.decode(drafts),
        prompt_ids: context,
        response_ids: drafts,
        labels,
        rule: opts.rule.spec,
      } as JudgeRecord);
      summary.records++;
      // Advance as a perfect judge would: the correct prefix, then the target's token.
      const accepted = labels.indexOf(0) < 0 ? k : labels.indexOf(0);
      const firstMismatch = provenance.findIndex((p) => p !== 'draft');
      summary.exactTokens += (firstMismatch < 0 ? accepted : Math.min(firstMismatch, accepted)) + 1;
      summary.oracleTokens += accepted + 1;
      const next = r.targetRows[accepted].argmax();
      const chunk = r.advance(drafts, { accepted, next, provenance: [...provenance.slice(0, accepted), 'target'] });
      r.out.commit(chunk, [...provenance.slice(0, accepted), 'target']);
    }
  } finally {
    r.release();
  }
  return records;
}

async function harmless(
  models: DecodeModels,
  bundle: LoadedBundle,
  opts: MineOptions,
  prompt: string,
  reference: string,
  context: number[],
  promptLength: number,
  draftsThroughThis: number[],
  probs: Float32Array,
): Promise<boolean> {
  const rule = opts.rule;
  if (rule.kind === 'selfjudge') {
    const token = draftsThroughThis[draftsThroughThis.length - 1];
    let own = 0;
    for (let j = 1; j < probs.length; j++) if (probs[j] > probs[own]) own = j;
    const ctx = [...context, ...draftsThroughThis.slice(0, -1)];
    return (await selfJudgeHarmless(models.target, ctx, token, own, rule.n, rule.delta)).harmless;
  }
  if (rule.kind !== 'module') return harmlessByDistribution(rule, probs, draftsThroughThis[draftsThroughThis.length - 1]);
  // AutoJudge-style: accept the token, let the target finish the answer, ask the checker.
  const before = [...context.slice(promptLength), ...draftsThroughThis.slice(0, -1)];
  const withToken = [...before, draftsThroughThis[draftsThroughThis.length - 1]];
  const budget = Math.max(1, opts.maxTokens - withToken.length);
  const rest = await greedyIds(models, [...context.slice(0, promptLength), ...withToken], budget);
  const prefix = decodeIds(bundle, before);
  const response = decodeIds(bundle, [...withToken, ...rest]);
  const continuation = response.startsWith(prefix) ? response.slice(prefix.length) : decodeIds(bundle, [...withToken.slice(before.length), ...rest]);
  const verdict = await rule.check({ prompt, prefix, continuation, response, reference });
  if (typeof verdict !== 'boolean') throw new Error(`checker ${rule.path}: check() returned ${JSON.stringify(verdict)}, expected true or false`);
  return verdict;
}

/** The target's own greedy continuation of `ids` (`target` mode through the engine's loop). */
async function greedyIds(models: DecodeModels, ids: number[], maxTokens: number): Promise<number[]> {
  for await (const ev of decode(models, greedyRequest(ids, { mode: 'target', maxTokens }))) if (ev.type === 'done') return ev.tokens;
  return [];
}

async function greedyText(models: DecodeModels, ids: number[], maxTokens: number): Promise<string> {
  const out = await greedyIds(models, ids, maxTokens);
  return out.length ? models.tokenizer.decode(out) : '';
}

/** The tokenizer refuses to decode an empty list. */
function decodeIds(bundle: LoadedBundle, ids: number[]): string {
  return ids.length ? bundle.tokenizer.decode(ids) : '';
}
