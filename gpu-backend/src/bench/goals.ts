import type { BenchSummary, SweepPoint } from './schema.ts';
import { significant } from './stats.ts';

type Goal = BenchSummary['goals'][number];
type Partial = Omit<BenchSummary, 'goals'>;

const fmt = (x: number, d = 3) => String(significant(x, d));

/** Where a speculative step's time went, at the point measured: the text that explains a miss. */
export function stepSplitText(p: SweepPoint): string {
  const s = p.step_ms;
  return (
    `${p.mode} at K=${p.k}: a step takes ${fmt(s.total)} ms (draft ${fmt(s.draft)}, verify ${fmt(s.verify)}, judge ${fmt(s.judge)}, ` +
    `cache fix-up ${fmt(s.rollback)}; JS outside onnxruntime ${fmt(s.js_overhead)}) and yields ${fmt(p.mean_accepted_per_step)} tokens`
  );
}

function best(s: Partial, mode: string): SweepPoint | undefined {
  const r = s.modes[mode as keyof Partial['modes']];
  if (!r) return undefined;
  return s.sweep.find((p) => p.mode === mode && p.k === r.k);
}

function ratioGoal(name: string, goal: string, measured: number | null, want: number, explain: () => string): Goal {
  if (measured == null) return { name, goal, measured: null, met: null, note: 'not measured' };
  const met = measured >= want;
  const note = met ? `met (${fmt(measured)}×)` : `missed: ${fmt(measured)}× is ${fmt(want / measured)}× short of ${want}×. ${explain()}`;
  return { name, goal, measured, met, note };
}

function ceilingGoal(name: string, goal: string, measured: number | null | undefined, limit: number, explain: () => string, why?: string): Goal {
  if (measured == null) return { name, goal, measured: null, met: null, note: why ? `not measured: ${why}` : 'not measured' };
  const met = measured <= limit;
  return { name, goal, measured, met, note: met ? `met (${fmt(measured)} ms)` : `missed by ${fmt(measured - limit)} ms. ${explain()}` };
}

/** verdict serve's steady RSS against its weights: meaningful on the bench pair only (a tiny bundle is all runtime). */
function memoryGoal(s: Partial): Goal {
  const name = 'serve RSS ≤ 1.5× weights';
  const goal = 'steady-state RSS of verdict serve ≤ 1.5 × the bundle’s weight bytes';
  const m = s.memory;
  if (!m || m.steady_vs_weights == null) return { name, goal, measured: null, met: null, note: m?.not_measured ? `not measured: ${m.not_measured}` : 'not measured' };
  const mb = (b: number | null | undefined) => (b == null ? '?' : fmt(b / 2 ** 20, 4));
  const ready = m.phases.find((p) => p.phase === 'ready');
  const split =
    `Steady ${mb(m.steady_rss_bytes)} MiB for ${mb(m.weight_bytes)} MiB of weights: ${mb(m.phases.at(-1)?.file_bytes)} MiB file-backed (node, onnxruntime's library), ` +
    `${mb(m.phases.find((p) => p.phase === 'listening')?.anon_bytes)} MiB anonymous before the model loads (the HTTP thread), ${mb(ready && m.phases[0] ? ready.anon_bytes - m.phases[0].anon_bytes : null)} MiB more once the worker has loaded both decoders.`;
  if (s.quick) return { name, goal, measured: m.steady_vs_weights, met: null, note: `not judged on the quick run's tiny bundle (the runtime dwarfs its weights). ${split}` };
  const met = m.steady_vs_weights <= 1.5;
  return { name, goal, measured: m.steady_vs_weights, met, note: met ? `met (${fmt(m.steady_vs_weights)}×). ${split}` : `missed: ${fmt(m.steady_vs_weights)}× against 1.5×. ${split}` };
}

