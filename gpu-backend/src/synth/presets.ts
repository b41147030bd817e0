import type { LlamaConfig } from './llama-config.ts';

export type PresetName = 'tiny' | 'bench';

const base = { ropeTheta: 10000, rmsEps: 1e-5, tieEmbeddings: false } as const;

/**
 * residualScale defaults were calibrated by measuring greedy draft/target agreement
 * (`verdict synth --preset P --sweep …`; the measured curves are in docs/models.md):
 * with the word-piece prior (wordPrior 0.6): tiny 0.2 → 68.5% top-1 agreement (768 positions),
 * bench 0.06 → 73.7% (384 positions), most misses being the target's 2nd choice.
 * judgeSignal defaults were chosen by training the synth pipeline's judge head at several values
 * (docs/models.md, "Judge signal"): tiny 1 → an informative head (AUC 0.889) that the confidence-bounded
 * threshold ships accepting nothing; 2 → held-out AUC 0.977, fresh-prompt AUC 0.891, judge 3.61 vs exact 2.71
 * tokens/step; so 2.
 * bench (1747 mined labels, ratio:0.5, precision goal 0.9): 1 → AUC 0.723 and no threshold meets the
 * precision goal (the head accepts nothing), 2 → AUC 0.875 (recall 0.39), 4 → AUC 0.942 (precision 0.967,
 * recall 0.906), so 4.
 */
export const PRESETS: Record<PresetName, LlamaConfig> = {
  /** For tests: a decode step well under a millisecond. */
  tiny: {
    ...base,
    vocabSize: 512,
    hiddenSize: 64,
    numLayers: 4,
    numHeads: 4,
    numKvHeads: 2,
    intermediateSize: 176,
    draftLayers: 1,
    residualScale: 0.2,
    logitStd: 4,
    judgeSignal: 2,
    wordPrior: 0.6,
    maxContext: 512,
  },
  /** Target ~200 MB fp32, memory-bandwidth bound per step; 1-layer draft. */
  bench: {
    ...base,
    vocabSize: 4096,
    hiddenSize: 512,
    numLayers: 16,
    numHeads: 8,
    numKvHeads: 2,
    intermediateSize: 1408,
    draftLayers: 1,
    residualScale: 0.06,
    logitStd: 4,
    judgeSignal: 4,
    wordPrior: 0.6,
    maxContext: 2048,
  },
};

export function isPresetName(s: string): s is PresetName {
  return Object.hasOwn(PRESETS, s);
}
