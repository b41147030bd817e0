import { z } from 'zod';
import { MODES } from '@verdict/protocol';

/** The summary `verdict bench --json` prints and `summary.json` holds. Validated before it is written. */
export const BENCH_FORMAT = 'verdict-bench/1';

const Num = z.number().refine(Number.isFinite, 'must be a finite number');
const NullableNum = Num.nullable();

export const MachineSchema = z.object({
  host: z.string(),
  cpu_model: z.string(),
  cores: z.number().int().positive(),
  memory_gib: Num,
  os: z.string(),
  node: z.string(),
  onnxruntime: z.string(),
  load_avg_1m: Num,
  load_avg_1m_end: Num.optional(),
});

export const ModeResultSchema = z.object({
  /** At the K where this mode peaked (null for target, which drafts nothing). */
  k: z.number().int().positive().nullable(),
  tokens_per_s: Num,
  mean_accepted_per_step: Num,
});

export const SweepPointSchema = z.object({
  mode: z.enum(MODES),
  k: z.number().int().positive().nullable(),
  tokens_per_s: Num,
  mean_accepted_per_step: Num,
  /** Draft tokens kept / drafted (null in target mode). */
  acceptance_rate: NullableNum,
  /** Share of kept draft tokens kept only by the judge / kl rule. */
  judge_share: NullableNum,
  tokens: z.number().int().nonnegative(),
  steps: z.number().int().nonnegative(),
  /** Decode time (prefill excluded) summed over every generation of this point. */
  decode_ms: Num,
  /** Per-step means, in ms: where a speculative step's time goes. */
  step_ms: z.object({
    total: Num,
    draft: Num,
    verify: Num,
    judge: Num,
    rollback: Num,
    /** Time inside onnxruntime's session.run during decoding (all sessions). */
    ort: Num,
    /** Step time spent outside session.run: the engine's JavaScript. */
    js_overhead: Num,
  }),
  /** histogram[i] = steps that accepted exactly i draft tokens. */
  accepted_histogram: z.array(z.number().int().nonnegative()),
});
export type SweepPoint = z.infer<typeof SweepPointSchema>;

export const RooflineSchema = z.object({
  target_bytes_per_step: z.number().int().positive(),
  chain_bytes: z.number().int().positive(),
  chain_median_ms: Num,
  /** Chain runs measured, spread through the sweep (between prompts). */
  chain_runs: z.number().int().positive(),
  bandwidth_gbs: Num,
  /** bandwidth ÷ bytes per step: the fastest 1-token decoding this machine's memory allows. */
  target_bound_tokens_per_s: Num,
});

export const GatewaySchema = z.object({
  hit_p50_ms: NullableNum,
  hit_p99_ms: NullableNum,
  /** Through the gateway minus straight to the backend, p50 of each, on requests the cache has not seen. */
  miss_overhead_p50_ms: NullableNum,
  miss_overhead_p99_ms: NullableNum.optional(),
  stream_ttfb_overhead_p50_ms: NullableNum,
  hit_throughput_rps: NullableNum.optional(),
  /** p50 of a bare GET straight to the backend: the loopback HTTP round trip every request pays. */
  loopback_floor_p50_ms: NullableNum.optional(),
  /** p50 of the gateway's own `edge` Server-Timing (time in the worker, the backend wait excluded). */
  hit_edge_p50_ms: NullableNum.optional(),
  miss_edge_p50_ms: NullableNum.optional(),
  /** p50 first byte of a stream straight from the backend, and the gateway's own wait for it (Server-Timing `upstream`). */
  stream_ttfb_direct_p50_ms: NullableNum.optional(),
  stream_upstream_p50_ms: NullableNum.optional(),
  concurrency: z.number().int().positive().optional(),
  /** Pass-through: `cache-control: no-store` (no cache at all) through our gateway, minus direct; JSON total and a stream's first byte. */
  passthrough_overhead_p50_ms: NullableNum.optional(),
  passthrough_stream_ttfb_overhead_p50_ms: NullableNum.optional(),
  /** The same requests through a worker that only forwards, in the same Miniflare: the simulator's share of ours. */
  simulator_overhead_p50_ms: NullableNum.optional(),
  simulator_stream_ttfb_overhead_p50_ms: NullableNum.optional(),
  /** The same requests through Portkey's open-source gateway (@portkey-ai/gateway on Node) in the same run, minus direct. */
  portkey_overhead_p50_ms: NullableNum.optional(),
  portkey_stream_ttfb_overhead_p50_ms: NullableNum.optional(),
  /** Portkey's version, or why it was not measured. */
  portkey: z.string().optional(),
  /** Raw latency samples per series, for the plot and for anyone re-deriving the numbers. */
  samples_ms: z.record(z.string(), z.array(Num)).optional(),
  /** Set when the section could not run: why. */
  not_measured: z.string().optional(),
});
export type GatewayResult = z.infer<typeof GatewaySchema>;

