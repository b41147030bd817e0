/**
 * A small engine benchmark (not a test): tokens/s of each mode, interleaved in one run so machine
 * drift hits every mode alike, plus what a KV rollback costs next to a target step.
 *
 *   npx tsx gpu-backend/src/bench/engine-bench.ts --bundle DIR [--k 4] [--max-tokens 64] [--rounds 2] [--threads 0] [--json]
 *
 * Modes: target, exact and kl always; judge when the bundle has a head. The full `verdict bench`
 * (sweeps, plots, report) builds on the same engine; this stays small so it can be rerun quickly.
 */
import { existsSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { Mode } from '@verdict/protocol';
import { loadBundle } from '../bundle/load.ts';
import { createEngine, greedyRequest, type Engine } from '../engine/engine.ts';
import { DecoderSession } from '../engine/session.ts';
import type { DecodeStats } from '../engine/types.ts';
import { machineInfo, type MachineInfo } from './machine.ts';
import { BENCH_PROMPTS } from './prompts.ts';

export interface EngineBenchOptions {
  bundleDir: string;
  k: number;
  maxTokens: number;
  rounds: number;
  /** ORT intra-op threads; 0 = ORT default. */
  threads: number;
  prompts?: readonly string[];
}

export interface ModeResult {
  mode: Mode;
  completionTokens: number;
  steps: number;
  tokensPerS: number;
  meanAcceptedPerStep: number;
  /** accepted / drafted (0 in target mode). */
  acceptRate: number;
  draftMsPerStep: number;
  verifyMsPerStep: number;
  judgeMsPerStep: number;
  rollbackMsPerStep: number;
}

export interface RollbackResult {
  contextLength: number;
  positionsRolledBack: number;
  rollbackMs: number;
  /** One target forward over K+1 tokens at that context length. */
  stepMs: number;
}

export interface EngineBenchResult {
  machine: MachineInfo;
  bundle: string;
  k: number;
  maxTokens: number;
  rounds: number;
  modes: ModeResult[];
  rollback: RollbackResult;
}

export async function benchEngine(o: EngineBenchOptions): Promise<EngineBenchResult> {
  const machine = machineInfo();
  const bundle = await loadBundle(o.bundleDir);
  const engine = await createEngine(bundle, { intraOpThreads: o.threads });
  const prompts = (o.prompts ?? BENCH_PROMPTS).map((p) => bundle.encodePrompt(p));
  const modes = engine.modes;
  const totals = new Map<Mode, DecodeStats[]>(modes.map((m) => [m, []]));
  try {
    for (const mode of modes) await decodeOnce(engine, prompts[0], mode, o.k, 8); // warm-up
    for (let r = 0; r < o.rounds; r++) {
      for (const prompt of prompts) {
        for (const mode of modes) totals.get(mode)!.push(await decodeOnce(engine, prompt, mode, o.k, o.maxTokens));
      }
    }
  } finally {
    await engine.dispose();
  }
  const rollback = await measureRollback(bundle.targetPath, bundle.manifest, o.k, o.threads);
  return { machine, bundle: bundle.manifest.name, k: o.k, maxTokens: o.maxTokens, rounds: o.rounds, modes: modes.map((m) => summarise(m, totals.get(m)!)), rollback };
}

async function decodeOnce(engine: Engine, promptIds: number[], mode: Mode, k: number, maxTokens: number): Promise<DecodeStats> {
  for await (const ev of engine.decode(greedyRequest(promptIds, { mode, k, maxTokens }))) if (ev.type === 'done') return ev.stats;
  throw new Error('decode ended without a done event');
}

function summarise(mode: Mode, runs: DecodeStats[]): ModeResult {
  const sum = (f: (s: DecodeStats) => number) => runs.reduce((a, s) => a + f(s), 0);
  const steps = sum((s) => s.steps);
  const tokens = sum((s) => s.completionTokens);
  const genMs = sum((s) => s.totalMs - s.prefillMs);
  const drafted = sum((s) => s.drafted);
  return {
    mode,
    completionTokens: tokens,
    steps,
    tokensPerS: (tokens / genMs) * 1000,
    meanAcceptedPerStep: tokens / steps,
    acceptRate: drafted > 0 ? sum((s) => s.accepted) / drafted : 0,
    draftMsPerStep: sum((s) => s.draftMs) / steps,
    verifyMsPerStep: sum((s) => s.verifyMs) / steps,
    judgeMsPerStep: sum((s) => s.judgeMs) / steps,
    rollbackMsPerStep: sum((s) => s.rollbackMs) / steps,
  };
}

/** Worst-case rollback (all K drafts rejected) at a mid-sized context, against the forward it follows. */
async function measureRollback(path: string, manifest: Awaited<ReturnType<typeof loadBundle>>['manifest'], k: number, threads: number): Promise<RollbackResult> {
  const session = await DecoderSession.load(path, manifest.target, manifest.max_context, { intraOpThreads: threads });
  const cache = session.newCache();
  const contextLength = Math.min(256, manifest.max_context - k - 1);
  await session.forward(cache, Array.from({ length: contextLength }, (_, i) => (i * 7919) % manifest.target.vocab_size));
  const step = Array.from({ length: k + 1 }, (_, i) => (i * 31) % manifest.target.vocab_size);
  let fwd = 0;
  let rb = 0;
  const reps = 20;
  for (let i = 0; i < reps + 2; i++) {
    const t0 = performance.now();
    await session.forward(cache, step);
    const t1 = performance.now();
    cache.truncate(contextLength);
    const t2 = performance.now();
    if (i >= 2) {
      fwd += t1 - t0;
      rb += t2 - t1;
    }
  }
  await session.dispose();
  return { contextLength, positionsRolledBack: k + 1, rollbackMs: rb / reps, stepMs: fwd / reps };
}

export function formatEngineBench(r: EngineBenchResult): string {
  const f = (x: number, d = 2) => x.toFixed(d);
  const lines = [
    `${r.bundle} on ${r.machine.cpu_model} (${r.machine.cores} cores, load ${r.machine.load_avg_1m}), K=${r.k}, ${r.maxTokens} tokens x ${r.rounds} rounds`,
    'mode    tok/s   tokens/step  accept  draft ms/step  verify ms/step  judge ms/step  rollback ms/step',
    ...r.modes.map(
      (m) =>
        `${m.mode.padEnd(7)} ${f(m.tokensPerS, 1).padStart(6)}  ${f(m.meanAcceptedPerStep).padStart(11)}  ${f(m.acceptRate).padStart(6)}  ` +
        `${f(m.draftMsPerStep).padStart(13)}  ${f(m.verifyMsPerStep).padStart(14)}  ${f(m.judgeMsPerStep, 3).padStart(13)}  ${f(m.rollbackMsPerStep, 3).padStart(16)}`,
    ),
    `rollback of ${r.rollback.positionsRolledBack} positions at context ${r.rollback.contextLength}: ${f(r.rollback.rollbackMs, 3)} ms ` +
      `vs ${f(r.rollback.stepMs)} ms for the target forward (${f((100 * r.rollback.rollbackMs) / r.rollback.stepMs, 1)}%)`,
  ];
  return lines.join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      bundle: { type: 'string' },
      k: { type: 'string', default: '4' },
      'max-tokens': { type: 'string', default: '64' },
      rounds: { type: 'string', default: '2' },
      threads: { type: 'string', default: '0' },
      json: { type: 'boolean', default: false },
    },
  });
  if (!values.bundle) throw new Error('--bundle DIR is required (make one with: npx verdict synth --preset bench --out DIR)');
  if (!existsSync(values.bundle)) throw new Error(`--bundle ${values.bundle} does not exist`);
  const result = await benchEngine({
    bundleDir: values.bundle,
    k: Number(values.k),
    maxTokens: Number(values['max-tokens']),
    rounds: Number(values.rounds),
    threads: Number(values.threads),
  });
  process.stdout.write(values.json ? `${JSON.stringify(result, null, 2)}\n` : `${formatEngineBench(result)}\n`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err) => {
    process.stderr.write(`engine-bench: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
