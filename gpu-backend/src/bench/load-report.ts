import type { CachePolicySummary, LoadSummary } from './schema.ts';
import { machineSection, n, table } from './markdown.ts';

/** File names of the load run's plots next to its report.md. */
export const LOAD_PLOT_FILES = {
  throughput: 'load-tokens-per-s.svg',
  itl: 'load-p99-itl.svg',
} as const;

const x = (v: number | null | undefined) => (v == null ? '—' : `${n(v)}×`);
const mib = (b: number | null | undefined) => (b == null ? '—' : n(b / 2 ** 20, 4));

/** The "Load" section: method, goals, the table, the ratios side by side, the plots, batch metrics. */
export function renderLoadSection(s: LoadSummary): string {
  const c = s.config;
  const rows = [...s.load].sort((a, b) => a.streams - b.streams || c.modes.indexOf(a.mode) - c.modes.indexOf(b.mode) || (a.batching === b.batching ? 0 : a.batching === 'on' ? -1 : 1));
  const modes = c.modes;
  const lines: string[] = [
    '## Load: concurrent streams through verdict serve',
    '',
    `Two \`verdict serve\` child processes on the same bundle, one \`--batching on\` and one \`--batching off\` (flags: ${s.servers.map((v) => `\`${v.args.join(' ')}\``).join(' and ')}), both loaded once before anything was measured; their workers reported batching ${s.servers.map((v) => `${v.batching}: engine ${v.engine_batching.length ? v.engine_batching.map((b) => (b ? 'batches' : 'does not batch')).join('/') : 'silent'}`).join(', ')}. ` +
      `Configurations (mode × batching × streams) ran one at a time in an interleaved order: for each of ${c.rounds} round(s), for each streams value, for each mode, both servers back to back, which one first alternating. ` +
      `Each stream is a closed loop of streaming \`${c.endpoint}\` requests (temperature 0, max_tokens ${c.max_tokens}, \`speculative: {mode${c.k ? `, k: ${c.k}` : ''}}\`, \`stream_options.include_usage\`; prompts from the bench set, different per stream and per request) over an undici keep-alive agent. ` +
      `Per configuration and round: ${c.warmup_requests} warm-up request(s) per stream (not counted), all streams wait for each other, then ${c.requests_per_stream} measured requests per stream back to back from one common start (a fixed number of requests, not a fixed time).`,
    '',
    '- **aggregate tokens/s** = completion tokens (the final chunk\'s `usage`) of every measured request ÷ wall time of the measured window (common start → last byte of the last stream), summed over rounds.',
    '- **per-stream tokens/s** = mean over streams of a stream\'s tokens ÷ its own time (common start → its last byte).',
    '- **TTFT** = request sent → first content chunk (a chunk carrying tokens; the chat opener with the role is not one), p50 over requests.',
    '- **ITL** = gap between consecutive content chunks of one response, as the client receives them, pooled over every response of the configuration. A speculative step sends every token it accepted in one chunk, so this is time per *step*; **ITL/token** divides each gap by the tokens of the chunk that ends it. Chunks that arrive in one read of the socket share a timestamp (a gap of 0), which happens when steps take less than the loopback round trip (the tiny bundle).',
    '- Percentiles are nearest-rank over the pooled samples; with fewer than 100 samples, p99 is the largest.',
    '- **RSS** = VmRSS of the server that ran the configuration, read from /proc at its end (the last round\'s reading).',
    '',
    '### Goals (batching on)',
    '',
    table(
      ['goal', 'measured', 'met', 'note'],
      s.goals.map((g) => [g.goal, n(g.measured), g.met == null ? '—' : g.met ? 'yes' : '**no**', g.note.replace(/\|/g, '\\|')]),
    ),
    '',
    '### Results',
    '',
    table(
      ['streams', 'mode', 'batching', 'agg tok/s', 'per-stream tok/s', 'TTFT p50 ms', 'ITL p50 ms', 'ITL p99 ms', 'ITL/token p50 ms', 'ITL/token p99 ms', 'RSS MiB', 'requests', 'tokens'],
      rows.map((r) => [r.streams, r.mode, r.batching, n(r.agg_tokens_per_s), n(r.per_stream_tokens_per_s), n(r.ttft_ms), n(r.p50_itl_ms), n(r.p99_itl_ms), n(r.p50_itl_per_token_ms), n(r.p99_itl_per_token_ms), mib(r.rss_bytes), r.requests, r.tokens]),
    ),
    '',
    '### Ratios the goals use, side by side',
    '',
    table(
      ['streams', 'target agg ÷ 1 stream (on)', '(off)', 'best speculative ÷ target (on)', '(off)', ...modes.map((m) => `p99 ITL ÷ 1 stream, ${m} (on)`), 'RSS on − off MiB'],
      s.ratios.map((r) => [
        r.streams,
        x(r.target_scaling_on),
        x(r.target_scaling_off),
        r.best_spec_mode_on ? `${r.best_spec_mode_on} ${x(r.best_spec_vs_target_on)}` : '—',
        r.best_spec_mode_off ? `${r.best_spec_mode_off} ${x(r.best_spec_vs_target_off)}` : '—',
        ...modes.map((m) => x(r.p99_itl_vs_1_on[m])),
        mib(r.rss_on_minus_off_bytes),
      ]),
    ),
    '',
    `![aggregate tokens/s by streams](${LOAD_PLOT_FILES.throughput})`,
    '',
    `![p99 inter-token latency by streams](${LOAD_PLOT_FILES.itl})`,
    '',
    '### Batch metrics of the servers',
    '',
  ];
  const withMetrics = rows.filter((r) => r.metrics && Object.keys(r.metrics).length);
  if (withMetrics.length === 0) lines.push('Neither server exposes a Prometheus series whose name contains `batch` or `spec_k` (none are measured here yet).', '');
  else {
    lines.push('Every `/metrics` series whose name contains `batch` or `spec_k`, read at the end of each configuration: its change during the configuration (value at the end in brackets).', '');
    for (const r of withMetrics) {
      lines.push(`- ${r.streams} streams, ${r.mode}, batching ${r.batching}: ${Object.entries(r.metrics!).map(([k, v]) => `\`${k}\` ${n(v.delta)} (${n(v.value)})`).join(', ')}`);
    }
    lines.push('');
  }
  return lines.join('\n');
}

const pct = (v: number) => `${n(v * 100)}%`;

/**
 * The "Batch cache: masking vs compacting" section: one engine per compactWaste on the bundle, the
 * same concurrent greedy decodes on each; the table, and tokens/s ÷ W = 0 side by side.
 */
export function renderCachePolicySection(c: NonNullable<LoadSummary['cache_policy_config']>, rows: NonNullable<LoadSummary['cache_policy']>): string {
  const ws = c.wastes;
  const lines = [
    '## Batch cache: masking vs compacting',
    '',
    `Engine level, no HTTP: one engine per \`batch.compactWaste\` W ∈ {${ws.join(', ')}} on the same bundle (\`createEngine(bundle, { intraOpThreads: ${c.threads}, batch: { enabled: true, specK: 'fixed', compactWaste: W } })\`), all loaded before anything was measured. ` +
      `A rejection leaves the row's dead slots in the batch KV tensors, masked out by \`attention_mask\`; the cache compacts (one copy of the live slots) when the dead part of the slot axis passes W. W = 0 compacts after every step that left dead slots, i.e. moves memory on every rejection; 0.5 is the default. ` +
      `Workload: ${c.streams} concurrent greedy decodes (K = ${c.k}, max_tokens ${c.max_tokens}, prompts of the bench set) per mode (${c.modes.join(', ')}), after a short warm-up on each engine; ${c.rounds} round(s), round-robin over W (the order reversed every other round).`,
    '',
    '- **agg tokens/s** = completion tokens of all decodes ÷ wall time (first decode started → last done), summed over rounds.',
    '- **compact ms** = `stats.batch.compactMs` summed once per batched step (each row\'s step event carries its step\'s info: Σ compactMs ÷ rows); **share** = compact ms ÷ wall time.',
    '- **dead / cache MiB** = `stats.batch.deadBytes` / `cacheBytes` (both decoders\' batch caches, after each step): mean over steps and max. The dead bytes are the extra memory of masking.',
    '- The answers (every decode\'s tokens) were identical across every W and round; the run fails when they are not.',
    '',
    table(
      ['W', 'mode', 'agg tok/s', '÷ W=0', 'compact ms', 'compact share', 'steps', 'mean dead MiB', 'max dead MiB', 'mean cache MiB', 'max cache MiB', 'tokens'],
      rows.map((r) => [r.compact_waste, r.mode, n(r.agg_tokens_per_s), x(r.tokens_per_s_vs_w0), n(r.compact_ms), pct(r.compact_ms_share), r.steps, mib(r.mean_dead_bytes), mib(r.max_dead_bytes), mib(r.mean_cache_bytes), mib(r.max_cache_bytes), r.tokens]),
    ),
    '',
    '### tokens/s ÷ W = 0, side by side',
    '',
    table(
      ['mode', ...ws.map((w) => `W=${w}`)],
      c.modes.map((m) => [m, ...ws.map((w) => x(rows.find((r) => r.mode === m && r.compact_waste === w)?.tokens_per_s_vs_w0))]),
    ),
    '',
  ];
  return lines.join('\n');
}

