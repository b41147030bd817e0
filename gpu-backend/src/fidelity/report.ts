import type { TopLevelSpec } from 'vega-lite';
import type { ModeResult } from './run.ts';
import { plotPoints, targetScoredGap, worstGap, type FidelityResult } from './summary.ts';

const f = (x: number | null | undefined, d = 3) => (x == null || !Number.isFinite(x) ? '–' : x.toFixed(d));
const ci = (g: { mean: number; lo: number; hi: number } | undefined, d = 3) => (g ? `${f(g.mean, d)} [${f(g.lo, d)}, ${f(g.hi, d)}]` : '–');

export const plotFile = (evaluator: string) => `plot-${evaluator.replace(/[^A-Za-z0-9._-]/g, '_')}.svg`;

/** Tokens per pass (x) against evaluator NLL (y) at T = 0.8: one point per configuration, Pareto front, target and draft-alone rules. */
export function fidelityPlotSpec(modes: ModeResult[], evaluator: string, temperature = 0.8): TopLevelSpec {
  const values = plotPoints(modes, evaluator, temperature);
  const front = values.filter((p) => p.pareto).sort((a, b) => a.x - b.x);
  const refs = values.filter((p) => p.mode === 'target' || p.mode === 'draft').map((p) => ({ y: p.y, name: p.mode === 'target' ? 'target' : 'draft alone' }));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: `Speed vs quality at T = ${temperature}: NLL under ${evaluator} (lower is better)`,
    width: 560,
    height: 340,
    layer: [
      { data: { values: refs }, mark: { type: 'rule', strokeDash: [6, 4] }, encoding: { y: { field: 'y', type: 'quantitative' }, color: { value: 'gray' } } },
      { data: { values: refs }, mark: { type: 'text', align: 'left', dx: 4, dy: -6 }, encoding: { y: { field: 'y', type: 'quantitative' }, x: { value: 0 }, text: { field: 'name' } } },
      { data: { values: front }, mark: { type: 'line', color: 'black', strokeWidth: 1 }, encoding: { x: { field: 'x', type: 'quantitative' }, y: { field: 'y', type: 'quantitative' }, order: { field: 'x' } } },
      {
        data: { values },
        mark: { type: 'rule' },
        encoding: { x: { field: 'x', type: 'quantitative' }, y: { field: 'lo', type: 'quantitative' }, y2: { field: 'hi' }, color: { field: 'mode', type: 'nominal' } },
      },
      {
        data: { values },
        mark: { type: 'point', filled: true, size: 60 },
        encoding: {
          x: { field: 'x', type: 'quantitative', title: 'tokens per target pass', scale: { zero: false } },
          y: { field: 'y', type: 'quantitative', title: `${evaluator} NLL per token (nats, 95% CI)`, scale: { zero: false } },
          color: { field: 'mode', type: 'nominal', title: 'mode' },
          shape: { field: 'pareto', type: 'nominal', title: 'Pareto front' },
          tooltip: [{ field: 'label' }],
        },
      },
    ],
  };
}

