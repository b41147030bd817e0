import type { MachineInfo } from '../bench/machine.ts';
import type { ModeResult } from './run.ts';
import { paretoFront } from './stats.ts';

/** The headline: judge at its shipped threshold, K = 8, T = 0.8 against exact there. */
export interface FidelitySummary {
  shipped_threshold: number | null;
  judge_vs_exact_tokens_per_pass: number | null;
  /** The worse (larger) of the evaluators' gaps for judge at the shipped threshold. */
  judge_quality_gap: number | null;
  /** Null check: exact is distributed as target, so its gap is noise; a half-width above 0.1 means too few tokens. */
  exact_gap: Record<string, { mean: number; lo: number; hi: number }>;
  exact_gap_half_width: number | null;
  too_few_tokens: boolean;
  /** At K = 8, T = 0.8: per lossy rule, the point with the most tokens per pass whose worse gap is ≤ the budget. */
  best_within_gap: Record<string, { label: string; tokens_per_pass: number; gap: number } | null>;
  gap_budget: number;
  /**
   * The same gap scored by the bundle's own target (not independent: it measures closeness to the
   * target's distribution, and favours low-entropy text), point estimates from the pooled means.
   * Reported because on a pair whose draft-alone and target texts the evaluators barely tell apart
   * the independent gaps cannot be resolved.
   */
  target_scored: {
    judge_gap: number | null;
    exact_gap: number | null;
    best_within_gap: Record<string, { label: string; tokens_per_pass: number; gap: number } | null>;
  };
}

export interface FidelityResult {
  format: 'verdict-fidelity/1';
  started_at: string;
  bundle: string;
  evaluators: string[];
  sizes: { prompts: number; seeds: number[]; max_tokens: number; quick: boolean };
  machine: MachineInfo;
  wall_s: number;
  modes: ModeResult[];
  summary: FidelitySummary;
}

export const worstGap = (m: ModeResult): number => {
  const g = Object.values(m.gap).map((x) => x.mean);
  return g.length ? Math.max(...g) : Number.NaN;
};

/** Gap of `m` scored by the target itself (point estimate). */
export function targetScoredGap(modes: ModeResult[], m: ModeResult): number {
  const t = modes.find((x) => x.mode === 'target' && x.temperature === m.temperature);
  const d = modes.find((x) => x.mode === 'draft' && x.temperature === m.temperature);
  if (!t || !d) return Number.NaN;
  return (m.target_nll.mean - t.target_nll.mean) / (d.target_nll.mean - t.target_nll.mean);
}

export function summarise(modes: ModeResult[], shipped: number | undefined, budget = 0.25, k = 8, temperature = 0.8): FidelitySummary {
  const at = (m: ModeResult) => m.k === k && m.temperature === temperature;
  const exact = modes.find((m) => m.mode === 'exact' && at(m));
  const judge = shipped === undefined ? undefined : modes.find((m) => m.mode === 'judge' && at(m) && m.threshold === shipped);
  const halfWidths = exact ? Object.values(exact.gap).map((g) => (g.hi - g.lo) / 2) : [];
  const half = halfWidths.length ? Math.max(...halfWidths) : null;
  const best: FidelitySummary['best_within_gap'] = {};
  for (const mode of ['judge', 'kl', 'entropy', 'exact']) {
    const ok = modes.filter((m) => m.mode === mode && at(m) && worstGap(m) <= budget);
    ok.sort((a, b) => b.tokens_per_pass - a.tokens_per_pass);
    best[mode] = ok[0] ? { label: ok[0].label, tokens_per_pass: ok[0].tokens_per_pass, gap: worstGap(ok[0]) } : null;
  }
  const bestT: FidelitySummary['best_within_gap'] = {};
  for (const mode of ['judge', 'kl', 'entropy', 'exact']) {
    const ok = modes.filter((m) => m.mode === mode && at(m) && targetScoredGap(modes, m) <= budget);
    ok.sort((a, b) => b.tokens_per_pass - a.tokens_per_pass);
    bestT[mode] = ok[0] ? { label: ok[0].label, tokens_per_pass: ok[0].tokens_per_pass, gap: targetScoredGap(modes, ok[0]) } : null;
  }
  return {
    shipped_threshold: shipped ?? null,
    judge_vs_exact_tokens_per_pass: judge && exact ? judge.tokens_per_pass / exact.tokens_per_pass : null,
    judge_quality_gap: judge ? worstGap(judge) : null,
    exact_gap: exact ? exact.gap : {},
    exact_gap_half_width: half,
    too_few_tokens: half === null || half > 0.1,
    best_within_gap: best,
    gap_budget: budget,
    target_scored: {
      judge_gap: judge ? targetScoredGap(modes, judge) : null,
      exact_gap: exact ? targetScoredGap(modes, exact) : null,
      best_within_gap: bestT,
    },
  };
}

/** Points for the plot of one evaluator at one temperature, with the Pareto front flagged. */
export function plotPoints(modes: ModeResult[], evaluator: string, temperature: number) {
  const pts = modes
    .filter((m) => m.temperature === temperature && m.nll[evaluator])
    .map((m) => ({ label: m.label, mode: m.mode, x: m.tokens_per_pass, y: m.nll[evaluator].mean, lo: m.nll[evaluator].lo, hi: m.nll[evaluator].hi }));
  const front = new Set(paretoFront(pts));
  return pts.map((p, i) => ({ ...p, pareto: front.has(i) }));
}