export const MemoryPhaseSchema = z.object({
  phase: z.enum(['listening', 'ready', 'first_request', 'workload', 'steady']),
  rss_bytes: Num,
  hwm_bytes: Num,
  anon_bytes: Num,
  file_bytes: Num,
});

/** `verdict serve` started as a child process on the bench bundle, its /proc/<pid>/status read at each phase. */
export const MemorySchema = z.object({
  /** How the server was started: `default` (its defaults) or the name of a comparison config. */
  config: z.string().nullable(),
  args: z.array(z.string()).optional(),
  /** Bytes of target.onnx + draft.onnx. */
  weight_bytes: NullableNum,
  /** VmRSS after the workload and a second of idling. */
  steady_rss_bytes: NullableNum,
  /** VmHWM at that point: the highest RSS of the server's life, loading included. */
  peak_rss_bytes: NullableNum,
  steady_vs_weights: NullableNum,
  peak_vs_weights: NullableNum,
  phases: z.array(MemoryPhaseSchema),
  /** The launcher process (when it re-ran the server with malloc's settings): its RSS and anonymous RSS. */
  launcher_rss_bytes: NullableNum.optional(),
  launcher_anon_bytes: NullableNum.optional(),
  /** Served speed of the workload: completion tokens ÷ summed timings.total_ms, per mode. */
  tokens_per_s: z.record(z.string(), Num),
  workload: z.object({ requests_per_mode: z.number().int().nonnegative(), max_tokens: z.number().int().positive(), modes: z.array(z.string()) }).optional(),
  load_ms: NullableNum.optional(),
  not_measured: z.string().optional(),
});
export type MemoryResult = z.infer<typeof MemorySchema>;

export const GoalSchema = z.object({
  name: z.string(),
  goal: z.string(),
  measured: NullableNum,
  met: z.boolean().nullable(),
  note: z.string(),
  /** Set when the goal is met for a reason that makes the number mean less than it seems. */
  caveat: z.string().optional(),
});

export const BenchSummarySchema = z.object({
  format: z.literal(BENCH_FORMAT),
  quick: z.boolean(),
  started_at: z.string(),
  duration_s: Num,
  machine: MachineSchema,
  bundle: z.object({
    name: z.string(),
    dir: z.string(),
    meta: z.record(z.string(), z.unknown()).optional(),
    /** The judge head judge mode used: its threshold and what its training measured on held-out data. */
    judge: z.object({ threshold: Num, held_out_roc_auc: NullableNum, held_out_precision: NullableNum, held_out_recall: NullableNum }).nullable().optional(),
  }),
  config: z.object({
    prompts: z.number().int().positive(),
    max_tokens: z.number().int().positive(),
    ks: z.array(z.number().int().positive()).min(1),
    rounds: z.number().int().positive(),
    /** onnxruntime intra-op threads of every session (engine and roofline alike). */
    threads: z.number().int().positive().optional(),
    /** The command line that produced this run. */
    command: z.string().optional(),
  }),
  /** judge is null only when the bundle has no judge head (`notes` says so). */
  modes: z.object({ target: ModeResultSchema, exact: ModeResultSchema, judge: ModeResultSchema.nullable(), kl: ModeResultSchema }),
  sweep: z.array(SweepPointSchema).min(1),
  roofline: RooflineSchema,
  ratios: z.object({ judge_vs_target: NullableNum, judge_vs_exact: NullableNum, target_vs_roofline: NullableNum }),
  gateway: GatewaySchema,
  /** RSS of `verdict serve` on the decoding bundle (absent in summaries written before it was measured). */
  memory: MemorySchema.optional(),
  goals: z.array(GoalSchema),
  /** Anything a reader must know to trust the numbers (skipped sections, fallbacks). */
  notes: z.array(z.string()),
});
export type BenchSummary = z.infer<typeof BenchSummarySchema>;

