/**
 * The proposer workloads (`verdict bench --workloads`): how much each proposer (draft model, prompt
 * lookup, the request's prediction) saves on three kinds of request, engine-level, interleaved prompt by
 * prompt so machine drift hits every configuration alike.
 *
 *  - chat:       a plain question at T = 0, no prediction (draft and ngram only);
 *  - regenerate: the same question again at T = 0.7; the prediction is a previous answer (another seed);
 *  - edit:       T = 0; the prediction is the T = 0 answer with every 12th token altered — what an edit
 *                request looks like to a model that cannot follow instructions (the synthetic and tiny
 *                real models here cannot): the answer repeats most of the prediction, not all;
 *  - copy:       T = 0; the prediction is exactly the answer (the ceiling: K + 1 tokens per target pass).
 *
 * Each with every proposer that applies, in exact mode and in judge mode (when the bundle has a head).
 * Measured: completion tokens per target pass and tokens/s, and tokens/s against the draft proposer of the
 * same workload and mode.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Mode, Proposer } from '@verdict/protocol';
import { loadBundle } from '../bundle/load.ts';
import type { LoadedBundle } from '../bundle/types.ts';
import { createEngine, greedyRequest, type Engine } from '../engine/engine.ts';
import type { DecodeRequest, DecodeStats } from '../engine/types.ts';
import { importBundle } from '../import/import-bundle.ts';
import { machineInfo, type MachineInfo } from './machine.ts';
import { BENCH_PROMPTS } from './prompts.ts';

export const WORKLOADS = ['chat', 'regenerate', 'edit', 'copy'] as const;
export type Workload = (typeof WORKLOADS)[number];

export interface WorkloadOptions {
  k: number;
  maxTokens: number;
  /** Prompts from the fixed set. */
  prompts: number;
  threads: number;
  log?: (line: string) => void;
}

export interface WorkloadRow {
  workload: Workload;
  proposer: Proposer;
  mode: Mode;
  completionTokens: number;
  steps: number;
  /** Completion tokens per target forward. */
  tokensPerPass: number;
  tokensPerS: number;
  /** tokens/s over the draft proposer's, same workload and mode. */
  vsDraft: number;
  acceptedPredictionTokens: number;
  rejectedPredictionTokens: number;
}

export interface WorkloadBundleResult {
  bundle: string;
  k: number;
  maxTokens: number;
  prompts: number;
  rows: WorkloadRow[];
  /** Whether judge mode ran (the bundle has a head), else why not. */
  judge: string;
}

export interface WorkloadResult {
  machine: MachineInfo;
  bundles: WorkloadBundleResult[];
}

/** The PLE TinyStories pair beside the repository (`../shared`), when it is there. */
export function sharedPlePair(repoRoot: string): { target: string; draft: string } | null {
  const root = resolve(repoRoot, '..', 'shared', 'models', 'tinystories-ple');
  const target = join(root, 'ple-c3M-s0');
  const draft = join(root, 'ple-c1M-s0');
  return existsSync(join(target, 'onnx', 'model.onnx')) && existsSync(join(draft, 'onnx', 'model.onnx')) ? { target, draft } : null;
}

