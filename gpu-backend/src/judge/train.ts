import { JUDGE_FORMAT, type JudgeHead } from '../bundle/judge-head.ts';
import { ACCEPT_NOTHING, chooseThreshold, metricsAt, prCurve, rocAuc, type ClassMetrics, type PrPoint, type ThresholdGoal } from './metrics.ts';
import { FeatureStats, LogisticModel, isHeldOut, logLoss, seededRandom, sigmoid } from './logistic.ts';
import { iterateStore, readStoreManifest } from './store.ts';

export interface TrainOptions {
  goal?: ThresholdGoal;
  l2?: number;
  seed?: number;
  /** Share of data records (not rows: a record's rows stay together) held out. */
  heldOutFraction?: number;
  lr?: number;
  batchSize?: number;
  maxEpochs?: number;
  /** Epochs without a held-out loss improvement before stopping. */
  patience?: number;
  /** Rows read from disk at a time. */
  chunkRows?: number;
  log?: (line: string) => void;
}

export interface TrainResult {
  head: JudgeHead;
  /** On the held-out tokens the judge decides (not the target's argmax), at the chosen threshold. */
  heldOut: ClassMetrics;
  /** On every held-out token. */
  heldOutAll: ClassMetrics;
  curve: PrPoint[];
  goalMet: boolean;
}

const DEFAULTS = { l2: 1e-3, seed: 0, heldOutFraction: 0.2, lr: 0.03, batchSize: 128, maxEpochs: 100, patience: 5, chunkRows: 8192 };

