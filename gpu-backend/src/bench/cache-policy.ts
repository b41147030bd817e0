import type { Mode } from '@verdict/protocol';
import type { LoadedBundle } from '../bundle/types.ts';
import { createEngine, greedyRequest, type Engine } from '../engine/engine.ts';
import type { BatchStepInfo } from '../engine/types.ts';
import { BENCH_PROMPTS } from './prompts.ts';
import type { CachePolicyRow } from './schema.ts';
import { ratio } from './stats.ts';

/**
 * The batch KV cache's bookkeeping choice, measured (issue 14): a rejection leaves the row's dead
 * slots in the batch tensors, masked out by `attention_mask`, and the cache compacts only when the
 * dead part of the slot axis passes `compactWaste`. W = 0 compacts after every step that left dead
 * slots, i.e. moves memory on every rejection; larger W trade memory (the masked slots) for copies.
 * One engine per W on the same bundle, the same workload on each, interleaved. The pure parts
 * (schedule, aggregation, ratios, the identity check) are exported for tests.
 */

/** compactWaste values compared; 0 is the reference ("move memory on every rejection"), 0.5 the default. */
export const CACHE_POLICY_WASTES = [0, 0.25, 0.5, 0.75] as const;

export const CACHE_POLICY_PLAN = { streams: 8, k: 4, maxTokens: 64, rounds: { full: 2, quick: 1 }, modes: ['exact', 'judge'] as Mode[] } as const;

/** One workload run: which engine (W), which mode, which round. */
export interface CachePolicyStep {
  round: number;
  compactWaste: number;
  mode: Mode;
}

/**
 * Round-robin over W: each round runs every mode on every W before the next round; the W order is
 * reversed every other round, so drift on a shared machine lands on all W alike.
 */
export function cachePolicySchedule(o: { rounds: number; wastes: readonly number[]; modes: readonly Mode[] }): CachePolicyStep[] {
  const out: CachePolicyStep[] = [];
  for (let round = 0; round < o.rounds; round++) {
    const ws = round % 2 === 0 ? o.wastes : [...o.wastes].reverse();
    for (const mode of o.modes) for (const compactWaste of ws) out.push({ round, compactWaste, mode });
  }
  return out;
}

/** What one workload run (`streams` concurrent decodes on one engine) produced. */
export interface CachePolicyRun {
  /** Wall time: first decode started → last one done. */
  wallMs: number;
  /** Completion tokens of every decode. */
  tokens: number;
  /** Each decode's completion token ids, in prompt order (the identity check). */
  answers: number[][];
  /** `stats.batch` of every step event of every decode: a batched step appears once per row it had. */
  stepInfos: BatchStepInfo[];
}

/**
 * Per-step totals from per-row step events. A batched step's info is shared by its `rows` rows, so
 * each event counts 1/rows of a step: summing compactMs / rows counts each step's compaction once,
 * and the means are over steps (each step weighted once, however many rows it had).
 */
export function stepTotals(infos: readonly Pick<BatchStepInfo, 'rows' | 'compactMs' | 'deadBytes' | 'cacheBytes'>[]): {
  steps: number;
  compactMs: number;
  meanDeadBytes: number;
  maxDeadBytes: number;
  meanCacheBytes: number;
  maxCacheBytes: number;
} {
  let steps = 0;
  let compactMs = 0;
  let dead = 0;
  let cache = 0;
  let maxDead = 0;
  let maxCache = 0;
  for (const s of infos) {
    const w = 1 / Math.max(1, s.rows);
    steps += w;
    compactMs += s.compactMs * w;
    dead += s.deadBytes * w;
    cache += s.cacheBytes * w;
    maxDead = Math.max(maxDead, s.deadBytes);
    maxCache = Math.max(maxCache, s.cacheBytes);
  }
  return {
    steps,
    compactMs,
    meanDeadBytes: steps > 0 ? dead / steps : 0,
    maxDeadBytes: maxDead,
    meanCacheBytes: steps > 0 ? cache / steps : 0,
    maxCacheBytes: maxCache,
  };
}

/** One W × mode row from its runs (one per round), with `tokens_per_s_vs_w0` left for {@link withRatios}. */
export function cachePolicyRow(key: { compactWaste: number; mode: Mode }, runs: readonly CachePolicyRun[]): CachePolicyRow {
  if (runs.length === 0) throw new Error(`cache policy: W=${key.compactWaste} ${key.mode} has no runs`);
  const wallMs = runs.reduce((a, r) => a + r.wallMs, 0);
  const tokens = runs.reduce((a, r) => a + r.tokens, 0);
  const t = stepTotals(runs.flatMap((r) => r.stepInfos));
  return {
    compact_waste: key.compactWaste,
    mode: key.mode,
    agg_tokens_per_s: wallMs > 0 ? (tokens / wallMs) * 1000 : 0,
    tokens_per_s_vs_w0: null,
    compact_ms: t.compactMs,
    compact_ms_share: wallMs > 0 ? t.compactMs / wallMs : 0,
    steps: Math.round(t.steps),
    mean_dead_bytes: t.meanDeadBytes,
    max_dead_bytes: t.maxDeadBytes,
    mean_cache_bytes: t.meanCacheBytes,
    max_cache_bytes: t.maxCacheBytes,
    tokens,
    wall_s: wallMs / 1000,
    runs: runs.length,
  };
}

/** Each row's tokens/s ÷ the same mode's at W = 0 (null without a W = 0 row). */
export function withRatios(rows: readonly CachePolicyRow[]): CachePolicyRow[] {
  return rows.map((r) => ({ ...r, tokens_per_s_vs_w0: ratio(r.agg_tokens_per_s, rows.find((b) => b.mode === r.mode && b.compact_waste === 0)?.agg_tokens_per_s) }));
}