/** Runs the workloads on each bundle; `real` (a PLE pair) is imported into a temporary bundle first and removed after. */
export async function benchWorkloads(bundleDirs: string[], o: WorkloadOptions, real?: { target: string; draft: string } | null): Promise<WorkloadResult> {
  const machine = machineInfo();
  const bundles: WorkloadBundleResult[] = [];
  for (const dir of bundleDirs) bundles.push(await benchBundle(await loadBundle(dir), o));
  if (real) {
    const root = await mkdtemp(join(tmpdir(), 'verdict-workloads-'));
    try {
      o.log?.(`workloads: importing the real pair (${real.target} + ${real.draft})`);
      const { dir } = await importBundle({ target: real.target, draft: real.draft, out: join(root, 'ple') });
      bundles.push(await benchBundle(await loadBundle(dir), o));
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  }
  return { machine, bundles };
}

interface Config {
  workload: Workload;
  proposer: Proposer;
  mode: Mode;
}

async function benchBundle(bundle: LoadedBundle, o: WorkloadOptions): Promise<WorkloadBundleResult> {
  const engine = await createEngine(bundle, { intraOpThreads: o.threads });
  const judge = engine.modes.includes('judge') ? 'yes' : 'no judge head';
  const modes: Mode[] = engine.modes.includes('judge') ? ['exact', 'judge'] : ['exact'];
  const configs: Config[] = [];
  for (const workload of WORKLOADS) {
    const proposers: Proposer[] = workload === 'chat' ? ['draft', 'ngram'] : ['draft', 'ngram', 'prediction'];
    for (const mode of modes) for (const proposer of proposers) configs.push({ workload, proposer, mode });
  }
  const runs = new Map<string, DecodeStats[]>(configs.map((c) => [key(c), []]));
  const V = bundle.manifest.target.vocab_size;
  const base = { k: o.k, maxTokens: o.maxTokens };
  try {
    const prompts = BENCH_PROMPTS.slice(0, o.prompts).map((p) => bundle.encodePrompt(p));
    await decodeOnce(engine, greedyRequest(prompts[0], { ...base, maxTokens: 8 })); // warm-up
    for (const [i, promptIds] of prompts.entries()) {
      o.log?.(`workloads: ${bundle.manifest.name}, prompt ${i + 1}/${prompts.length}`);
      // the predictions: a previous sampled answer, and the greedy answer (as is, and altered)
      const previous = (await decodeOnce(engine, greedyRequest(promptIds, { ...base, mode: 'target', temperature: 0.7, seed: 1000 + i }))).tokens;
      const answer = (await decodeOnce(engine, greedyRequest(promptIds, { ...base, mode: 'target' }))).tokens;
      const edited = answer.map((t, j) => (j % 12 === 6 ? (t + 1) % V : t));
      const request: Record<Workload, Partial<DecodeRequest>> = {
        chat: {},
        regenerate: { temperature: 0.7, seed: 2000 + i, predictionIds: previous },
        edit: { predictionIds: edited },
        copy: { predictionIds: answer },
      };
      for (const c of configs) {
        const over = { ...base, ...request[c.workload], mode: c.mode, proposer: c.proposer };
        runs.get(key(c))!.push((await decodeOnce(engine, greedyRequest(promptIds, over))).stats);
      }
    }
  } finally {
    await engine.dispose();
  }
  const rows = configs.map((c) => summarise(c, runs.get(key(c))!));
  for (const r of rows) {
    const draft = rows.find((d) => d.workload === r.workload && d.mode === r.mode && d.proposer === 'draft')!;
    r.vsDraft = r.tokensPerS / draft.tokensPerS;
  }
  return { bundle: bundle.manifest.name, k: o.k, maxTokens: o.maxTokens, prompts: o.prompts, rows, judge };
}

const key = (c: Config) => `${c.workload}/${c.mode}/${c.proposer}`;

async function decodeOnce(engine: Engine, req: DecodeRequest): Promise<{ tokens: number[]; stats: DecodeStats }> {
  for await (const ev of engine.decode(req)) if (ev.type === 'done') return { tokens: ev.tokens, stats: ev.stats };
  throw new Error('decode ended without a done event');
}

function summarise(c: Config, runs: DecodeStats[]): WorkloadRow {
  const sum = (f: (s: DecodeStats) => number) => runs.reduce((a, s) => a + f(s), 0);
  const tokens = sum((s) => s.completionTokens);
  const steps = sum((s) => s.steps);
  const genMs = sum((s) => s.totalMs - s.prefillMs);
  return {
    ...c,
    completionTokens: tokens,
    steps,
    tokensPerPass: tokens / steps,
    tokensPerS: (tokens / genMs) * 1000,
    vsDraft: 1,
    acceptedPredictionTokens: sum((s) => s.acceptedPredictionTokens ?? 0),
    rejectedPredictionTokens: sum((s) => s.rejectedPredictionTokens ?? 0),
  };
}

/** One table per bundle: rows are workload × mode, columns the proposers side by side. */
export function formatWorkloads(r: WorkloadResult): string {
  const m = r.machine;
  const out: string[] = [`machine: ${m.cpu_model}, ${m.cores} cores, load ${m.load_avg_1m}`];
  for (const b of r.bundles) {
    out.push('', `${b.bundle}: K=${b.k}, ${b.maxTokens} tokens x ${b.prompts} prompts, judge: ${b.judge}`);
    out.push('workload    mode   | tokens/pass: draft  ngram  prediction | tok/s: draft  ngram  prediction | ngram/draft  prediction/draft | prediction accepted/rejected');
    const cell = (x: number | undefined, d: number, w: number) => (x == null ? '—' : x.toFixed(d)).padStart(w);
    for (const workload of WORKLOADS) {
      for (const mode of new Set(b.rows.map((x) => x.mode))) {
        const get = (p: Proposer) => b.rows.find((x) => x.workload === workload && x.mode === mode && x.proposer === p);
        const [d, n, p] = [get('draft'), get('ngram'), get('prediction')];
        out.push(
          `${workload.padEnd(11)} ${mode.padEnd(6)} |              ${cell(d?.tokensPerPass, 2, 5)} ${cell(n?.tokensPerPass, 2, 6)} ${cell(p?.tokensPerPass, 2, 11)} |` +
            `        ${cell(d?.tokensPerS, 1, 5)} ${cell(n?.tokensPerS, 1, 6)} ${cell(p?.tokensPerS, 1, 11)} |` +
            ` ${cell(n?.vsDraft, 2, 11)} ${cell(p?.vsDraft, 2, 16)} | ${p ? `${p.acceptedPredictionTokens}/${p.rejectedPredictionTokens}` : '—'}`,
        );
      }
    }
    const copy = b.rows.filter((x) => x.workload === 'copy' && x.proposer === 'prediction');
    for (const c of copy) out.push(`goal (copy, ${c.mode}): ${c.tokensPerPass.toFixed(2)} tokens/pass against 0.9 × (K+1) = ${(0.9 * (b.k + 1)).toFixed(2)}: ${c.tokensPerPass >= 0.9 * (b.k + 1) ? 'met' : 'NOT met'}`);
  }
  return out.join('\n');
}
