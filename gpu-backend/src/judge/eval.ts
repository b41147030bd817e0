import type { Mode } from '@verdict/protocol';
import type { JudgeHead } from '../bundle/judge-head.ts';
import type { LoadedBundle } from '../bundle/types.ts';
import { createEngine, greedyRequest } from '../engine/engine.ts';
import type { DecodeStats } from '../engine/types.ts';
import { readJudgeRecords } from './data.ts';
import { examine } from './collect.ts';
import { TargetHiddenStates } from './hidden.ts';
import { sigmoid } from './logistic.ts';
import { metricsAt, rocAuc, type ClassMetrics } from './metrics.ts';
import type { Checker } from './rules.ts';

export interface Classification {
  /** On the tokens the judge decides: those that are not the target's argmax. */
  decided: ClassMetrics;
  /** On every labelled token. */
  all: ClassMetrics;
}

/** Scores every labelled token of a data file with the head, at its threshold. */
export async function classifyData(bundle: LoadedBundle, head: JudgeHead, dataFile: string, threshold = head.threshold): Promise<Classification> {
  const target = await TargetHiddenStates.open(bundle);
  const scores: number[] = [];
  const labels: number[] = [];
  const decided: number[] = [];
  try {
    const H = target.hiddenSize;
    for await (const { line, record } of readJudgeRecords(dataFile)) {
      const ex = examine(bundle, dataFile, line, record);
      const { hidden, targetArgmax } = await target.responseStates(ex.promptIds, ex.responseIds);
      for (let i = 0; i < ex.responseIds.length; i++) {
        let z = head.bias;
        for (let j = 0; j < H; j++) z += head.weights[j] * hidden[i * H + j];
        if (!targetArgmax[i]) decided.push(scores.length);
        scores.push(sigmoid(z));
        labels.push(ex.labels[i]);
      }
    }
  } finally {
    await target.dispose();
  }
  const dScores = decided.map((i) => scores[i]);
  const dLabels = decided.map((i) => labels[i]);
  return {
    decided: metricsAt(dScores, dLabels, threshold, rocAuc(dScores, dLabels)),
    all: metricsAt(scores, labels, threshold, rocAuc(scores, labels)),
  };
}

export interface ModeSummary {
  mode: Mode;
  completionTokens: number;
  steps: number;
  /** Σ tokens / Σ decode time (prefill excluded), over all prompts. */
  tokensPerS: number;
  /** Σ tokens / Σ steps: tokens per target forward. */
  meanAcceptedPerStep: number;
  /** Of the drafted tokens, the share kept; and the share kept only because the judge said so. */
  acceptanceRate: number;
  judgeAcceptedShare: number;
  /** Share of positions (over the target's output length) where this mode's token equals `target` mode's. */
  tokenAgreement: number;
  /** Prompts whose output is token-for-token the target's. */
  identicalOutputs: number;
  /** With a checker: prompts whose final answer it accepts. */
  checkerPassed?: number;
}

export interface DecodeEvalOptions {
  k: number;
  maxTokens: number;
  threshold?: number;
  checker?: Checker;
  /** Decodes run first and not counted (warms ORT's allocations). */
  warmup?: number;
}

/**
 * End-to-end: every prompt decoded greedily in `target`, `exact` and `judge` mode, interleaved
 * per prompt so that all three see the same machine state, with the head given (applied to the
 * target's hidden states).
 */
export async function evalDecoding(bundle: LoadedBundle, head: JudgeHead, prompts: string[], opts: DecodeEvalOptions): Promise<ModeSummary[]> {
  const engine = await createEngine(bundle, { judge: head });
  const modes: Mode[] = ['target', 'exact', 'judge'];
  const totals = new Map(modes.map((m) => [m, { tokens: 0, steps: 0, ms: 0, drafted: 0, accepted: 0, judgeAccepted: 0, agree: 0, refLen: 0, identical: 0, passed: 0 }]));
  const run = async (mode: Mode, ids: number[]): Promise<{ tokens: number[]; text: string; stats: DecodeStats }> => {
    const req = greedyRequest(ids, { mode, k: opts.k, maxTokens: opts.maxTokens, threshold: opts.threshold });
    for await (const ev of engine.decode(req)) if (ev.type === 'done') return ev;
    throw new Error(`${mode} decode ended without a result`);
  };
  try {
    for (let w = 0; w < (opts.warmup ?? 1) && prompts.length; w++) for (const mode of modes) await run(mode, bundle.encodePrompt(prompts[0]));
    for (const prompt of prompts) {
      const ids = bundle.encodePrompt(prompt);
      const outs = new Map<Mode, Awaited<ReturnType<typeof run>>>();
      for (const mode of modes) outs.set(mode, await run(mode, ids));
      const ref = outs.get('target')!;
      for (const mode of modes) {
        const o = outs.get(mode)!;
        const t = totals.get(mode)!;
        t.tokens += o.stats.completionTokens;
        t.steps += o.stats.steps;
        t.ms += o.stats.totalMs - o.stats.prefillMs;
        t.drafted += o.stats.drafted;
        t.accepted += o.stats.accepted;
        t.judgeAccepted += o.stats.judgeAccepted;
        let same = 0;
        for (let i = 0; i < ref.tokens.length; i++) if (o.tokens[i] === ref.tokens[i]) same++;
        t.agree += same;
        t.refLen += ref.tokens.length;
        if (o.tokens.length === ref.tokens.length && same === ref.tokens.length) t.identical++;
        if (opts.checker) {
          const ok = await opts.checker({ prompt, prefix: '', continuation: o.text, response: o.text, reference: ref.text });
          if (ok) t.passed++;
        }
      }
    }
  } finally {
    await engine.dispose();
  }
  return modes.map((mode) => {
    const t = totals.get(mode)!;
    return {
      mode,
      completionTokens: t.tokens,
      steps: t.steps,
      tokensPerS: t.ms > 0 ? (t.tokens / t.ms) * 1000 : 0,
      meanAcceptedPerStep: t.steps ? t.tokens / t.steps : 0,
      acceptanceRate: t.drafted ? t.accepted / t.drafted : 0,
      judgeAcceptedShare: t.drafted ? t.judgeAccepted / t.drafted : 0,
      tokenAgreement: t.refLen ? t.agree / t.refLen : 1,
      identicalOutputs: t.identical,
      ...(opts.checker ? { checkerPassed: t.passed } : {}),
    };
  });
}
