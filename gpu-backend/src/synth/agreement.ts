import { argmax, softmax } from '../engine/sampling.ts';
import type { DecoderRunner } from './decoder-runner.ts';
import { Prng } from './prng.ts';

export interface AgreementReport {
  positions: number;
  /** Fraction of positions where the draft's argmax equals the target's, given the target's prefix. */
  agreement: number;
  /** Among disagreements: fraction where the draft's token is the target's 2nd choice / in its top 5. */
  disagreeRank2: number;
  disagreeTop5: number;
  /** Among disagreements: mean target probability of the draft's token (judge decoding feeds on these). */
  disagreeMeanTargetProb: number;
  /** Distinct tokens in the target's greedy continuations (a low count means the model loops). */
  distinctTokens: number;
}

export interface AgreementOptions {
  prompts?: number;
  promptLen?: number;
  genLen?: number;
  seed?: number;
}

/**
 * Greedy draft/target agreement: the target generates greedily from seeded random prompts; then
 * both models score the whole sequence and we compare their argmax at each generated position.
 */
export async function measureAgreement(target: DecoderRunner, draft: DecoderRunner, vocab: number, opts: AgreementOptions = {}): Promise<AgreementReport> {
  const { prompts = 6, promptLen = 8, genLen = 40, seed = 1234 } = opts;
  const rng = new Prng(seed);
  let positions = 0;
  let agree = 0;
  let rank2 = 0;
  let top5 = 0;
  let probSum = 0;
  const distinct = new Set<number>();
  const probs = new Float32Array(vocab);
  const row = (logits: Float32Array, pos: number) => logits.subarray(pos * vocab, (pos + 1) * vocab);
  for (let p = 0; p < prompts; p++) {
    // Ids >= 2 skip BOS/EOS.
    const ids = Array.from({ length: promptLen }, () => 2 + rng.int(vocab - 2));
    let step = await target.forward([ids]);
    for (let t = 0; t < genLen; t++) {
      const next = argmax(row(step.logits, step.seqLen - 1));
      ids.push(next);
      distinct.add(next);
      step = await target.forward([[next]], { past: step.present, pastLen: ids.length - 1 });
    }
    const [tf, df] = [await target.forward([ids]), await draft.forward([ids])];
    for (let i = promptLen - 1; i < ids.length - 1; i++) {
      const tRow = row(tf.logits, i);
      const tTop = argmax(tRow);
      const dTop = argmax(row(df.logits, i));
      positions++;
      if (tTop === dTop) {
        agree++;
        continue;
      }
      const rank = tRow.reduce((n, x) => (x > tRow[dTop] ? n + 1 : n), 0);
      if (rank === 1) rank2++;
      if (rank < 5) top5++;
      probSum += softmax(tRow, probs)[dTop];
    }
  }
  const disagree = positions - agree;
  return {
    positions,
    agreement: agree / positions,
    disagreeRank2: disagree ? rank2 / disagree : 0,
    disagreeTop5: disagree ? top5 / disagree : 0,
    disagreeMeanTargetProb: disagree ? probSum / disagree : 0,
    distinctTokens: distinct.size,
  };
}

/** Median wall time (ms) of a one-token decode step after a `pastLen`-token prefill. */
export async function timeDecodeStep(runner: DecoderRunner, pastLen = 64, iterations = 30): Promise<number> {
  const ids = Array.from({ length: pastLen }, (_, i) => 2 + i);
  const prefill = await runner.forward([ids]);
  const times: number[] = [];
  for (let i = 0; i < iterations + 3; i++) {
    const t0 = performance.now();
    await runner.forward([[5]], { past: prefill.present, pastLen });
    if (i >= 3) times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}
