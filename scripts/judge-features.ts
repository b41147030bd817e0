/**
 * Experiment: does a richer judge head separate selfjudge labels better than the target's hidden state
 * alone? Mines selfjudge labels on a real pair (TRAIN_OPENINGS), then for every mismatched draft token
 * (the ones the judge decides) builds feature sets and trains the same class-weighted logistic
 * regression on a record-level split, reporting held-out ROC-AUC:
 *   hidden            the target's hidden state at the token's position (what `verdict judge` ships)
 *   probs             7 scalars: target log p(d), log max p, entropy, log rank; draft log q(d), log max q, entropy
 *   hidden+probs      both
 *   both-hidden       the target's and the draft's hidden states (AutoJudge-style; the draft gets the same
 *                     hidden_states surgery as `verdict import` gives the target, in a temporary copy)
 *   all               both hidden states + probs
 * Usage: npx tsx scripts/judge-features.ts BUNDLE [openings=40] [tokens=40]
 * Nothing is written but a temporary data file.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadBundle } from '../gpu-backend/src/bundle/load.ts';
import { TRAIN_OPENINGS } from '../gpu-backend/src/fidelity/prompts.ts';
import { loadDecodeModels } from '../gpu-backend/src/judge/models.ts';
import { FeatureStats, LogisticModel, isHeldOut, seededRandom, sigmoid } from '../gpu-backend/src/judge/logistic.ts';
import { rocAuc } from '../gpu-backend/src/judge/metrics.ts';
import { mineBundle } from '../gpu-backend/src/judge/mine.ts';
import { parseRule } from '../gpu-backend/src/judge/rules.ts';
import { DecoderSession } from '../gpu-backend/src/engine/session.ts';
import { findHeadInput, hiddenStatesFragment, writeWithFragment } from '../gpu-backend/src/import/hidden-states.ts';
import { scanModel } from '../gpu-backend/src/import/onnx-scan.ts';

const [dir, nOpen = '40', nTok = '40'] = process.argv.slice(2);
const bundle = await loadBundle(dir);
const work = await mkdtemp(join(tmpdir(), 'verdict-features-'));
const data = join(work, 'data.jsonl');
const t0 = performance.now();
const mined = await mineBundle(bundle, TRAIN_OPENINGS.slice(0, Number(nOpen)), data, { rule: await parseRule('selfjudge'), k: 4, maxTokens: Number(nTok), draftTemperature: 0.8, seed: 0, session: { intraOpThreads: 1 } });
console.log(`mined ${mined.labels} labels (${mined.harmless} harmless, ${mined.negatives} wrong) in ${((performance.now() - t0) / 1000).toFixed(0)} s`);

const m = await loadDecodeModels(bundle, undefined, { intraOpThreads: 1 });
const H = bundle.manifest.target.hidden_size;
const V = bundle.manifest.target.vocab_size;
const rows: { hidden: Float32Array; dhidden: Float32Array; probs: number[]; label: number; record: number }[] = [];
const dscan = await scanModel(bundle.draftPath);
const draftWithHidden = join(work, 'draft-hidden.onnx');
await writeWithFragment(bundle.draftPath, draftWithHidden, hiddenStatesFragment(dscan, findHeadInput(dscan), bundle.manifest.draft.hidden_size));
const draftH = await DecoderSession.load(draftWithHidden, { ...bundle.manifest.draft, has_hidden_states: true }, bundle.manifest.max_context, { intraOpThreads: 1 });
const DH = bundle.manifest.draft.hidden_size;
const stats = (row: Float32Array, tok: number) => {
  let mx = -Infinity;
  for (const x of row) if (x > mx) mx = x;
  let z = 0;
  for (const x of row) z += Math.exp(x - mx);
  const lz = mx + Math.log(z);
  let h = 0;
  let rank = 0;
  for (const x of row) {
    const lp = x - lz;
    h -= Math.exp(lp) * lp;
    if (x > row[tok]) rank++;
  }
  return { lp: row[tok] - lz, lmax: mx - lz, h, rank, argmax: rank === 0 };
};
const lines = (await readFile(data, 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
for (let r = 0; r < lines.length; r++) {
  const { prompt_ids: p, response_ids: d, labels } = lines[r] as { prompt_ids: number[]; response_ids: number[]; labels: number[] };
  const ids = [...p, ...d];
  const tc = m.target.newCache();
  const dc = draftH.newCache();
  const t = await m.target.forward(tc, ids, { hidden: true });
  const q = await draftH.forward(dc, ids, { hidden: true });
  tc.release();
  dc.release();
  for (let i = 0; i < d.length; i++) {
    const pos = p.length + i; // input position of d_i
    const ts = stats(t.logits.subarray((pos - 1) * V, pos * V), d[i]);
    if (ts.argmax) continue; // exact accepts it anyway
    const qs = stats(q.logits.subarray((pos - 1) * V, pos * V), d[i]);
    rows.push({ hidden: t.hidden!.slice(pos * H, (pos + 1) * H), dhidden: q.hidden!.slice(pos * DH, (pos + 1) * DH), probs: [ts.lp, ts.lmax, ts.h, Math.log1p(ts.rank), qs.lp, qs.lmax, qs.h], label: labels[i], record: r });
  }
}
await m.dispose();
await draftH.dispose();
await rm(work, { recursive: true, force: true });
console.log(`${rows.length} decided tokens (${rows.filter((x) => x.label).length} harmless)`);

function evaluate(name: string, feat: (x: (typeof rows)[number]) => number[]) {
  const dim = feat(rows[0]).length;
  const X = new Float32Array(rows.length * dim);
  const y = new Uint8Array(rows.length);
  rows.forEach((x, i) => {
    X.set(feat(x), i * dim);
    y[i] = x.label;
  });
  const held = rows.map((x) => isHeldOut(x.record, 0, 0.25));
  const st = new FeatureStats(dim);
  rows.forEach((_, i) => (held[i] ? undefined : st.add(X, i * dim, y[i])));
  const pos = st.positives;
  const cw: [number, number] = [st.count / (2 * (st.count - pos)), st.count / (2 * pos)];
  const model = new LogisticModel(dim, st.standardiser());
  const train = rows.map((_, i) => i).filter((i) => !held[i]);
  const rand = seededRandom(1);
  for (let epoch = 0; epoch < 30; epoch++) {
    for (let i = train.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [train[i], train[j]] = [train[j], train[i]];
    }
    for (let i = 0; i < train.length; i += 128) model.step(X, y, train.slice(i, i + 128), cw, { lr: 0.01, l2: 1e-2 });
  }
  const test = rows.map((_, i) => i).filter((i) => held[i]);
  const auc = rocAuc(test.map((i) => sigmoid(model.logit(X, i))), test.map((i) => y[i]));
  console.log(`${name.padEnd(14)} dim ${String(dim).padStart(3)}  held-out ROC-AUC on decided tokens ${auc.toFixed(3)} (${test.length} tokens)`);
}
evaluate('hidden', (x) => Array.from(x.hidden));
evaluate('probs', (x) => x.probs);
evaluate('hidden+probs', (x) => [...x.hidden, ...x.probs]);
evaluate('both-hidden', (x) => [...x.hidden, ...x.dhidden]);
evaluate('all', (x) => [...x.hidden, ...x.dhidden, ...x.probs]);
