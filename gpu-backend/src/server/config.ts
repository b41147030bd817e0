import * as z from '@verdict/protocol/zod';
import { EXECUTION_PROVIDERS } from '../engine/providers.ts';
import { DEFAULTS, MAX_K, ModeSchema } from '@verdict/protocol';
import { DEFAULT_IDLE_RECLAIM_MS } from '../scheduler/reclaim.ts';
import { DEFAULT_PREFILL_CHUNK } from '../engine/prefill.ts';

/**
 * Configuration of `verdict serve`. One table drives the zod schema, the CLI flags, the
 * environment variables and the `--help` text, so the three can never disagree.
 */
// The schema's own error covers what is not a number; the bounds say theirs (it would otherwise cover them too).
const int = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z.coerce.number({ error: 'must be a whole number' }).check(z.int('must be a whole number'), z.gte(min, `must be at least ${min}`), z.lte(max, `must be at most ${max}`));
/** A number from a flag or variable, in [min, max] (max optional). */
const num = (min: number, max?: number) => z.coerce.number().check(z.gte(min), ...(max === undefined ? [] : [z.lte(max)]));

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

const Providers = z.pipe(
  z.pipe(
    z.union([z.string(), z.array(z.string())]),
    z.transform((v: string | string[]) => (typeof v === 'string' ? v.split(',') : v).map((p) => p.trim().toLowerCase()).filter(Boolean)),
  ),
  z.array(z.enum(EXECUTION_PROVIDERS)).check(z.minLength(1, 'at least one execution provider')),
);

