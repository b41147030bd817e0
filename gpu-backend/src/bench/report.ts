import type { BenchSummary, SweepPoint } from './schema.ts';
import { significant } from './stats.ts';
import { machineSection, n, table } from './markdown.ts';

/** File names of the plots next to report.md. */
export const PLOT_FILES = {
  tokensPerS: 'tokens-per-s.svg',
  acceptedHistogram: 'accepted-per-step.svg',
  gatewayLatency: 'gateway-latency.svg',
} as const;

const pct = (x: number | null | undefined): string => (x == null ? '—' : `${significant(x * 100, 3)}%`);

function splitRow(p: SweepPoint): (string | number)[] {
  const s = p.step_ms;
  const other = s.total - s.draft - s.verify - s.judge - s.rollback;
  return [p.mode, p.k ?? '—', n(s.total), n(s.draft), n(s.verify), n(s.judge), n(s.rollback), n(other), n(s.ort), n(s.js_overhead), n(p.mean_accepted_per_step)];
}

/** The human-readable report: what was measured, on what, and against which goals. */
export function renderReport(s: BenchSummary, plots: { gateway: boolean }): string {
  const m = s.machine;
  const bestPoints = (['target', 'exact', 'judge', 'kl'] as const).flatMap((mode) => {
    const r = s.modes[mode];
    const p = r && s.sweep.find((q) => q.mode === mode && q.k === r.k);
    return p ? [p] : [];
  });
  const g = s.gateway;
  const lines: string[] = [
    `# Verdict benchmark — ${s.started_at.slice(0, 10)} on ${m.host}${s.quick ? ' (quick run)' : ''}`,
    '',
    `Produced by \`${s.config.command ?? (s.quick ? 'verdict bench --quick' : 'npm run bench')}\`${s.config.threads ? ` (onnxruntime intra-op threads: ${s.config.threads})` : ''} in ${n(s.duration_s, 3)} s. Every number below was measured in this one run; modes were interleaved (each prompt decoded by every mode and K in turn) so that drift on a shared machine lands on all of them alike — compare the ratios rather than absolute speeds across runs.`,
    '',
    machineSection(m),
    '',
    `Bundle: \`${s.bundle.name}\` (${s.bundle.dir})${s.bundle.judge ? `, judge head threshold ${n(s.bundle.judge.threshold)} (held-out ROC-AUC ${n(s.bundle.judge.held_out_roc_auc)}, precision ${n(s.bundle.judge.held_out_precision)}, recall ${n(s.bundle.judge.held_out_recall)})` : ', no judge head'}. ${s.config.prompts} prompts × ${s.config.rounds} round(s), ${s.config.max_tokens} new tokens each, temperature 0, K ∈ {${s.config.ks.join(', ')}}.`,
    '',
    '## Goals',
    '',
    table(
      ['goal', 'measured', 'met', 'note'],
      s.goals.map((goal) => [
        goal.goal,
        n(goal.measured),
        goal.met == null ? '—' : goal.met ? (goal.caveat ? 'yes, but see note' : 'yes') : '**no**',
        `${goal.note}${goal.caveat ? ` **Caveat:** ${goal.caveat}` : ''}`.replace(/\|/g, '\\|'),
      ]),
    ),
    '',
    '## Decoding modes',
    '',
    'Each mode at the K where it was fastest:',
    '',
    table(
      ['mode', 'best K', 'tokens/s', 'tokens per step', 'vs target'],
      bestPoints.map((p) => [p.mode, p.k ?? '—', n(p.tokens_per_s), n(p.mean_accepted_per_step), `${n(p.tokens_per_s / (s.modes.target?.tokens_per_s ?? Number.NaN))}×`]),
    ),
    '',
    `Ratios: judge/target ${n(s.ratios.judge_vs_target)}×, judge/exact ${n(s.ratios.judge_vs_exact)}×, target/roofline ${pct(s.ratios.target_vs_roofline)}.`,
    '',
    `![tokens/s by mode and K](${PLOT_FILES.tokensPerS})`,
    '',
    'The whole sweep ("tokens per step" counts the target\'s own token, so it is accepted drafts + 1 except on the last step):',
    '',
    table(
      ['mode', 'K', 'tokens/s', 'tokens per step', 'draft acceptance', 'kept only by judge/kl', 'tokens', 'steps'],
      s.sweep.map((p) => [p.mode, p.k ?? '—', n(p.tokens_per_s), n(p.mean_accepted_per_step), pct(p.acceptance_rate), pct(p.judge_share), p.tokens, p.steps]),
    ),
    '',
    `![accepted tokens per step](${PLOT_FILES.acceptedHistogram})`,
    '',
    '## Memory-bandwidth roofline',
    '',
    `One target decode step reads ${n(s.roofline.target_bytes_per_step / 1e6, 4)} MB of weights (every initializer in target.onnx, embedding tables counted as one row). A raw onnxruntime run over a chain of fp32 MatMuls holding ${n(s.roofline.chain_bytes / 1e6, 4)} MB, 1 token, took ${n(s.roofline.chain_median_ms)} ms (median of ${s.roofline.chain_runs} runs spread through the mode sweep, between prompts, so it saw the same machine as the decoding): **${n(s.roofline.bandwidth_gbs)} GB/s**. So this machine can decode the target at most at ${n(s.roofline.target_bound_tokens_per_s)} tokens/s; target mode reached ${n(s.modes.target?.tokens_per_s)} tokens/s = **${pct(s.ratios.target_vs_roofline)}** of that bound.${(s.ratios.target_vs_roofline ?? 0) > 1 ? ' Above 100% means the chain of square matrices streams a little slower than the target\'s own mix of shapes: read it as "at the bound".' : ''}`,
    '',
    '## Cost split of a step',
    '',
    'Per-step means in ms at each mode\'s best K. draft/verify/judge/fix-up are the engine\'s own timers (DecodeStats); "other" is the rest of the step (sampling, bookkeeping, detokenizing); "in ORT" is time inside `session.run` (all sessions) and "JS" the step time outside it.',
    '',
    table(['mode', 'K', 'step', 'draft', 'verify', 'judge', 'cache fix-up', 'other', 'in ORT', 'JS', 'tokens/step'], bestPoints.map(splitRow)),
    '',
    '## Gateway',
    '',
  ];
  if (g.not_measured) {
    lines.push(`Not measured: ${g.not_measured}`, '');
  } else {
    lines.push(
      `The same requests straight to the backend (\`verdict serve\`, in the bench process) and through the gateway (the worker in Miniflare/workerd, started by scripts/gateway.mjs as \`npm start\` starts it), and through Portkey's open-source gateway (${g.portkey ?? 'not measured'}) in the same run, loopback, one at a time with an undici keep-alive client; misses use a seed never sent before (temperature 0: the same decoding work, a new cache key), direct and gateway requests alternating. ${g.samples_ms ? Object.values(g.samples_ms)[0]?.length : '?'} samples per series.`,
      '',
      table(
        ['measure', 'p50 ms', 'p99 ms'],
        [
          ['cache hit, through the gateway (whole request)', n(g.hit_p50_ms), n(g.hit_p99_ms)],
          ['added to a cache miss (gateway − direct)', n(g.miss_overhead_p50_ms), n(g.miss_overhead_p99_ms)],
          ['added to a stream\'s first byte (gateway − direct)', n(g.stream_ttfb_overhead_p50_ms), '—'],
          ['pass-through (`cache-control: no-store`): added to a request, ours', n(g.passthrough_overhead_p50_ms), '—'],
          ['pass-through: added to a request, Portkey\'s gateway', n(g.portkey_overhead_p50_ms), '—'],
          ['pass-through: added to a stream\'s first byte, ours', n(g.passthrough_stream_ttfb_overhead_p50_ms), '—'],
          ['of which the simulator alone (a forwarding worker in the same Miniflare): request', n(g.simulator_overhead_p50_ms), '—'],
          ['of which the simulator alone: a stream\'s first byte', n(g.simulator_stream_ttfb_overhead_p50_ms), '—'],
          ['pass-through: added to a stream\'s first byte, Portkey\'s gateway', n(g.portkey_stream_ttfb_overhead_p50_ms), '—'],
          ['loopback floor: GET /healthz straight to the backend', n(g.loopback_floor_p50_ms), '—'],
          ['time inside the worker (Server-Timing `edge`) on a hit', n(g.hit_edge_p50_ms), '—'],
          ['time inside the worker (Server-Timing `edge`) on a miss', n(g.miss_edge_p50_ms), '—'],
          ['stream first byte straight from the backend', n(g.stream_ttfb_direct_p50_ms), '—'],
          ['the worker\'s wait for that first byte through workerd (Server-Timing `upstream`)', n(g.stream_upstream_p50_ms), '—'],
        ],
      ),
      '',
      `Cache-hit throughput: **${n(g.hit_throughput_rps)} requests/s** with ${g.concurrency ?? '?'} concurrent connections.`,
      '',
    );
    if (plots.gateway) lines.push(`![gateway latency](${PLOT_FILES.gatewayLatency})`, '');
  }
  lines.push('## Memory of verdict serve', '');
  const mem = s.memory;
  if (!mem || mem.not_measured || mem.weight_bytes == null) {
    lines.push(`Not measured: ${mem?.not_measured ?? 'this summary predates the section'}`, '');
  } else {
    const mib = (b: number | null | undefined) => n(b == null ? null : b / 2 ** 20, 4);
    const w = mem.workload;
    lines.push(
      `\`verdict serve\` on this bundle, started as a child process with its defaults${mem.args?.length ? ` plus \`${mem.args.join(' ')}\`` : ''}; VmRSS, VmHWM, RssAnon and RssFile read from /proc/<pid>/status at each phase. Workload: ${w ? `${w.requests_per_mode} requests per mode (${w.modes.join(', ')}, alternating), ${w.max_tokens} tokens each, temperature 0, K=4` : '?'}, one at a time. Weights (target.onnx + draft.onnx): ${mib(mem.weight_bytes)} MiB.`,
      '',
      table(
        ['phase', 'RSS MiB', 'peak (VmHWM) MiB', 'anonymous MiB', 'file-backed MiB', 'RSS ÷ weights'],
        mem.phases.map((p) => [p.phase, mib(p.rss_bytes), mib(p.hwm_bytes), mib(p.anon_bytes), mib(p.file_bytes), `${n(p.rss_bytes / mem.weight_bytes!)}×`]),
      ),
      '',
      `Steady RSS **${mib(mem.steady_rss_bytes)} MiB = ${n(mem.steady_vs_weights)}× the weights**, peak ${mib(mem.peak_rss_bytes)} MiB = ${n(mem.peak_vs_weights)}×. Served tokens/s during the workload: ${Object.entries(mem.tokens_per_s).map(([m, v]) => `${m} ${n(v)}`).join(', ')}.${mem.launcher_rss_bytes != null ? ` The launcher process that set malloc's environment holds another ${mib(mem.launcher_rss_bytes)} MiB RSS (${mib(mem.launcher_anon_bytes)} MiB of it anonymous; the rest is the node binary, shared with the server).` : ''}`,
      '',
    );
  }
  if (s.notes.length) lines.push('## Notes', '', ...s.notes.map((note) => `- ${note}`), '');
  lines.push(
    '## How to read this',
    '',
    '- tokens/s = new tokens ÷ decode time (prefill excluded), summed over all prompts of a configuration.',
    '- The machine may be shared: the load average above says how busy it was when the run began.',
    '- `summary.json` next to this file holds every number here (schema: `gpu-backend/src/bench/schema.ts`).',
    '',
  );
  return lines.join('\n');
}