export function renderFidelityReport(r: FidelityResult): string {
  const s = r.summary;
  const evs = r.evaluators;
  const lines: string[] = [];
  lines.push(`# Fidelity: speed and quality of every decoding rule on ${r.bundle}`, '');
  lines.push(
    `${r.started_at}; ${r.machine.cpu_model}, ${r.machine.cores} cores, ${r.machine.memory_gib} GiB, ${r.machine.os}, Node ${r.machine.node}, onnxruntime ${r.machine.onnxruntime}; ` +
      `load average ${r.machine.load_avg_1m} at the start, ${r.machine.load_avg_1m_end ?? '?'} at the end; ${r.wall_s.toFixed(0)} s wall.`,
    '',
    `${r.sizes.prompts} story openings (\`gpu-backend/src/fidelity/prompts.ts\`, never used for training) × seeds ${r.sizes.seeds.join(', ')} at T = 0.8 (one seed greedy) × ${r.sizes.max_tokens} tokens` +
      `${r.sizes.quick ? ' (--quick)' : ''}. Evaluators (neither draft nor target): ${evs.join(', ')}. Configurations interleaved prompt by prompt in one run.`,
    '',
  );
  lines.push('## Headline (K = 8, T = 0.8)', '');
  lines.push(`- judge at its shipped threshold ${f(s.shipped_threshold)}: **${f(s.judge_vs_exact_tokens_per_pass, 2)}× exact's tokens per target pass**, quality gap (worse evaluator) **${f(s.judge_quality_gap)}** (goal: ≥ 1.6× at gap ≤ 0.25).`);
  const d08 = r.modes.find((m) => m.mode === 'draft' && m.temperature === 0.8);
  const t08 = r.modes.find((m) => m.mode === 'target' && m.temperature === 0.8);
  const denom = evs.map((e) => `${e} ${f(d08 && t08 ? d08.nll[e].mean - t08.nll[e].mean : null)}`).join(', ');
  lines.push(`- null check: exact's gap ${evs.map((e) => `${e} ${ci(s.exact_gap[e])}`).join(', ')}; half-width ${f(s.exact_gap_half_width)}. The gap's denominator (draft alone − target NLL, nats/token): ${denom}.` +
    (s.too_few_tokens ? ' **The exact-gap interval is wider than ±0.1: this run has too few tokens to resolve a gap of that size, so gaps below are indicative only.**' : ' Narrower than ±0.1: enough tokens.'));
  lines.push(`- best tokens per pass with gap ≤ ${s.gap_budget}: ` + Object.entries(s.best_within_gap).map(([m, b]) => `${m} ${b ? `${f(b.tokens_per_pass, 2)} (${b.label}, gap ${f(b.gap)})` : 'none'}`).join('; ') + '.');
  const ts = s.target_scored;
  const draftT = r.modes.find((m) => m.mode === 'draft' && m.temperature === 0.8);
  const targetT = r.modes.find((m) => m.mode === 'target' && m.temperature === 0.8);
  lines.push(
    `- scored by the target itself (not independent; resolvable: the draft alone is ${f(draftT && targetT ? draftT.target_nll.mean - targetT.target_nll.mean : null)} nats/token worse there): ` +
      `exact's gap ${f(ts.exact_gap)} (null check), judge at the shipped threshold ${f(ts.judge_gap)}; best tokens per pass with gap ≤ ${s.gap_budget}: ` +
      Object.entries(ts.best_within_gap).map(([m, b]) => `${m} ${b ? `${f(b.tokens_per_pass, 2)} (${b.label}, gap ${f(b.gap)})` : 'none'}`).join('; ') + '.',
    '',
  );
  for (const t of [...new Set(r.modes.map((m) => m.temperature))].sort((a, b) => b - a)) {
    lines.push(`## T = ${t}${t === 0 ? ' (greedy: NLL of greedy text is not a usable quality measure here — shown for speed)' : ''}`, '');
    lines.push(`| config | tokens | tokens/pass | tokens/s | ${evs.map((e) => `NLL ${e} [95% CI]`).join(' | ')} | target NLL | ${evs.map((e) => `gap ${e} [95% CI]`).join(' | ')} | gap scored by target | distinct-2 | agreement with target |`);
    lines.push(`|---|---:|---:|---:|${evs.map(() => '---:|').join('')}---:|${evs.map(() => '---:|').join('')}---:|---:|---:|`);
    for (const m of r.modes.filter((x) => x.temperature === t)) {
      lines.push(`| ${m.label} | ${m.tokens} | ${f(m.tokens_per_pass, 2)} | ${f(m.tokens_per_s, 0)} | ${evs.map((e) => ci(m.nll[e])).join(' | ')} | ${ci(m.target_nll)} | ${evs.map((e) => ci(m.gap[e], 2)).join(' | ')} | ${f(targetScoredGap(r.modes, m), 2)} | ${f(m.distinct2)} | ${f(m.agreement_with_target)} |`);
    }
    lines.push('');
  }
  lines.push('## Plots', '', ...evs.map((e) => `![tokens per pass vs ${e} NLL](${plotFile(e)})`), '');
  lines.push(
    '## How to read this',
    '',
    '- tokens/pass = generated tokens / target forwards (1 for target and draft alone). tokens/s is wall time on this shared CPU, without prefill; compare within the run only.',
    '- NLL = mean negative log-likelihood per generated token under each evaluator, one forward over prompt + continuation; 95% intervals are percentile bootstraps over prompts (1000 resamples, seeded).',
    '- gap = (NLL of the mode − of target) / (of the draft alone − of target), per evaluator, with a paired bootstrap over prompts; 0 = target quality, 1 = the draft\'s. exact\'s gap measures noise only.',
    `- worst gap of a configuration = the larger over evaluators; e.g. judge at the shipped threshold: ${f(worstGap(r.modes.find((m) => m.mode === 'judge' && m.k === 8 && m.temperature === 0.8 && m.threshold === s.shipped_threshold) ?? r.modes[0]))}.`,
    '',
  );
  return lines.join('\n');
}