export const CONFIG_OPTIONS = {
  bundle: { flag: '--bundle <dir>', env: 'VERDICT_BUNDLE', help: 'model bundle directory (bundle.json, ONNX decoders, tokenizer)', schema: z.string({ error: 'a bundle directory is required' }).check(z.minLength(1, 'a bundle directory is required')) },
  port: { flag: '--port <n>', env: 'VERDICT_PORT', help: 'TCP port (0 = any free port)', schema: z._default(int(0, 65535), 8080) },
  host: { flag: '--host <addr>', env: 'VERDICT_HOST', help: 'address to listen on', schema: z._default(z.string().check(z.minLength(1)), '127.0.0.1') },
  providers: { flag: '--providers <list>', env: 'VERDICT_PROVIDERS', help: 'ONNX Runtime execution providers, in order of preference (e.g. cuda,cpu)', schema: z._default(Providers, ['cpu']) },
  intraOpThreads: { flag: '--intra-op-threads <n>', env: 'VERDICT_INTRA_OP_THREADS', help: 'ONNX Runtime intra-op threads per worker (0 = runtime default)', schema: z._default(int(0, 256), 0) },
  workers: { flag: '--workers <n>', env: 'VERDICT_WORKERS', help: 'inference worker threads, each with its own engine', schema: z._default(int(1, 64), 1) },
  workerYoungGenMb: { flag: '--worker-young-gen-mb <n>', env: 'VERDICT_WORKER_YOUNG_GEN_MB', help: "V8 young-generation cap of each worker thread, in MB (0 = V8's default, 48 MB on 64-bit); smaller holds less garbage between scavenges", schema: z._default(int(0, 1024), 0) },
  malloc: { flag: '--malloc <mode>', env: 'VERDICT_MALLOC', help: "glibc malloc: 'tuned' runs the server with MALLOC_MMAP_THRESHOLD_=1048576 MALLOC_ARENA_MAX=2 (re-running itself with them unless they are already set), so buffers freed after loading the model go back to the OS; 'system' leaves malloc alone. Linux only", schema: z._default(z.enum(['tuned', 'system']), 'tuned') },
  idleReclaimMs: { flag: '--idle-reclaim-ms <ms>', env: 'VERDICT_IDLE_RECLAIM_MS', help: 'once a thread has had no generation for this long, it runs a full garbage collection and glibc malloc_trim, so the memory of the last burst goes back to the OS (0 = never)', schema: z._default(int(0), DEFAULT_IDLE_RECLAIM_MS) },
  releaseCodePages: { flag: '--release-code-pages <on|off>', env: 'VERDICT_RELEASE_CODE_PAGES', help: "'on' asks the kernel, once the model is loaded and again after the first requests, to page out the code node and onnxruntime ran while starting (madvise MADV_PAGEOUT, then MADV_DONTNEED for pages another process maps too); what serving needs is read back on first use, so the first requests pay for it once. Linux 5.4+", schema: z._default(z.enum(['on', 'off']), 'on') },
  precompile: { flag: '--precompile <on|off>', env: 'VERDICT_PRECOMPILE', help: "'on' runs the server and its workers as JavaScript bundled once by esbuild (cached in the temp dir or VERDICT_CACHE_DIR), 'off' through tsx, which costs each thread tens of MB", schema: z._default(z.enum(['on', 'off']), 'on') },
  concurrency: { flag: '--concurrency <n>', env: 'VERDICT_CONCURRENCY', help: 'generations running at once (spread over the workers, interleaved per step)', schema: z._default(int(1, 1024), 4) },
  batching: { flag: '--batching <on|off>', env: 'VERDICT_BATCHING', help: "'on' runs each worker's generations as one batch: every step is one draft forward and one target forward over all of them (an export that takes batch 1 only falls back to 'off', with a log line); 'off' interleaves their forwards", schema: z._default(z.enum(['on', 'off']), 'on') },
  specK: { flag: '--spec-k <auto|fixed>', env: 'VERDICT_SPEC_K', help: "'fixed' always drafts the request's k; 'auto' picks the draft length of each batched step (0 = no speculation) from live costs and each request's acceptance, up to the request's k — faster under load, but then judge, kl and entropy answers, and seeded samples, depend on the load (exact and target answers at temperature 0 never do)", schema: z._default(z.enum(['auto', 'fixed']), 'fixed') },
  specDisableBatch: { flag: '--spec-disable-batch <n>', env: 'VERDICT_SPEC_DISABLE_BATCH', help: "no speculation while this many generations or more share a batch (vLLM's disable_by_batch_size; 0 = never)", schema: z._default(int(0, 1024), 0) },
  batchCompactWaste: { flag: '--batch-compact-waste <fraction>', env: 'VERDICT_BATCH_COMPACT_WASTE', help: 'the batch KV cache leaves rejected positions in place, masked out; it is compacted when this fraction of its slots is dead (0 = compact every step)', schema: z._default(num(0, 0.95), 0.5) },
  prefillChunk: { flag: '--prefill-chunk <tokens>', env: 'VERDICT_PREFILL_CHUNK', help: "longest forward of a prompt's prefill: a long prompt is fed in chunks of this many tokens, so no forward allocates a whole prompt's [heads, S, S] attention (kept for good by onnxruntime's arena; slow to fault in without it). 0 = the whole prompt in one forward", schema: z._default(int(0, 1 << 20), DEFAULT_PREFILL_CHUNK) },
  cpuArena: { flag: '--cpu-arena <on|off>', env: 'VERDICT_CPU_ARENA', help: "onnxruntime's CPU memory arena: 'on' reuses buffers between forwards but keeps the largest it ever needed for the life of the server (after long prompts, hundreds of MB); 'off' allocates each forward's buffers and frees them after (tokens/s within ±6% of 'on' on the bench bundle; 12–17% below it with a 128k-token vocabulary and a tiny model, where 'on' held 85 MiB more)", schema: z._default(z.enum(['on', 'off']), 'off') },
  queueSize: { flag: '--queue-size <n>', env: 'VERDICT_QUEUE_SIZE', help: 'requests waiting for a slot before 429', schema: z._default(int(0, 100_000), 64) },
  requestTimeoutMs: { flag: '--request-timeout-ms <ms>', env: 'VERDICT_REQUEST_TIMEOUT_MS', help: 'per-request deadline, queue wait included', schema: z._default(int(1), 120_000) },
  drainTimeoutMs: { flag: '--drain-timeout-ms <ms>', env: 'VERDICT_DRAIN_TIMEOUT_MS', help: 'on SIGTERM, how long in-flight requests may finish before they are cancelled', schema: z._default(int(0), 10_000) },
  defaultMode: { flag: '--default-mode <mode>', env: 'VERDICT_DEFAULT_MODE', help: 'mode when a request has none (default: judge if the bundle has a judge head, else exact)', schema: z.optional(ModeSchema) },
  defaultK: { flag: '--default-k <n>', env: 'VERDICT_DEFAULT_K', help: 'draft tokens per step when a request has none', schema: z._default(int(1, MAX_K), DEFAULTS.k) },
  defaultThreshold: { flag: '--default-threshold <p>', env: 'VERDICT_DEFAULT_THRESHOLD', help: "judge acceptance threshold (default: the judge head's own)", schema: z.optional(num(0, 1)) },
  defaultKlThreshold: { flag: '--default-kl-threshold <nats>', env: 'VERDICT_DEFAULT_KL_THRESHOLD', help: 'kl mode: accept where KL(target||draft) <= this', schema: z._default(num(0), DEFAULTS.kl_threshold) },
  defaultKlConfidence: { flag: '--default-kl-confidence <p>', env: 'VERDICT_DEFAULT_KL_CONFIDENCE', help: "kl mode: positions where the target's top-1 probability exceeds this use the exact rule", schema: z._default(num(0, 1), DEFAULTS.kl_confidence) },
  defaultEntropyThreshold: { flag: '--default-entropy-threshold <nats>', env: 'VERDICT_DEFAULT_ENTROPY_THRESHOLD', help: "entropy mode: keep a mismatch only where the target's entropy is at least this", schema: z._default(num(0), DEFAULTS.entropy_threshold) },
  defaultEntropyWindow: { flag: '--default-entropy-window <n>', env: 'VERDICT_DEFAULT_ENTROPY_WINDOW', help: "entropy mode: following draft tokens that must be the target's argmax", schema: z._default(int(1, MAX_K - 1), DEFAULTS.entropy_window) },
  defaultMaxTokens: { flag: '--default-max-tokens <n>', env: 'VERDICT_DEFAULT_MAX_TOKENS', help: 'completion budget when a request has no max_tokens', schema: z._default(int(1), DEFAULTS.max_tokens) },
  defaultTemperature: { flag: '--default-temperature <t>', env: 'VERDICT_DEFAULT_TEMPERATURE', help: 'sampling temperature when a request has none (OpenAI: 1)', schema: z._default(num(0, 2), DEFAULTS.temperature) },
  maxBodyBytes: { flag: '--max-body-bytes <n>', env: 'VERDICT_MAX_BODY_BYTES', help: 'largest accepted request body (413 above)', schema: z._default(int(1), 1_048_576) },
  logLevel: { flag: '--log-level <level>', env: 'VERDICT_LOG_LEVEL', help: `one of ${LOG_LEVELS.join(', ')}`, schema: z._default(z.enum(LOG_LEVELS), 'info') },
} as const;