/**
 * Throws unless every run of a mode gave the same answers, whatever W and round: where the cache
 * keeps its dead slots must not change a single token (greedy, fixed K).
 */
export function checkIdenticalAnswers(runs: readonly { step: CachePolicyStep; answers: readonly (readonly number[])[] }[]): void {
  const ref = new Map<Mode, { step: CachePolicyStep; answers: readonly (readonly number[])[] }>();
  for (const run of runs) {
    const first = ref.get(run.step.mode);
    if (!first) {
      ref.set(run.step.mode, run);
      continue;
    }
    const n = Math.max(first.answers.length, run.answers.length);
    for (let i = 0; i < n; i++) {
      const a = first.answers[i] ?? [];
      const b = run.answers[i] ?? [];
      const at = a.findIndex((x, j) => x !== b[j]);
      if (a.length !== b.length || at >= 0) {
        const where = at >= 0 ? at : Math.min(a.length, b.length);
        throw new Error(
          `cache policy: ${run.step.mode} answers differ between compactWaste ${first.step.compactWaste} (round ${first.step.round}) and ${run.step.compactWaste} (round ${run.step.round}): ` +
            `prompt ${i}, ${a.length} vs ${b.length} tokens, first difference at token ${where} (${a[where]} vs ${b[where]}); the batch cache's compaction changed the output`,
        );
      }
    }
  }
}

/** `streams` concurrent greedy decodes of one mode on one engine, all started at once. */
async function runWorkload(engine: Engine, prompts: readonly number[][], mode: Mode, k: number, maxTokens: number): Promise<CachePolicyRun> {
  const stepInfos: BatchStepInfo[] = [];
  const t0 = performance.now();
  const answers = await Promise.all(
    prompts.map(async (promptIds) => {
      let tokens: number[] = [];
      for await (const e of engine.decode(greedyRequest(promptIds, { mode, k, maxTokens }))) {
        if (e.type === 'step' && e.stats.batch) stepInfos.push(e.stats.batch);
        else if (e.type === 'done') tokens = e.tokens;
      }
      return tokens;
    }),
  );
  const wallMs = performance.now() - t0;
  return { wallMs, tokens: answers.reduce((a, t) => a + t.length, 0), answers, stepInfos };
}

export interface CachePolicyOptions {
  quick: boolean;
  /** onnxruntime intra-op threads (0: the runtime's default). */
  threads: number;
  rounds?: number;
  wastes?: readonly number[];
  log?: (line: string) => void;
  onRun?: () => void;
}

export interface CachePolicyResult {
  rows: CachePolicyRow[];
  config: { wastes: number[]; modes: Mode[]; streams: number; k: number; max_tokens: number; rounds: number; threads: number };
  notes: string[];
}

/** Runs the comparison on `bundle`: one engine per W, all loaded before anything is measured, interleaved runs. */
export async function runCachePolicy(bundle: LoadedBundle, o: CachePolicyOptions): Promise<CachePolicyResult> {
  const plan = CACHE_POLICY_PLAN;
  const wastes = [...(o.wastes ?? CACHE_POLICY_WASTES)];
  const rounds = o.rounds ?? (o.quick ? plan.rounds.quick : plan.rounds.full);
  const notes: string[] = [];
  const prompts = Array.from({ length: plan.streams }, (_, i) => bundle.encodePrompt(BENCH_PROMPTS[i % BENCH_PROMPTS.length]));
  const engines = new Map<number, Engine>();
  try {
    for (const w of wastes) engines.set(w, await createEngine(bundle, { intraOpThreads: o.threads, batch: { enabled: true, specK: 'fixed', compactWaste: w } }));
    const any = engines.get(wastes[0])!;
    if (!any.batching.enabled) throw new Error(`cache policy: the engine does not batch on this bundle (${any.batching.note})`);
    const modes = plan.modes.filter((m) => any.modes.includes(m));
    for (const m of plan.modes.filter((m) => !any.modes.includes(m))) notes.push(`${m} was not measured in the cache-policy section: the bundle cannot serve it.`);
    // Warm-up: a short run of each mode on every engine (first-run costs of onnxruntime), not counted.
    for (const mode of modes) for (const w of wastes) await runWorkload(engines.get(w)!, prompts, mode, plan.k, 8);
    const schedule = cachePolicySchedule({ rounds, wastes, modes });
    const done: { step: CachePolicyStep; run: CachePolicyRun; answers: number[][] }[] = [];
    for (const step of schedule) {
      const run = await runWorkload(engines.get(step.compactWaste)!, prompts, step.mode, plan.k, plan.maxTokens);
      done.push({ step, run, answers: run.answers });
      o.onRun?.();
      const t = stepTotals(run.stepInfos);
      o.log?.(`cache policy: round ${step.round} W=${step.compactWaste} ${step.mode}: ${((run.tokens / run.wallMs) * 1000).toFixed(1)} tok/s, compact ${t.compactMs.toFixed(1)} ms over ${Math.round(t.steps)} steps`);
    }
    checkIdenticalAnswers(done);
    const rows: CachePolicyRow[] = [];
    for (const mode of modes) {
      for (const w of wastes) rows.push(cachePolicyRow({ compactWaste: w, mode }, done.filter((d) => d.step.mode === mode && d.step.compactWaste === w).map((d) => d.run)));
    }
    return { rows: withRatios(rows), config: { wastes, modes, streams: plan.streams, k: plan.k, max_tokens: plan.maxTokens, rounds, threads: o.threads }, notes };
  } finally {
    for (const e of engines.values()) await e.dispose();
  }
}
