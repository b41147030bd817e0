import { headDim, type LlamaConfig } from './llama-config.ts';
import { makeWeights } from './llama-weights.ts';
import { buildDecoderOnnx } from './llama-onnx.ts';
import { DecoderRunner } from './decoder-runner.ts';
import { measureAgreement, timeDecodeStep, type AgreementOptions, type AgreementReport } from './agreement.ts';
import { PRESETS, type PresetName } from './presets.ts';

export interface SweepRow extends AgreementReport {
  residualScale: number;
}

export interface StepTimes {
  targetMs: number;
  draftMs: number;
}

/**
 * Builds the preset's pair in memory for each residual scale and measures greedy agreement
 * (how the presets' default scales were chosen). With `timeSteps`, also times one decode step of
 * each model at the first scale (step time does not depend on the scale).
 */
export async function sweepResidualScale(
  preset: PresetName,
  scales: number[],
  opts: { weightSeed?: number; agreement?: AgreementOptions; threads?: number; timeSteps?: boolean; onRow?: (row: SweepRow) => void } = {},
): Promise<{ rows: SweepRow[]; steps?: StepTimes }> {
  const rows: SweepRow[] = [];
  let steps: StepTimes | undefined;
  for (const residualScale of scales) {
    const c: LlamaConfig = { ...PRESETS[preset], residualScale };
    const w = makeWeights(c, opts.weightSeed ?? 0);
    const spec = (layers: number) => ({ num_layers: layers, num_kv_heads: c.numKvHeads, head_dim: headDim(c) });
    const target = await DecoderRunner.open(Buffer.concat(buildDecoderOnnx(c, w, c.numLayers, 'target')), spec(c.numLayers), opts.threads);
    const draft = await DecoderRunner.open(Buffer.concat(buildDecoderOnnx(c, w, c.draftLayers, 'draft')), spec(c.draftLayers), opts.threads);
    try {
      const row = { residualScale, ...(await measureAgreement(target, draft, c.vocabSize, opts.agreement)) };
      rows.push(row);
      opts.onRow?.(row);
      if (opts.timeSteps && !steps) steps = { targetMs: await timeDecodeStep(target), draftMs: await timeDecodeStep(draft) };
    } finally {
      await target.release();
      await draft.release();
    }
  }
  return { rows, steps };
}

export function formatSweepRow(r: SweepRow): string {
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`.padStart(6);
  return (
    `${String(r.residualScale).padEnd(8)} ${pct(r.agreement)}  ${pct(r.disagreeRank2)}  ${pct(r.disagreeTop5)}  ` +
    `${r.disagreeMeanTargetProb.toFixed(3)}  ${r.positions}`
  );
}

export const SWEEP_HEADER = 'scale    agree   rank2    top5   p(draft)  positions';
