import { mkdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { machineInfo } from '../bench/machine.ts';
import { renderSvg } from '../bench/plots.ts';
import { loadBundle } from '../bundle/load.ts';
import { fidelityConfigs } from './configs.ts';
import { EVAL_OPENINGS } from './prompts.ts';
import { fidelityPlotSpec, plotFile, renderFidelityReport } from './report.ts';
import { measureFidelity } from './run.ts';
import { summarise, type FidelityResult } from './summary.ts';

export interface FidelityOptions {
  bundle: string;
  evaluators: string[];
  quick?: boolean;
  prompts?: number;
  seeds?: number;
  maxTokens?: number;
  outDir?: string;
  threads?: number;
  onProgress?: (done: number, total: number, what: string) => void;
}

/** Full run: 64 openings × 2 seeds × 64 tokens at T = 0.8 (one seed greedy). --quick: 6 × 1 × 32. */
export const FIDELITY_SIZES = { full: { prompts: 64, seeds: 2, maxTokens: 64 }, quick: { prompts: 6, seeds: 1, maxTokens: 32 } } as const;

export async function runFidelity(o: FidelityOptions): Promise<{ result: FidelityResult; outDir: string }> {
  if (o.evaluators.length === 0) throw new Error('give at least one --evaluator DIR (an export directory or a bundle that is neither draft nor target)');
  const started = new Date();
  const t0 = performance.now();
  const machine = machineInfo();
  const bundle = await loadBundle(o.bundle);
  const size = o.quick ? FIDELITY_SIZES.quick : FIDELITY_SIZES.full;
  const nPrompts = o.prompts ?? size.prompts;
  if (nPrompts > EVAL_OPENINGS.length) throw new Error(`--prompts ${nPrompts}: there are ${EVAL_OPENINGS.length} evaluation openings`);
  const seeds = Array.from({ length: o.seeds ?? size.seeds }, (_, i) => 1000 + i);
  const maxTokens = o.maxTokens ?? size.maxTokens;
  const shipped = bundle.judge?.threshold;
  const configs = fidelityConfigs([0.8, 0], shipped);
  const modes = await measureFidelity(bundle, configs, {
    prompts: EVAL_OPENINGS.slice(0, nPrompts),
    seeds,
    maxTokens,
    evaluators: o.evaluators,
    threads: o.threads,
    onProgress: o.onProgress,
  });
  machine.load_avg_1m_end = Math.round(os.loadavg()[0] * 100) / 100;
  const evaluators = Object.keys(modes[0]?.nll ?? {});
  const result: FidelityResult = {
    format: 'verdict-fidelity/1',
    started_at: started.toISOString(),
    bundle: bundle.manifest.name,
    evaluators,
    sizes: { prompts: nPrompts, seeds, max_tokens: maxTokens, quick: o.quick === true },
    machine,
    wall_s: (performance.now() - t0) / 1000,
    modes,
    summary: summarise(modes, shipped),
  };
  const outDir = resolve(o.outDir ?? join('bench', 'results', `${started.toISOString().slice(0, 10)}-${machine.host}-fidelity${o.quick ? '-quick' : ''}`));
  await writeResults(outDir, result);
  return { result, outDir };
}

async function writeResults(outDir: string, result: FidelityResult): Promise<void> {
  await mkdir(outDir, { recursive: true });
  await writeFile(join(outDir, 'summary.json'), `${JSON.stringify(result, null, 2)}\n`);
  for (const e of result.evaluators) await writeFile(join(outDir, plotFile(e)), await renderSvg(fidelityPlotSpec(result.modes, e)));
  await writeFile(join(outDir, 'report.md'), renderFidelityReport(result));
}

/** Re-derives the summary, report and plots of a finished run from its summary.json (no decoding). */
export async function rerenderFidelity(outDir: string): Promise<FidelityResult> {
  const old = JSON.parse(await readFile(join(outDir, 'summary.json'), 'utf8')) as FidelityResult;
  const result = { ...old, summary: summarise(old.modes, old.summary.shipped_threshold ?? undefined, old.summary.gap_budget) };
  await writeResults(outDir, result);
  return result;
}