type Options = typeof CONFIG_OPTIONS;
export type ConfigKey = keyof Options;

const shape = Object.fromEntries(Object.entries(CONFIG_OPTIONS).map(([k, o]) => [k, o.schema])) as { [K in ConfigKey]: Options[K]['schema'] };

export const ServeConfigSchema = z.strictObject(shape);
export type ServeConfig = z.output<typeof ServeConfigSchema>;
export type ServeConfigInput = z.input<typeof ServeConfigSchema>;

/** Validates a config; the error names every bad field with its flag and environment variable. */
export function parseConfig(input: unknown): ServeConfig {
  const r = ServeConfigSchema.safeParse(input);
  if (r.success) return r.data;
  const lines = r.error.issues.map((iss) => {
    const key = String(iss.path[0] ?? '') as ConfigKey;
    const opt = CONFIG_OPTIONS[key];
    const where = opt ? `${opt.flag.split(' ')[0]} / ${opt.env}` : iss.path.join('.') || 'config';
    return `  ${where}: ${iss.message}`;
  });
  throw new Error(`invalid server configuration:\n${lines.join('\n')}`);
}

/** Values from the environment (strings), keyed by config field; flags override them. */
export function configFromEnv(env: NodeJS.ProcessEnv = process.env): Partial<Record<ConfigKey, string>> {
  const out: Partial<Record<ConfigKey, string>> = {};
  for (const [key, opt] of Object.entries(CONFIG_OPTIONS) as [ConfigKey, Options[ConfigKey]][]) {
    const v = env[opt.env];
    if (v != null && v !== '') out[key] = v;
  }
  return out;
}
