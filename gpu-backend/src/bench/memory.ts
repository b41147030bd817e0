import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Mode } from '@verdict/protocol';
import { BENCH_PROMPTS } from './prompts.ts';
import type { MemoryResult } from './schema.ts';

/**
 * Memory of `verdict serve` as a process: it is started as a child on a bundle, given a fixed
 * workload over HTTP, and its /proc/<pid>/status is read at each phase. Linux only (elsewhere the
 * section says it was not measured).
 */

const SERVE_BIN = resolve(fileURLToPath(new URL('../server/bin.mjs', import.meta.url)));
const MB = 2 ** 20;

/** One reading of /proc/<pid>/status, in bytes. */
export interface ProcMemory {
  /** VmRSS: resident now. */
  rss: number;
  /** VmHWM: the peak of VmRSS so far. */
  hwm: number;
  /** RssAnon (heap, arenas, weights) and RssFile (mapped code and files). */
  anon: number;
  file: number;
}

export function readProcMemory(pid: number | 'self' = 'self'): ProcMemory | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return null;
  }
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? Number.NaN) * 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM'), anon: kb('RssAnon'), file: kb('RssFile') };
}

/** A way to run `verdict serve`: extra flags and environment variables. */
export interface ServeMemoryConfig {
  name: string;
  args?: string[];
  env?: Record<string, string>;
  /** The script to start instead of `verdict serve`'s own entry (for comparing builds). */
  bin?: string;
}

export interface ServeMemoryOptions {
  bundleDir: string;
  config: ServeMemoryConfig;
  /** Requests per mode in the workload (default 8), each `maxTokens` new tokens at temperature 0. */
  requests?: number;
  maxTokens?: number;
  /** Each workload prompt repeated to this many characters (default: the prompts as they are); long prompts show what prefill leaves behind. */
  promptChars?: number;
  /** Modes of the workload, alternated request by request (default target and judge/exact). */
  modes?: Mode[];
  k?: number;
  /** How long to leave the server idle after the workload before the steady reading (default 1000 ms). */
  settleMs?: number;
}

export interface ServeMemoryPhase {
  phase: 'listening' | 'ready' | 'first_request' | 'workload' | 'steady';
  rss_bytes: number;
  hwm_bytes: number;
  anon_bytes: number;
  file_bytes: number;
}

export interface ServeMemoryResult {
  config: string;
  args: string[];
  env: Record<string, string>;
  /** Bytes of the bundle's ONNX files (target + draft). */
  weight_bytes: number;
  phases: ServeMemoryPhase[];
  /** RSS after the workload and a short idle period. */
  steady_rss_bytes: number;
  /** VmHWM at the end: the highest RSS of the process's life (loading included). */
  peak_rss_bytes: number;
  steady_vs_weights: number;
  peak_vs_weights: number;
  /** Per mode: completion tokens ÷ summed `timings.total_ms` of its requests (served speed, HTTP included). */
  tokens_per_s: Partial<Record<Mode, number>>;
  load_ms: number;
  /**
   * When the launcher re-ran the server as its child to set malloc's environment, the launcher
   * process's own RSS and anonymous RSS (most of its RSS is the node binary, shared with the server).
   */
  launcher_rss_bytes: number | null;
  launcher_anon_bytes: number | null;
}

/** Size of the decoders a bundle serves, from its bundle.json. */
export function bundleWeightBytes(bundleDir: string): number {
  const manifest = JSON.parse(readFileSync(join(bundleDir, 'bundle.json'), 'utf8')) as { target: { file: string }; draft: { file: string } };
  return statSync(join(bundleDir, manifest.target.file)).size + statSync(join(bundleDir, manifest.draft.file)).size;
}

/**
 * What `verdict bench --memory` compares: the server's defaults against each memory setting
 * turned back, down to how it ran before (system malloc, TypeScript through tsx).
 */
export const MEMORY_CONFIGS: readonly ServeMemoryConfig[] = [
  { name: 'default', args: [] },
  { name: 'code pages kept (--release-code-pages off, the previous default)', args: ['--release-code-pages', 'off'] },
  { name: 'idle reclaim off (--idle-reclaim-ms 0)', args: ['--idle-reclaim-ms', '0'] },
  {
    name: 'all off: malloc system, precompile off, no idle reclaim, arena on, prefill in one forward, code pages kept (before)',
    args: ['--malloc', 'system', '--precompile', 'off', '--idle-reclaim-ms', '0', '--cpu-arena', 'on', '--prefill-chunk', '0', '--release-code-pages', 'off'],
  },
  { name: 'prefill in one forward (--prefill-chunk 0)', args: ['--prefill-chunk', '0'] },
  { name: 'onnxruntime arena on (--cpu-arena on, the previous default)', args: ['--cpu-arena', 'on'] },
];