/** The summary `verdict bench --load --json` prints and its `summary.json` holds. */
export const LOAD_FORMAT = 'verdict-bench-load/1';

export const BatchingSchema = z.enum(['on', 'off']);

/** A batch-related Prometheus series of the server (name contains `batch` or `spec_k`): its value at the end of the configuration and its change during it. */
export const LoadMetricSchema = z.object({ value: Num, delta: Num });

/** One configuration of the load run (mode × batching × concurrent streams), its rounds pooled. */
export const LoadRowSchema = z.object({
  mode: z.enum(MODES),
  batching: BatchingSchema,
  streams: z.number().int().positive(),
  /** Completion tokens (each request's final `usage`) ÷ wall time of the measured window, summed over rounds. */
  agg_tokens_per_s: Num,
  /** Mean over streams of one stream's tokens ÷ its own time in the window (window start to its last byte). */
  per_stream_tokens_per_s: Num,
  /** p50 time to first token: request sent → first content chunk arrived. */
  ttft_ms: Num,
  ttft_p99_ms: Num,
  /** Inter-token latency: gap between consecutive content chunks of one response (one chunk may carry several tokens). */
  p50_itl_ms: NullableNum,
  p99_itl_ms: NullableNum,
  /** The same gaps, each divided by the tokens in the chunk that ends it. */
  p50_itl_per_token_ms: NullableNum,
  p99_itl_per_token_ms: NullableNum,
  /** VmRSS of the server that ran it, read at the end of the configuration (null where /proc is missing). */
  rss_bytes: NullableNum,
  peak_rss_bytes: NullableNum,
  /** Measured requests (warm-ups excluded), their usage tokens, the tokens counted in their content chunks, content chunks. */
  requests: z.number().int().positive(),
  tokens: z.number().int().nonnegative(),
  chunk_tokens: z.number().int().nonnegative(),
  chunks: z.number().int().nonnegative(),
  /** Wall time of the measured windows, summed over rounds. */
  window_s: Num,
  metrics: z.record(z.string(), LoadMetricSchema).optional(),
});
export type LoadRow = z.infer<typeof LoadRowSchema>;

/**
 * One compactWaste × mode of the batch-cache comparison (`verdict bench --load` / `--cache-policy`): the
 * same 8 concurrent greedy decodes on an engine whose batch cache compacts when this fraction of its
 * slots is dead (0: after every step that left dead slots), rounds pooled.
 */
export const CachePolicyRowSchema = z.object({
  compact_waste: z.number().min(0).max(1),
  mode: z.enum(MODES),
  /** Completion tokens of every decode ÷ wall time of the runs (first decode started → last done), summed over rounds. */
  agg_tokens_per_s: Num,
  /** agg_tokens_per_s ÷ the same mode's at compact_waste 0 (null without that row). */
  tokens_per_s_vs_w0: NullableNum,
  /** Time spent compacting, each batched step counted once (Σ over step events of compactMs ÷ rows). */
  compact_ms: Num,
  /** compact_ms ÷ wall time. */
  compact_ms_share: Num,
  /** Batched steps (Σ over step events of 1 ÷ rows). */
  steps: z.number().int().nonnegative(),
  /** Dead (masked, not yet compacted) bytes of both batch caches after each step: mean over steps and max. */
  mean_dead_bytes: Num,
  max_dead_bytes: Num,
  /** Bytes of both batch caches after each step: mean over steps and max. */
  mean_cache_bytes: Num,
  max_cache_bytes: Num,
  tokens: z.number().int().nonnegative(),
  wall_s: Num,
  runs: z.number().int().positive(),
});
export type CachePolicyRow = z.infer<typeof CachePolicyRowSchema>;