/** Trains a judge head on a complete embedding store, streaming it in chunks every epoch. */
export async function trainFromStore(dir: string, options: TrainOptions = {}): Promise<TrainResult> {
  const o = { ...DEFAULTS, ...options };
  const goal = options.goal ?? 'f1';
  const log = options.log ?? (() => {});
  const manifest = await readStoreManifest(dir);
  if (!manifest.complete) throw new Error(`${dir}: the embedding store is incomplete (collect was interrupted); rerun collect with the same --out to finish it`);
  const h = manifest.hidden_size;
  const held = (record: number) => isHeldOut(record, o.seed, o.heldOutFraction);

  // Pass 1: standardisation statistics and class counts on the training rows.
  const stats = new FeatureStats(h);
  let heldRows = 0;
  let heldPos = 0;
  for await (const batch of iterateStore(dir, manifest, o.chunkRows)) {
    for (let r = 0; r < batch.count; r++) {
      if (held(batch.records[r])) {
        heldRows++;
        heldPos += batch.labels[r];
      } else stats.add(batch.features, r * h, batch.labels[r]);
    }
  }
  const trainPos = stats.positives;
  const trainNeg = stats.count - trainPos;
  if (trainPos === 0 || trainNeg === 0) {
    throw new Error(`${dir}: training needs both correct and wrong examples (training rows: ${trainPos} correct, ${trainNeg} wrong)`);
  }
  if (heldRows === 0) throw new Error(`${dir}: no held-out rows (${manifest.records_done} records); collect more data`);
  // Class weighting: each class carries half the total weight.
  const classWeight: [number, number] = [stats.count / (2 * trainNeg), stats.count / (2 * trainPos)];
  const model = new LogisticModel(h, stats.standardiser());
  const rand = seededRandom(o.seed + 1);

  const heldOutLoss = async (): Promise<number> => {
    let loss = 0;
    let weight = 0;
    for await (const batch of iterateStore(dir, manifest, o.chunkRows)) {
      for (let r = 0; r < batch.count; r++) {
        if (!held(batch.records[r])) continue;
        const y = batch.labels[r];
        loss += classWeight[y] * logLoss(model.logit(batch.features, r), y);
        weight += classWeight[y];
      }
    }
    return loss / weight;
  };

  let best = { loss: Infinity, epoch: 0, params: model.snapshot() };
  let epoch = 0;
  for (epoch = 1; epoch <= o.maxEpochs; epoch++) {
    for await (const batch of iterateStore(dir, manifest, o.chunkRows)) {
      const rows: number[] = [];
      for (let r = 0; r < batch.count; r++) if (!held(batch.records[r])) rows.push(r);
      for (let i = rows.length - 1; i > 0; i--) {
        const j = Math.floor(rand() * (i + 1));
        [rows[i], rows[j]] = [rows[j], rows[i]];
      }
      for (let i = 0; i < rows.length; i += o.batchSize) {
        model.step(batch.features, batch.labels, rows.slice(i, i + o.batchSize), classWeight, { lr: o.lr, l2: o.l2 });
      }
    }
    const loss = await heldOutLoss();
    log(`epoch ${epoch}: held-out loss ${loss.toFixed(4)}`);
    if (loss < best.loss - 1e-5) best = { loss, epoch, params: model.snapshot() };
    else if (epoch - best.epoch >= o.patience) break;
  }
  model.restore(best.params);

  // Held-out scores with the best weights. The threshold is chosen on the tokens the judge actually
  // decides: those that are not the target's argmax (the exact rule accepts the others anyway).
  const scores = new Float64Array(heldRows);
  const labels = new Uint8Array(heldRows);
  const decided: number[] = [];
  let k = 0;
  for await (const batch of iterateStore(dir, manifest, o.chunkRows)) {
    for (let r = 0; r < batch.count; r++) {
      if (!held(batch.records[r])) continue;
      scores[k] = sigmoid(model.logit(batch.features, r));
      labels[k] = batch.labels[r];
      if (!batch.argmax[r]) decided.push(k);
      k++;
    }
  }
  const hasDecided = decided.some((i) => labels[i] === 1) && decided.some((i) => labels[i] === 0);
  const dScores = hasDecided ? decided.map((i) => scores[i]) : Array.from(scores);
  const dLabels = hasDecided ? decided.map((i) => labels[i]) : Array.from(labels);
  if (!hasDecided) log('note: the held-out split has no mismatched tokens of both classes; the threshold is chosen on all held-out tokens');
  const curve = prCurve(dScores, dLabels);
  const choice = chooseThreshold(curve, goal);
  const heldOut = metricsAt(dScores, dLabels, choice.threshold, rocAuc(dScores, dLabels));
  const heldOutAll = metricsAt(scores, labels, choice.threshold, rocAuc(scores, labels));
  if (!choice.goalMet) {
    log(
      choice.threshold === ACCEPT_NOTHING
        ? `warning: no threshold reaches ${choice.goal} on held-out data; threshold set to 1 (the head accepts nothing, judge mode behaves as exact)`
        : `warning: no threshold reaches ${choice.goal} on held-out data; using the closest (${choice.threshold.toFixed(4)})`,
    );
  }
  const { weights, bias } = model.folded();
  const head: JudgeHead = {
    format: JUDGE_FORMAT,
    hidden_size: h,
    weights,
    bias,
    threshold: choice.threshold,
    target_sha256: manifest.target_sha256,
    training: {
      trained_at: new Date().toISOString(),
      store_rows: manifest.rows,
      store_records: manifest.records_done,
      train_rows: stats.count,
      train_positives: trainPos,
      held_out_rows: heldRows,
      held_out_positives: heldPos,
      l2: o.l2,
      seed: o.seed,
      epochs_run: Math.min(epoch, o.maxEpochs),
      best_epoch: best.epoch,
      held_out_loss: best.loss,
      threshold_goal: choice.goal,
      threshold_goal_met: choice.goalMet,
      /** Metrics on the held-out tokens the judge decides (not the target's argmax); the threshold is chosen on these. */
      held_out_scope: hasDecided ? 'tokens that are not the target argmax' : 'all tokens',
      held_out: jsonSafe(heldOut),
      held_out_all_tokens: jsonSafe(heldOutAll),
    },
  };
  return { head, heldOut, heldOutAll, curve, goalMet: choice.goalMet };
}

/** NaN (e.g. AUC with one class) becomes null so judge.json stays valid JSON. */
function jsonSafe(m: ClassMetrics): Record<string, number | null> {
  return Object.fromEntries(Object.entries(m).map(([k, v]) => [k, Number.isFinite(v) ? v : null]));
}