/** `verdict bench --cache-policy` without --json: the section, after one line on where it ran. */
export function renderCachePolicyAlone(s: CachePolicySummary): string {
  const m = s.machine;
  return [
    `Bundle \`${s.bundle.name}\` (${s.bundle.dir}) on ${m.host}: ${m.cpu_model}, ${m.cores} cores, load avg (1 min) ${n(m.load_avg_1m)} at start / ${n(m.load_avg_1m_end)} at end; ${n(s.duration_s)} s.`,
    '',
    renderCachePolicySection(s.cache_policy_config, s.cache_policy),
    ...s.notes.map((note) => `- ${note}`),
  ].join('\n');
}

/** The whole report.md of `verdict bench --load`. */
export function renderLoadReport(s: LoadSummary): string {
  const m = s.machine;
  const lines = [
    `# Verdict load benchmark — ${s.started_at.slice(0, 10)} on ${m.host}${s.quick ? ' (quick run)' : ''}`,
    '',
    `Produced by \`${s.config.command ?? 'verdict bench --load'}\` in ${n(s.duration_s)} s. Bundle \`${s.bundle.name}\` (${s.bundle.dir}); onnxruntime intra-op threads ${s.config.threads || 'runtime default'}. Every number below was measured in this one run.`,
    '',
    machineSection(m),
    '',
    renderLoadSection(s),
  ];
  if (s.cache_policy_config && s.cache_policy) lines.push(renderCachePolicySection(s.cache_policy_config, s.cache_policy));
  if (s.notes.length) lines.push('## Notes', '', ...s.notes.map((note) => `- ${note}`), '');
  lines.push('`summary.json` next to this file holds every number here (schema: `LoadSummarySchema` in `gpu-backend/src/bench/schema.ts`).', '');
  return lines.join('\n');
}
