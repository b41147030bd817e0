import type { LoadedBundle } from '../bundle/types.ts';
import { createEngine, greedyRequest, type Engine } from '../engine/engine.ts';
import type { DecodeRequest } from '../engine/types.ts';
import { label, type FidelityConfig } from './configs.ts';
import { continuationNll, loadEvaluator, type Evaluator } from './evaluator.ts';
import { distinct2, gapInterval, meanInterval, tokenAgreement, type Interval, type Unit } from './stats.ts';

export interface MeasureOptions {
  prompts: readonly string[];
  /** Seeds per prompt at T > 0 (greedy decoding uses one: it is deterministic). */
  seeds: number[];
  maxTokens: number;
  /** Evaluator directories (export or bundle). The bundle's target always scores too ("target NLL"). */
  evaluators: string[];
  threads?: number;
  bootstrapReps?: number;
  onProgress?: (done: number, total: number, what: string) => void;
}

export interface ModeResult {
  mode: FidelityConfig['mode'];
  k: number | null;
  threshold: number | null;
  temperature: number;
  label: string;
  tokens: number;
  tokens_per_pass: number;
  tokens_per_s: number;
  /** Per evaluator name: mean NLL per token with a bootstrap 95 % interval over prompts. */
  nll: Record<string, Interval>;
  /** The bundle's own target scoring the text. */
  target_nll: Interval;
  /** Per evaluator: (NLL − target mode's) / (draft alone's − target mode's), paired bootstrap interval. */
  gap: Record<string, Interval>;
  distinct2: number;
  /** Position-by-position token agreement with target mode's output for the same prompt and seed. */
  agreement_with_target: number;
}

interface Acc {
  units: Record<string, Unit[]>;
  targetUnits: Unit[];
  tokens: number;
  steps: number;
  decodeMs: number;
  seqs: number[][];
  agreement: number[];
}

/**
 * Decodes every prompt (× seed) with every configuration, interleaved prompt by prompt so load
 * changes hit all configurations alike, and scores each continuation with every evaluator in one
 * forward. Per configuration: tokens per target pass, tokens/s, NLL per evaluator with bootstrap
 * intervals over prompts, the quality gap against target and draft alone, distinct-2, agreement.
 */