/** The goals, each with its measured value and, when missed, by how much and what the cost split shows. */
export function evaluateGoals(s: Partial): Goal[] {
  const target = best(s, 'target');
  const judge = best(s, 'judge');
  const exact = best(s, 'exact');
  const targetStep = target ? `target: ${fmt(target.step_ms.total)} ms per 1-token step` : '';
  const g = s.gateway;
  const gwWhy = g.not_measured;

  const hitSplit = () =>
    g.hit_p50_ms != null && g.hit_edge_p50_ms != null
      ? `Of the ${fmt(g.hit_p50_ms)} ms, the worker's own time (Server-Timing edge, whole ms: workerd's clock only advances across I/O) is ${fmt(g.hit_edge_p50_ms)} ms p50 and ` +
        `the remaining ${fmt(g.hit_p50_ms - g.hit_edge_p50_ms)} ms is the HTTP hop into and out of workerd through Miniflare; a bare loopback round trip to the Node backend takes ${fmt(g.loopback_floor_p50_ms ?? Number.NaN)} ms here.`
      : 'The gateway did not report its Server-Timing, so the split is unknown.';
  const streamSplit = () => {
    const added = g.stream_ttfb_overhead_p50_ms;
    const edge = g.miss_edge_p50_ms;
    const up = g.stream_upstream_p50_ms;
    const direct = g.stream_ttfb_direct_p50_ms;
    if (added == null || edge == null || up == null || direct == null) return 'The gateway did not report its Server-Timing, so the split is unknown.';
    return (
      `Added ${fmt(added)} ms p50 = the worker's own time ${fmt(edge)} ms (edge: validation, key hashing, cache lookup) + ` +
      `its wait for the backend's first byte beyond a direct client's (${fmt(up)} − ${fmt(direct)} = ${fmt(up - direct)} ms) + ` +
      `${fmt(added - edge - (up - direct))} ms of transport through workerd and Miniflare.`
    );
  };
  // A judge that keeps (nearly) every draft makes judge mode "accept all": fast, but not a judgement.
  const acceptsAll = judge != null && (judge.acceptance_rate ?? 0) >= 0.99;
  const h = s.bundle?.judge;
  const acceptAllCaveat = acceptsAll
    ? `judge kept ${fmt(100 * (judge.acceptance_rate ?? 0))}% of the drafts at K=${judge.k}: the head` +
      (h ? ` (threshold ${fmt(h.threshold)}, held-out ROC-AUC ${h.held_out_roc_auc == null ? '?' : fmt(h.held_out_roc_auc)})` : '') +
      ' accepts essentially everything, so this is the speed of accepting every draft, not of a discriminating judge; its output is no longer the target\'s.'
    : undefined;
  const withCaveat = (goal: Goal): Goal => (acceptAllCaveat && goal.met ? { ...goal, caveat: acceptAllCaveat } : goal);
  return [
    withCaveat(ratioGoal('judge ≥ 3× target', 'judge tokens/s ≥ 3 × target tokens/s', s.ratios.judge_vs_target, 3, () => {
      if (!judge || !target) return 'judge mode was not measured.';
      const rel = judge.step_ms.total / target.step_ms.total;
      return (
        `${stepSplitText(judge)}; ${targetStep}. Speed-up = tokens per step ÷ (step time ÷ target step time) = ${fmt(judge.mean_accepted_per_step)} ÷ ${fmt(rel)}. ` +
        `At this step cost 3× needs ${fmt(3 * rel)} tokens per step. Verifying K+1 tokens costs ${fmt(judge.step_ms.verify / target.step_ms.total)}× a 1-token target step and drafting ${fmt(judge.step_ms.draft / target.step_ms.total)}×; ` +
        `the judge kept ${fmt(100 * (judge.judge_share ?? 0))}% of the accepted drafts beyond what the exact rule keeps.`
      );
    })),
    withCaveat(ratioGoal('judge ≥ 1.5× exact', 'judge tokens/s ≥ 1.5 × exact tokens/s', s.ratios.judge_vs_exact, 1.5, () =>
      judge && exact
        ? `Both draft and verify alike per step; the judge's gain is only the drafts it keeps that exact rejects (${fmt(100 * (judge.judge_share ?? 0))}% of its accepted drafts here), ` +
          `so tokens per step are ${fmt(judge.mean_accepted_per_step)} (judge, K=${judge.k}) vs ${fmt(exact.mean_accepted_per_step)} (exact, K=${exact.k}). ${stepSplitText(judge)}; ${stepSplitText(exact)}.`
        : 'judge or exact was not measured.',
    )),
    ratioGoal('target ≥ 80% of roofline', 'target tokens/s ≥ 0.8 × (bandwidth ÷ weight bytes per step)', s.ratios.target_vs_roofline, 0.8, () =>
      target
        ? `A target step takes ${fmt(target.step_ms.total)} ms, of which ${fmt(target.step_ms.ort)} ms inside onnxruntime and ${fmt(target.step_ms.js_overhead)} ms of JS; streaming the weights at the measured bandwidth takes ${fmt((1000 / s.roofline.target_bound_tokens_per_s))} ms.`
        : '',
    ),
    ceilingGoal('gateway hit p50 ≤ 1 ms', 'a cache hit through the gateway ≤ 1 ms at p50', g.hit_p50_ms, 1, hitSplit, gwWhy),
    ceilingGoal('gateway stream TTFB ≤ +2 ms', 'the gateway adds ≤ 2 ms to a stream’s first byte at p50', g.stream_ttfb_overhead_p50_ms, 2, streamSplit, gwWhy),
    memoryGoal(s),
  ];
}
