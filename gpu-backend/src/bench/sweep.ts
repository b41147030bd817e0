import type { Mode } from '@verdict/protocol';
import type { DecodeEvent, DecodeRequest, DecodeStats } from '../engine/types.ts';
import type { OrtTimer } from './ort-timer.ts';
import type { SweepPoint } from './schema.ts';

/** The part of the engine the bench drives. */
export interface Decoder {
  decode(req: DecodeRequest, signal?: AbortSignal): AsyncIterable<DecodeEvent>;
}

/** One measured configuration: a mode, and K for the speculative ones. */
export interface BenchConfig {
  mode: Mode;
  k: number | null;
}

export interface SweepOptions {
  engine: Decoder;
  /** Prompt token ids (BOS included), the same set for every configuration. */
  prompts: number[][];
  maxTokens: number;
  ks: number[];
  /** Modes to measure; `target` is measured once (it drafts nothing, K does not apply). */
  modes: Mode[];
  rounds: number;
  klThreshold: number;
  klConfidence: number;
  /** judge threshold; unset = the head's own. */
  threshold?: number;
  timer: OrtTimer;
  /** Run after each prompt's pass over the configurations (the roofline's chain), so it drifts with them. */
  interleave?: () => Promise<void>;
  /** Called after every generation (warm-up included), for the progress bar. */
  onGeneration?: (config: BenchConfig) => void;
}

export function benchConfigs(modes: Mode[], ks: number[]): BenchConfig[] {
  const out: BenchConfig[] = modes.includes('target') ? [{ mode: 'target', k: null }] : [];
  for (const k of ks) for (const mode of modes) if (mode !== 'target') out.push({ mode, k });
  return out;
}

/** Generations the sweep will run (warm-up included), for sizing a progress bar. */
export function sweepGenerations(opts: Pick<SweepOptions, 'modes' | 'ks' | 'prompts' | 'rounds'>): number {
  const n = benchConfigs(opts.modes, opts.ks).length;
  return n + n * opts.prompts.length * opts.rounds;
}

interface Totals {
  tokens: number;
  steps: number;
  drafted: number;
  accepted: number;
  judgeAccepted: number;
  decodeMs: number;
  windowMs: number;
  ortMs: number;
  draftMs: number;
  verifyMs: number;
  judgeMs: number;
  rollbackMs: number;
  histogram: number[];
}

const emptyTotals = (k: number | null): Totals => ({
  tokens: 0,
  steps: 0,
  drafted: 0,
  accepted: 0,
  judgeAccepted: 0,
  decodeMs: 0,
  windowMs: 0,
  ortMs: 0,
  draftMs: 0,
  verifyMs: 0,
  judgeMs: 0,
  rollbackMs: 0,
  histogram: new Array((k ?? 0) + 1).fill(0),
});

/** One generation, with the wall time and the ORT time of its decode phase (after prefill) measured around it. */
async function runOne(opts: SweepOptions, config: BenchConfig, promptIds: number[], into: Totals | null): Promise<void> {
  const req: DecodeRequest = {
    promptIds,
    maxTokens: opts.maxTokens,
    mode: config.mode,
    k: config.k ?? 1,
    threshold: opts.threshold,
    klThreshold: opts.klThreshold,
    klConfidence: opts.klConfidence,
    temperature: 0,
    topP: 1,
    topK: 0,
    seed: 0,
    stop: [],
  };
  let windowStart = performance.now();
  let ortStart = opts.timer.ms;
  let stats: DecodeStats | undefined;
  const histogram = into?.histogram;
  for await (const ev of opts.engine.decode(req)) {
    if (ev.type === 'prefill') {
      windowStart = performance.now();
      ortStart = opts.timer.ms;
    } else if (ev.type === 'step' && histogram) {
      const a = Math.min(ev.stats.accepted, histogram.length - 1);
      histogram[a]++;
    } else if (ev.type === 'done') stats = ev.stats;
  }
  const windowMs = performance.now() - windowStart;
  const ortMs = opts.timer.ms - ortStart;
  if (!stats) throw new Error(`decode (${config.mode}, K=${config.k}) ended without a 'done' event`);
  if (into) {
    into.tokens += stats.completionTokens;
    into.steps += stats.steps;
    into.drafted += stats.drafted;
    into.accepted += stats.accepted;
    into.judgeAccepted += stats.judgeAccepted;
    into.decodeMs += stats.totalMs - stats.prefillMs;
    into.windowMs += windowMs;
    into.ortMs += ortMs;
    into.draftMs += stats.draftMs;
    into.verifyMs += stats.verifyMs;
    into.judgeMs += stats.judgeMs;
    into.rollbackMs += stats.rollbackMs;
  }
}

function toPoint(config: BenchConfig, t: Totals): SweepPoint {
  const perStep = (ms: number) => (t.steps ? ms / t.steps : 0);
  return {
    mode: config.mode,
    k: config.k,
    tokens_per_s: t.decodeMs > 0 ? (t.tokens / t.decodeMs) * 1000 : 0,
    mean_accepted_per_step: t.steps ? t.tokens / t.steps : 0,
    acceptance_rate: config.k == null || t.drafted === 0 ? null : t.accepted / t.drafted,
    judge_share: config.k == null || t.accepted === 0 ? null : t.judgeAccepted / t.accepted,
    tokens: t.tokens,
    steps: t.steps,
    decode_ms: t.decodeMs,
    step_ms: {
      total: perStep(t.decodeMs),
      draft: perStep(t.draftMs),
      verify: perStep(t.verifyMs),
      judge: perStep(t.judgeMs),
      rollback: perStep(t.rollbackMs),
      ort: perStep(t.ortMs),
      js_overhead: perStep(Math.max(0, t.windowMs - t.ortMs)),
    },
    accepted_histogram: config.k == null ? [] : t.histogram,
  };
}

/**
 * Every configuration over the same prompts at temperature 0, interleaved (config A B C … for a
 * prompt, then the next prompt; the order rotates per prompt) so that drift on a shared machine
 * lands on every mode alike. One discarded warm-up generation per configuration first.
 */
export async function runSweep(opts: SweepOptions): Promise<SweepPoint[]> {
  if (opts.prompts.length === 0) throw new Error('the bench needs at least one prompt');
  const configs = benchConfigs(opts.modes, opts.ks);
  for (const c of configs) {
    await runOne(opts, c, opts.prompts[0], null);
    opts.onGeneration?.(c);
  }
  const totals = configs.map((c) => emptyTotals(c.k));
  for (let round = 0; round < opts.rounds; round++) {
    for (let p = 0; p < opts.prompts.length; p++) {
      const shift = (p + round) % configs.length;
      for (let j = 0; j < configs.length; j++) {
        const i = (j + shift) % configs.length;
        await runOne(opts, configs[i], opts.prompts[p], totals[i]);
        opts.onGeneration?.(configs[i]);
      }
      await opts.interleave?.();
    }
  }
  return configs.map((c, i) => toPoint(c, totals[i]));
}