export async function measureFidelity(bundle: LoadedBundle, configs: FidelityConfig[], o: MeasureOptions): Promise<ModeResult[]> {
  const session = { intraOpThreads: o.threads ?? 1 };
  const draftOnly: LoadedBundle = { ...bundle, targetPath: bundle.draftPath, judge: undefined, manifest: { ...bundle.manifest, target: { ...bundle.manifest.draft }, judge: undefined } };
  const engines: Engine[] = [];
  const evaluators: Evaluator[] = [];
  try {
    const main = await createEngine(bundle, session);
    engines.push(main);
    const alone = await createEngine(draftOnly, session);
    engines.push(alone);
    const targetEval = await loadEvaluator(bundle.dir, bundle, session);
    evaluators.push(targetEval);
    const evals: Evaluator[] = [];
    for (const dir of o.evaluators) {
      const e = await loadEvaluator(dir, bundle, session);
      evaluators.push(e);
      evals.push(e);
    }
    const names = evals.map((e) => e.name);
    if (new Set(names).size !== names.length) throw new Error(`evaluators need distinct directory names, got ${names.join(', ')}`);
    const accs = configs.map<Acc>(() => ({ units: Object.fromEntries(names.map((n) => [n, []])), targetUnits: [], tokens: 0, steps: 0, decodeMs: 0, seqs: [], agreement: [] }));
    const total = o.prompts.length * configs.length;
    let done = 0;
    for (let p = 0; p < o.prompts.length; p++) {
      const promptIds = bundle.encodePrompt(o.prompts[p]);
      const unitsThisPrompt = configs.map(() => ({ per: Object.fromEntries(names.map((n) => [n, { sum: 0, count: 0 }])) as Record<string, Unit>, target: { sum: 0, count: 0 } }));
      const targetOut = new Map<string, number[]>();
      // target configs first so agreement has its reference
      const order = configs.map((_, i) => i).sort((a, b) => Number(configs[b].mode === 'target') - Number(configs[a].mode === 'target'));
      for (const ci of order) {
        const c = configs[ci];
        const seeds = c.temperature > 0 ? o.seeds : [o.seeds[0] ?? 0];
        for (const seed of seeds) {
          const req: DecodeRequest = greedyRequest(promptIds, {
            mode: c.mode === 'draft' ? 'target' : c.mode,
            k: c.k ?? 1,
            maxTokens: o.maxTokens,
            temperature: c.temperature,
            seed,
            ...(c.mode === 'judge' ? { threshold: c.threshold! } : {}),
            ...(c.mode === 'kl' ? { klThreshold: c.threshold! } : {}),
            ...(c.mode === 'entropy' ? { entropyThreshold: c.threshold! } : {}),
          });
          let tokens: number[] = [];
          for await (const ev of (c.mode === 'draft' ? alone : main).decode(req)) {
            if (ev.type !== 'done') continue;
            tokens = ev.tokens;
            const a = accs[ci];
            a.tokens += ev.tokens.length;
            a.steps += ev.stats.steps;
            a.decodeMs += ev.stats.totalMs - ev.stats.prefillMs;
          }
          const key = `${c.temperature}/${seed}`;
          if (c.mode === 'target') targetOut.set(key, tokens);
          accs[ci].seqs.push(tokens);
          accs[ci].agreement.push(tokenAgreement(tokens, targetOut.get(key) ?? []));
          const u = unitsThisPrompt[ci];
          add(u.target, await continuationNll(targetEval.session, promptIds, tokens));
          for (const e of evals) add(u.per[e.name], await continuationNll(e.session, promptIds, tokens));
        }
        o.onProgress?.(++done, total, label(c));
      }
      unitsThisPrompt.forEach((u, ci) => {
        accs[ci].targetUnits.push(u.target);
        for (const n of names) accs[ci].units[n].push(u.per[n]);
      });
    }
    return summarise(configs, accs, names, o.bootstrapReps ?? 1000);
  } finally {
    for (const e of engines) await e.dispose();
    for (const e of evaluators) await e.dispose();
  }
}

function add(into: Unit, u: Unit): void {
  into.sum += u.sum;
  into.count += u.count;
}

function summarise(configs: FidelityConfig[], accs: Acc[], names: string[], reps: number): ModeResult[] {
  const ref = (mode: 'target' | 'draft', t: number) => configs.findIndex((c) => c.mode === mode && c.temperature === t);
  return configs.map((c, i) => {
    const a = accs[i];
    const ti = ref('target', c.temperature);
    const di = ref('draft', c.temperature);
    const gap: Record<string, Interval> = {};
    const nll: Record<string, Interval> = {};
    for (const n of names) {
      nll[n] = meanInterval(a.units[n], reps, 17);
      if (ti >= 0 && di >= 0) gap[n] = gapInterval(a.units[n], accs[ti].units[n], accs[di].units[n], reps, 17);
    }
    return {
      mode: c.mode,
      k: c.k,
      threshold: c.threshold,
      temperature: c.temperature,
      label: label(c),
      tokens: a.tokens,
      tokens_per_pass: a.steps > 0 ? a.tokens / a.steps : Number.NaN,
      tokens_per_s: a.decodeMs > 0 ? (a.tokens / a.decodeMs) * 1000 : Number.NaN,
      nll,
      target_nll: meanInterval(a.targetUnits, reps, 17),
      gap,
      distinct2: distinct2(a.seqs),
      agreement_with_target: a.agreement.reduce((s, x) => s + x, 0) / Math.max(1, a.agreement.length),
    };
  });
}
