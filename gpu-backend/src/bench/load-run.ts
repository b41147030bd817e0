import { mkdir, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import type { Mode } from '@verdict/protocol';
import type { PresetName } from '../synth/presets.ts';
import { ensureBundle } from './bundle.ts';
import { runCachePolicy, type CachePolicyResult } from './cache-policy.ts';
import { LOAD_ENDPOINT, loadAgent, runWindow } from './load-client.ts';
import { evaluateLoadGoals, loadRatios } from './load-goals.ts';
import { LOAD_PLOT_FILES, renderLoadReport } from './load-report.ts';
import { loadRow, loadSchedule, type Batching, type LoadWindow } from './load-stats.ts';
import { machineInfo } from './machine.ts';
import { readProcMemory, startServe, type RunningServe } from './memory.ts';
import { loadItlSpec, loadThroughputSpec, renderSvg } from './plots.ts';
import { batchMetrics, parsePrometheus } from './prometheus.ts';
import { defaultOutDir, REPO_ROOT, type BenchProgress } from './run.ts';
import { CACHE_POLICY_FORMAT, CachePolicySummarySchema, LOAD_FORMAT, LoadSummarySchema, type CachePolicySummary, type LoadRow, type LoadSummary } from './schema.ts';

/**
 * `verdict bench --load`: throughput and latency under concurrent streams, through the real HTTP
 * server. Two `verdict serve` children (batching on, batching off) are started once; then every
 * configuration (mode × batching × streams) is measured one at a time, in the interleaved order of
 * {@link loadSchedule}, by the closed-loop client of load-client.ts.
 */

export interface LoadBenchOptions {
  quick: boolean;
  /** Default models/bench (models/tiny with --quick), built by ensureBundle when missing. */
  bundleDir?: string;
  outDir?: string;
  streams?: number[];
  modes?: Mode[];
  maxTokens?: number;
  /** Measured requests per stream per round. */
  requests?: number;
  /** Warm-up requests per stream per round, before the measured window. */
  warmup?: number;
  rounds?: number;
  /** onnxruntime intra-op threads of both servers (0: the runtime's default). */
  threads?: number;
  /** Draft length each request asks for (default: the server's). */
  k?: number;
  /** After the HTTP part, the engine-level batch-cache comparison (cache-policy.ts); default true. */
  cachePolicy?: boolean;
  progress?: BenchProgress;
  log?: (line: string) => void;
  command?: string;
}

export const LOAD_PLANS = {
  full: { preset: 'bench', streams: [1, 2, 4, 8, 16, 32], modes: ['target', 'exact', 'judge'], maxTokens: 64, requests: 3, warmup: 1, rounds: 2 },
  quick: { preset: 'tiny', streams: [1, 2, 4], modes: ['target', 'exact', 'judge'], maxTokens: 32, requests: 2, warmup: 1, rounds: 1 },
} as const;

async function scrape(srv: RunningServe): Promise<Map<string, number> | null> {
  try {
    const res = await fetch(`${srv.url}/metrics`);
    return res.ok ? parsePrometheus(await res.text()) : null;
  } catch {
    return null;
  }
}

export async function runLoadBench(opts: LoadBenchOptions): Promise<{ summary: LoadSummary; outDir: string }> {
  const started = new Date();
  const t0 = performance.now();
  const plan = opts.quick ? LOAD_PLANS.quick : LOAD_PLANS.full;
  const streams = [...new Set(opts.streams ?? plan.streams)].sort((a, b) => a - b);
  const maxStreams = streams.at(-1)!;
  const maxTokens = opts.maxTokens ?? plan.maxTokens;
  const requests = opts.requests ?? plan.requests;
  const warmup = opts.warmup ?? plan.warmup;
  const rounds = opts.rounds ?? plan.rounds;
  const threads = opts.threads ?? 0;
  const machine = machineInfo();
  const notes: string[] = [];
  const progress = opts.progress;

  const bundleDir = resolve(opts.bundleDir ?? join(REPO_ROOT, 'models', plan.preset));
  progress?.phase('bundle', 1);
  const { bundle, built, trainedJudge } = await ensureBundle(bundleDir, plan.preset as PresetName, opts.log);
  if (built) notes.push(`The bundle was built by this run (synthetic preset '${plan.preset}').`);
  if (trainedJudge) notes.push('The judge head was trained by this run on the bundle’s own draft/target.');
  progress?.tick();

  const settings: Batching[] = ['on', 'off'];
  // The batched arm adapts its draft length to the load (--spec-k auto); without batching the flag does nothing.
  const argsFor = (b: Batching) => [
    '--batching', b,
    '--spec-k', 'auto',
    '--concurrency', String(maxStreams),
    '--queue-size', String(Math.max(64, 2 * maxStreams)),
    '--request-timeout-ms', '600000',
    '--intra-op-threads', String(threads),
  ];
  progress?.phase('servers', settings.length);
  const starting = await Promise.allSettled(
    settings.map(async (b) => {
      const srv = await startServe(bundleDir, { name: `batching ${b}`, args: argsFor(b) });
      progress?.tick();
      return srv;
    }),
  );
  const servers = new Map<Batching, RunningServe>();
  starting.forEach((r, i) => r.status === 'fulfilled' && servers.set(settings[i], r.value));
  const agent = loadAgent(maxStreams);
  let released = false;
  const release = async () => {
    if (released) return;
    released = true;
    await agent.close();
    await Promise.all([...servers.values()].map((s) => s.stop()));
  };
  try {
    const failed = starting.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    const available = servers.get('on')!.modes;
    const asked = opts.modes ?? [...plan.modes];
    const modes = asked.filter((m) => available.includes(m));
    for (const m of asked.filter((m) => !available.includes(m))) notes.push(`${m} mode was not measured: the bundle ${bundleDir} cannot serve it (served: ${available.join(', ')}).`);
    if (modes.length === 0) throw new Error(`load: none of the modes ${asked.join(', ')} is served by ${bundleDir}`);
    for (const b of settings) {
      const srv = servers.get(b)!;
      const batches = srv.workerBatching;
      if (b === 'on' && !batches.some(Boolean)) {
        notes.push(`The batching-on server's engine reported that it does not batch (worker ready: batching ${batches.join(', ') || 'not reported'}): its numbers are those of interleaved decoding until the engine's batch loop lands.`);
      }
      if (readProcMemory(srv.pid) == null) notes.push(`RSS not measured for batching ${b}: /proc/${srv.pid}/status is not readable (${process.platform}).`);
    }

    const schedule = loadSchedule({ rounds, streams, modes });
    progress?.phase('load', schedule.reduce((a, s) => a + s.streams * (warmup + requests), 0));
    const windows = new Map<string, LoadWindow[]>();
    const last = new Map<string, { rss: number | null; hwm: number | null; metrics: Record<string, { value: number; delta: number }> | null }>();
    const key = (m: Mode, b: Batching, s: number) => `${m}/${b}/${s}`;
    for (const step of schedule) {
      const srv = servers.get(step.batching)!;
      const before = await scrape(srv);
      const w = await runWindow(agent, { url: srv.url, model: srv.model }, { mode: step.mode, maxTokens, k: opts.k, streams: step.streams, warmup, requests, onRequest: () => progress?.tick() });
      const mem = readProcMemory(srv.pid);
      const after = await scrape(srv);
      const k = key(step.mode, step.batching, step.streams);
      windows.set(k, [...(windows.get(k) ?? []), w]);
      last.set(k, { rss: mem?.rss ?? null, hwm: mem?.hwm ?? null, metrics: after ? batchMetrics(before, after) : null });
    }
    progress?.done();

    const rows: LoadRow[] = [];
    for (const s of streams) {
      for (const mode of modes) {
        for (const b of settings) {
          const k = key(mode, b, s);
          const end = last.get(k)!;
          rows.push({ ...loadRow({ mode, batching: b, streams: s }, windows.get(k)!), rss_bytes: end.rss, peak_rss_bytes: end.hwm, ...(end.metrics ? { metrics: end.metrics } : {}) });
        }
      }
    }
    const mismatched = rows.filter((r) => r.chunk_tokens !== r.tokens);
    if (mismatched.length) notes.push(`Tokens counted in content chunks differ from usage in ${mismatched.map((r) => `${r.mode}/${r.batching}/${r.streams}`).join(', ')} (usage is what the rates use).`);
    // The servers go before the engine-level section, which loads its own engines on this process.
    await release();
    let cache: CachePolicyResult | undefined;
    if (opts.cachePolicy !== false) {
      cache = await runCachePolicy(bundle, { quick: opts.quick, threads, log: opts.log });
      notes.push(...cache.notes);
    }
    machine.load_avg_1m_end = Math.round(loadavg()[0] * 100) / 100;
    const ratios = loadRatios(rows);
    const summary = LoadSummarySchema.parse({
      format: LOAD_FORMAT,
      ...summaryHead(opts.quick, started, t0, machine, bundle.manifest.name, bundleDir),
      config: { streams, modes, max_tokens: maxTokens, requests_per_stream: requests, warmup_requests: warmup, rounds, k: opts.k ?? null, threads, endpoint: LOAD_ENDPOINT, command: opts.command },
      servers: settings.map((b) => ({ batching: b, args: argsFor(b), engine_batching: servers.get(b)!.workerBatching, load_ms: servers.get(b)!.loadMs })),
      load: rows,
      ratios,
      goals: evaluateLoadGoals(rows, ratios),
      ...(cache ? { cache_policy_config: cache.config, cache_policy: cache.rows } : {}),
      notes,
    } satisfies LoadSummary);

    const outDir = resolve(opts.outDir ?? defaultOutDir(started, machine.host, opts.quick, 'load'));
    await mkdir(outDir, { recursive: true });
    await writeFile(join(outDir, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
    await writeFile(join(outDir, LOAD_PLOT_FILES.throughput), await renderSvg(loadThroughputSpec(rows)));
    await writeFile(join(outDir, LOAD_PLOT_FILES.itl), await renderSvg(loadItlSpec(rows)));
    await writeFile(join(outDir, 'report.md'), renderLoadReport(summary));
    return { summary, outDir };
  } finally {
    await release();
  }
}

/** `verdict bench --cache-policy`: the engine-level batch-cache comparison alone, on the bench bundle (tiny with --quick). */
export async function runCachePolicyBench(opts: { quick: boolean; bundleDir?: string; threads?: number; rounds?: number; log?: (line: string) => void }): Promise<CachePolicySummary> {
  const started = new Date();
  const t0 = performance.now();
  const machine = machineInfo();
  const preset = (opts.quick ? LOAD_PLANS.quick : LOAD_PLANS.full).preset;
  const bundleDir = resolve(opts.bundleDir ?? join(REPO_ROOT, 'models', preset));
  const { bundle, built, trainedJudge } = await ensureBundle(bundleDir, preset as PresetName, opts.log);
  const notes: string[] = [];
  if (built) notes.push(`The bundle was built by this run (synthetic preset '${preset}').`);
  if (trainedJudge) notes.push('The judge head was trained by this run on the bundle’s own draft/target.');
  const cache = await runCachePolicy(bundle, { quick: opts.quick, threads: opts.threads ?? 0, rounds: opts.rounds, log: opts.log });
  machine.load_avg_1m_end = Math.round(loadavg()[0] * 100) / 100;
  return CachePolicySummarySchema.parse({
    format: CACHE_POLICY_FORMAT,
    ...summaryHead(opts.quick, started, t0, machine, bundle.manifest.name, bundleDir),
    cache_policy_config: cache.config,
    cache_policy: cache.rows,
    notes: [...notes, ...cache.notes],
  } satisfies CachePolicySummary);
}

/** The fields both summaries open with: when, how long, where, on what. */
function summaryHead(quick: boolean, started: Date, t0: number, machine: ReturnType<typeof machineInfo>, name: string, dir: string) {
  return { quick, started_at: started.toISOString(), duration_s: (performance.now() - t0) / 1000, machine, bundle: { name, dir } };
}