/**
 * Another checkout of Verdict (a git worktree of an earlier commit, with its node_modules) as one
 * more configuration, run with its own defaults: the before of a code change, next to the after.
 */
export function baselineConfig(checkout: string): ServeMemoryConfig {
  const dir = resolve(checkout);
  const bin = join(dir, 'gpu-backend', 'src', 'server', 'bin.mjs');
  if (!existsSync(bin)) throw new Error(`--baseline ${checkout}: no gpu-backend/src/server/bin.mjs there; give the root of a Verdict checkout (e.g. git worktree add ../verdict-base <commit>)`);
  if (!existsSync(join(dir, 'node_modules'))) throw new Error(`--baseline ${checkout}: it has no node_modules; run npm ci there first`);
  let rev = '';
  try {
    rev = execFileSync('git', ['-C', dir, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    /* not a git checkout: the directory names it */
  }
  return { name: `baseline ${rev || dir}: its defaults`, bin };
}

/** Starts `verdict serve` on the bundle with the config, runs the workload, reads its memory at each phase, stops it. */
export async function measureServeMemory(opts: ServeMemoryOptions): Promise<ServeMemoryResult> {
  return (await measureServesInterleaved([opts.config], opts))[0];
}

/** One running `verdict serve` child, with its memory readings. */
export interface RunningServe {
  config: ServeMemoryConfig;
  child: ChildProcess;
  /** The server's own pid (the launcher may have re-run it as its child). */
  pid: number;
  url: string;
  model: string;
  modes: Mode[];
  loadMs: number;
  /** What each inference worker said when it came up: whether its engine batches (`inference worker ready`). */
  workerBatching: boolean[];
  phases: ServeMemoryPhase[];
  sample(phase: ServeMemoryPhase['phase']): void;
  stop(): Promise<void>;
}

/**
 * Starts `verdict serve` on the bundle as a child process (port 0, JSON logs on stdout) and waits
 * until it is ready. Its log lines keep being read after that (a full pipe would block the server's
 * synchronous stdout); `onLog` sees every one.
 */
export async function startServe(bundleDir: string, config: ServeMemoryConfig, onLog?: (line: LogLine) => void): Promise<RunningServe> {
  const args = config.args ?? [];
  const child = spawn(process.execPath, [config.bin ?? SERVE_BIN, '--bundle', bundleDir, '--port', '0', '--log-level', 'info', ...args], {
    env: { ...process.env, ...(config.env ?? {}) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stderr: string[] = [];
  child.stderr!.on('data', (d: Buffer) => stderr.push(d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  };
  try {
    const lines = logLines(child);
    const workerBatching: boolean[] = [];
    const seen = (l: LogLine) => {
      if (l.msg === 'inference worker ready' && typeof l.batching === 'boolean') workerBatching.push(l.batching);
      onLog?.(l);
    };
    const started = performance.now();
    const listening = await waitFor(lines, (l) => l.msg === 'listening', exited, stderr, seen);
    const pid = typeof listening.pid === 'number' ? listening.pid : child.pid!;
    const phases: ServeMemoryPhase[] = [];
    const sample = (phase: ServeMemoryPhase['phase']) => {
      const m = readProcMemory(pid);
      if (!m) throw new Error(`verdict serve (pid ${pid}) is gone: ${stderr.join('').trim() || 'no stderr'}`);
      phases.push({ phase, rss_bytes: m.rss, hwm_bytes: m.hwm, anon_bytes: m.anon, file_bytes: m.file });
    };
    sample('listening');
    await waitFor(lines, (l) => l.msg === 'ready', exited, stderr, seen);
    const loadMs = performance.now() - started;
    sample('ready');
    void (async () => {
      for (let r = await lines.next(); !r.done; r = await lines.next()) seen(r.value);
    })();
    const url = String(listening.url);
    const models = (await (await fetch(`${url}/v1/models`)).json()) as { data: { id: string; x_verdict?: { modes?: Mode[] } }[] };
    const model = models.data[0];
    return { config, child, pid, url, model: model.id, modes: model.x_verdict?.modes ?? ['target', 'exact'], loadMs, workerBatching, phases, sample, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** `text` repeated (space-separated) and cut to exactly `chars` characters; unchanged without `chars`. */
export function lengthen(text: string, chars?: number): string {
  if (!chars) return text;
  let out = text;
  while (out.length < chars) out += ` ${text}`;
  return out.slice(0, chars);
}

/**
 * Several configs at once, one server each, started one after another (so loading does not
 * compete); then every workload request goes to each server in turn (the order rotating), so
 * machine drift on a shared box lands on all configs alike and the tokens/s ratios are fair.
 * Only one server computes at a time: requests are sent one by one.
 */
export async function measureServesInterleaved(configs: readonly ServeMemoryConfig[], opts: Omit<ServeMemoryOptions, 'config'>): Promise<ServeMemoryResult[]> {
  const bundleDir = resolve(opts.bundleDir);
  const weightBytes = bundleWeightBytes(bundleDir);
  const servers: RunningServe[] = [];
  try {
    for (const c of configs) servers.push(await startServe(bundleDir, c));
    const maxTokens = opts.maxTokens ?? 64;
    const k = opts.k ?? 4;
    const available = servers[0].modes;
    const modes = (opts.modes ?? ['target', available.includes('judge') ? 'judge' : 'exact']).filter((m) => available.includes(m));
    const complete = async (srv: RunningServe, mode: Mode, prompt: string) => {
      const res = await fetch(`${srv.url}/v1/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: srv.model, prompt, max_tokens: maxTokens, temperature: 0, speculative: { mode, k } }),
      });
      const body = (await res.json()) as { usage?: { completion_tokens: number }; timings?: { total_ms: number }; error?: { message: string } };
      if (!res.ok || !body.usage || !body.timings) throw new Error(`verdict serve (${srv.config.name}) answered ${res.status}: ${body.error?.message ?? JSON.stringify(body)}`);
      return { tokens: body.usage.completion_tokens, ms: body.timings.total_ms };
    };
    const prompt = (i: number) => lengthen(BENCH_PROMPTS[i % BENCH_PROMPTS.length], opts.promptChars);
    for (const srv of servers) {
      await complete(srv, modes[0], prompt(0));
      srv.sample('first_request');
    }
    const sums = servers.map(() => new Map<Mode, { tokens: number; ms: number }>(modes.map((m) => [m, { tokens: 0, ms: 0 }])));
    const n = opts.requests ?? 8;
    let turn = 0;
    for (let i = 0; i < n; i++) {
      for (const mode of modes) {
        for (let j = 0; j < servers.length; j++) {
          const at = (j + turn) % servers.length; // rotate which server goes first
          const r = await complete(servers[at], mode, prompt(i));
          const s = sums[at].get(mode)!;
          s.tokens += r.tokens;
          s.ms += r.ms;
        }
        turn++;
      }
    }
    for (const srv of servers) srv.sample('workload');
    await new Promise((r) => setTimeout(r, opts.settleMs ?? 1000));
    for (const srv of servers) srv.sample('steady');
    return servers.map((srv, i) => {
      const steady = srv.phases.at(-1)!;
      // VmHWM can read below an earlier VmRSS reading (seen: by 24 KB). Our reading: the kernel records its peak when memory
      // is unmapped, not when madvise gives pages back, as malloc_trim does. The peak is the larger.
      const peak = Math.max(steady.hwm_bytes, ...srv.phases.map((p) => p.rss_bytes));
      const launcher = srv.pid === srv.child.pid ? null : readProcMemory(srv.child.pid!);
      const tokensPerS: Partial<Record<Mode, number>> = {};
      for (const [mode, s] of sums[i]) tokensPerS[mode] = s.ms > 0 ? (s.tokens / s.ms) * 1000 : 0;
      return {
        config: srv.config.name,
        args: srv.config.args ?? [],
        env: srv.config.env ?? {},
        weight_bytes: weightBytes,
        phases: srv.phases,
        steady_rss_bytes: steady.rss_bytes,
        peak_rss_bytes: peak,
        steady_vs_weights: steady.rss_bytes / weightBytes,
        peak_vs_weights: peak / weightBytes,
        tokens_per_s: tokensPerS,
        load_ms: srv.loadMs,
        launcher_rss_bytes: launcher?.rss ?? null,
        launcher_anon_bytes: launcher?.anon ?? null,
      };
    });
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
  }
}

/**
 * `rounds` passes of {@link measureServesInterleaved} (config order rotating per round); per
 * config the round with the median steady RSS is kept, with tokens/s averaged over the rounds.
 */
export async function compareServeMemory(
  configs: ServeMemoryConfig[],
  opts: Omit<ServeMemoryOptions, 'config'> & { rounds?: number; onResult?: (r: ServeMemoryResult) => void },
): Promise<ServeMemoryResult[]> {
  const all = new Map<string, ServeMemoryResult[]>(configs.map((c) => [c.name, []]));
  const rounds = opts.rounds ?? 1;
  for (let r = 0; r < rounds; r++) {
    const order = configs.map((_, i) => configs[(i + r) % configs.length]);
    for (const result of await measureServesInterleaved(order, opts)) {
      all.get(result.config)!.push(result);
      opts.onResult?.(result);
    }
  }
  return configs.map((c) => {
    const rs = all.get(c.name)!;
    const median = [...rs].sort((a, b) => a.steady_rss_bytes - b.steady_rss_bytes)[Math.floor((rs.length - 1) / 2)];
    const tps: Partial<Record<Mode, number>> = {};
    for (const mode of Object.keys(median.tokens_per_s) as Mode[]) tps[mode] = rs.reduce((a, x) => a + (x.tokens_per_s[mode] ?? 0), 0) / rs.length;
    return { ...median, tokens_per_s: tps };
  });
}

export const mb = (bytes: number) => Math.round((bytes / MB) * 10) / 10;

/** The bench summary's `memory` section from one measurement (or why there is none). */
export function memorySection(r: ServeMemoryResult | null, workload: { requests: number; maxTokens: number }, why?: string): MemoryResult {
  if (!r) {
    return { config: null, weight_bytes: null, steady_rss_bytes: null, peak_rss_bytes: null, steady_vs_weights: null, peak_vs_weights: null, phases: [], tokens_per_s: {}, not_measured: why ?? 'not measured' };
  }
  const tps: Record<string, number> = {};
  for (const [m, v] of Object.entries(r.tokens_per_s)) if (v != null) tps[m] = v;
  return {
    config: r.config,
    args: r.args,
    weight_bytes: r.weight_bytes,
    steady_rss_bytes: r.steady_rss_bytes,
    peak_rss_bytes: r.peak_rss_bytes,
    steady_vs_weights: r.steady_vs_weights,
    peak_vs_weights: r.peak_vs_weights,
    phases: r.phases,
    launcher_rss_bytes: r.launcher_rss_bytes,
    launcher_anon_bytes: r.launcher_anon_bytes,
    tokens_per_s: tps,
    workload: { requests_per_mode: workload.requests, max_tokens: workload.maxTokens, modes: Object.keys(tps) },
    load_ms: r.load_ms,
  };
}

/** A plain-text table of the comparison (for the CLI), tokens/s as ratios to the first config. */
export function formatMemoryTable(results: ServeMemoryResult[]): string {
  const base = results[0];
  const modes = Object.keys(base.tokens_per_s) as Mode[];
  const head = ['config', 'ready MiB', 'steady MiB', 'peak MiB', 'steady ×w', 'peak ×w', ...modes.flatMap((m) => [`${m} tok/s`, `${m} ratio`])];
  const rows = results.map((r) => [
    r.config,
    mb(r.phases.find((p) => p.phase === 'ready')!.rss_bytes),
    mb(r.steady_rss_bytes),
    mb(r.peak_rss_bytes),
    r.steady_vs_weights.toFixed(2),
    r.peak_vs_weights.toFixed(2),
    ...modes.flatMap((m) => [(r.tokens_per_s[m] ?? 0).toFixed(1), ((r.tokens_per_s[m] ?? 0) / (base.tokens_per_s[m] || Number.NaN)).toFixed(2)]),
  ]);
  return [`weights: ${mb(base.weight_bytes)} MiB`, head.join('\t'), ...rows.map((r) => r.join('\t'))].join('\n');
}

/** One JSON log line of `verdict serve`. */
export type LogLine = Record<string, unknown>;

function logLines(child: ChildProcess): AsyncIterator<LogLine> {
  const rl = createInterface({ input: child.stdout! });
  const it = rl[Symbol.asyncIterator]();
  return {
    async next() {
      for (;;) {
        const r = await it.next();
        if (r.done) return { done: true, value: undefined };
        try {
          return { done: false, value: JSON.parse(r.value) as LogLine };
        } catch {
          // not a log line
        }
      }
    },
  };
}

async function waitFor(lines: AsyncIterator<LogLine>, pred: (l: LogLine) => boolean, exited: Promise<number | null>, stderr: string[], seen: (l: LogLine) => void): Promise<LogLine> {
  const gone = exited.then((code) => {
    throw new Error(`verdict serve exited (code ${code}) before it was ready: ${stderr.join('').trim()}`);
  });
  for (;;) {
    const r = await Promise.race([lines.next(), gone]);
    if (r.done) await gone;
    else {
      seen(r.value);
      if (pred(r.value)) return r.value;
    }
  }
}