export const CachePolicyConfigSchema = z.object({
  wastes: z.array(z.number().min(0).max(1)).min(1),
  modes: z.array(z.enum(MODES)),
  streams: z.number().int().positive(),
  k: z.number().int().positive(),
  max_tokens: z.number().int().positive(),
  rounds: z.number().int().positive(),
  threads: z.number().int().nonnegative(),
});

/** `verdict bench --cache-policy --json`: the comparison alone. */
export const CACHE_POLICY_FORMAT = 'verdict-bench-cache-policy/1';
export const CachePolicySummarySchema = z.object({
  format: z.literal(CACHE_POLICY_FORMAT),
  quick: z.boolean(),
  started_at: z.string(),
  duration_s: Num,
  machine: MachineSchema,
  bundle: z.object({ name: z.string(), dir: z.string() }),
  cache_policy_config: CachePolicyConfigSchema,
  cache_policy: z.array(CachePolicyRowSchema),
  notes: z.array(z.string()),
});
export type CachePolicySummary = z.infer<typeof CachePolicySummarySchema>;

export const LoadSummarySchema = z.object({
  format: z.literal(LOAD_FORMAT),
  quick: z.boolean(),
  started_at: z.string(),
  duration_s: Num,
  machine: MachineSchema,
  bundle: z.object({ name: z.string(), dir: z.string() }),
  config: z.object({
    streams: z.array(z.number().int().positive()).min(1),
    modes: z.array(z.enum(MODES)).min(1),
    max_tokens: z.number().int().positive(),
    /** Measured requests per stream per round, after `warmup_requests` per stream that are not counted. */
    requests_per_stream: z.number().int().positive(),
    warmup_requests: z.number().int().nonnegative(),
    rounds: z.number().int().positive(),
    /** Draft length sent with each request (null: the server's default). */
    k: z.number().int().positive().nullable(),
    threads: z.number().int().nonnegative(),
    endpoint: z.string(),
    command: z.string().optional(),
  }),
  /** The two servers, started once each: their flags, what their workers said about batching, load time. */
  servers: z.array(z.object({ batching: BatchingSchema, args: z.array(z.string()), engine_batching: z.array(z.boolean()), load_ms: Num })),
  load: z.array(LoadRowSchema).min(1),
  /** Per streams value: the ratios the goals use, side by side. */
  ratios: z.array(
    z.object({
      streams: z.number().int().positive(),
      /** target aggregate tokens/s at this concurrency ÷ at 1 stream, per batching setting. */
      target_scaling_on: NullableNum,
      target_scaling_off: NullableNum,
      /** the fastest speculative mode's aggregate ÷ target's, per batching setting. */
      best_spec_mode_on: z.enum(MODES).nullable(),
      best_spec_vs_target_on: NullableNum,
      best_spec_mode_off: z.enum(MODES).nullable(),
      best_spec_vs_target_off: NullableNum,
      /** p99 ITL at this concurrency ÷ at 1 stream, batching on, per mode. */
      p99_itl_vs_1_on: z.record(z.string(), NullableNum),
      /** The batching-on server's RSS minus the batching-off server's, the largest over modes at this concurrency. */
      rss_on_minus_off_bytes: NullableNum,
    }),
  ),
  goals: z.array(GoalSchema),
  /** The engine-level batch-cache comparison run after the HTTP part (absent with --no-cache-policy). */
  cache_policy_config: CachePolicyConfigSchema.optional(),
  cache_policy: z.array(CachePolicyRowSchema).optional(),
  notes: z.array(z.string()),
});
export type LoadSummary = z.infer<typeof LoadSummarySchema>;
