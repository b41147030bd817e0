import type { LoadedBundle } from '../bundle/types.ts';
import type { FidelityConfig } from '../fidelity/configs.ts';
import { measureFidelity } from '../fidelity/run.ts';
import { worstGap } from '../fidelity/summary.ts';

export interface BudgetPoint {
  threshold: number;
  tokens_per_pass: number;
  /** The worse over the evaluators. */
  quality_gap: number;
  gap_by_evaluator: Record<string, { mean: number; lo: number; hi: number }>;
}

export interface BudgetChoice {
  max_quality_gap: number;
  /** The most lenient (lowest) threshold whose measured gap is within the budget; 1 = none was. */
  threshold: number;
  met: boolean;
  evaluators: string[];
  prompts: number;
  max_tokens: number;
  k: number;
  temperature: number;
  exact_tokens_per_pass: number;
  points: BudgetPoint[];
}

export const BUDGET_THRESHOLDS = [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95];

/**
 * Threshold from a quality budget: decode `prompts` with judge at each candidate threshold (K = 8,
 * T = 0.8) beside target, exact and the draft alone, score the text with the evaluators (default: the
 * target itself) and keep the most lenient threshold whose worse gap ≤ the budget.
 */
export async function thresholdForBudget(
  bundle: LoadedBundle,
  o: { maxQualityGap: number; prompts: readonly string[]; evaluators: string[]; maxTokens?: number; candidates?: number[]; log?: (line: string) => void },
): Promise<BudgetChoice> {
  const k = 8;
  const temperature = 0.8;
  const maxTokens = o.maxTokens ?? 48;
  const cands = [...new Set(o.candidates ?? BUDGET_THRESHOLDS)].sort((a, b) => a - b);
  const configs: FidelityConfig[] = [
    { mode: 'target', k: null, threshold: null, temperature },
    { mode: 'draft', k: null, threshold: null, temperature },
    { mode: 'exact', k, threshold: null, temperature },
    ...cands.map((t): FidelityConfig => ({ mode: 'judge', k, threshold: t, temperature })),
  ];
  const evaluators = o.evaluators.length ? o.evaluators : [bundle.dir];
  const modes = await measureFidelity(bundle, configs, { prompts: o.prompts, seeds: [0], maxTokens, evaluators, bootstrapReps: 300 });
  const points: BudgetPoint[] = modes
    .filter((m) => m.mode === 'judge')
    .map((m) => ({ threshold: m.threshold!, tokens_per_pass: m.tokens_per_pass, quality_gap: worstGap(m), gap_by_evaluator: m.gap }));
  for (const p of points) o.log?.(`judge: threshold ${p.threshold}: ${p.tokens_per_pass.toFixed(2)} tokens/pass, quality gap ${p.quality_gap.toFixed(3)}`);
  const ok = points.filter((p) => p.quality_gap <= o.maxQualityGap);
  return {
    max_quality_gap: o.maxQualityGap,
    threshold: ok.length ? ok[0].threshold : 1,
    met: ok.length > 0,
    evaluators: Object.keys(modes[0]?.nll ?? {}),
    prompts: o.prompts.length,
    max_tokens: maxTokens,
    k,
    temperature,
    exact_tokens_per_pass: modes.find((m) => m.mode === 'exact')!.tokens_per_pass,
    points,
  };
}
