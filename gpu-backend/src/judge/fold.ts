import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import { JudgeHeadSchema, type JudgeHead } from '../bundle/judge-head.ts';
import { BundleManifestSchema } from '../bundle/manifest.ts';
import { sha256Bytes, writeFileAtomic } from './files.ts';

const { onnx } = onnxProto;
const FLOAT = onnx.TensorProto.DataType.FLOAT;
const INT64 = onnx.TensorProto.DataType.INT64;

/** Every node and initializer the fold adds starts with this, so a re-fold can replace them. */
const PREFIX = 'verdict_judge_';
export const JUDGE_OUTPUT = 'judge_logits';

/**
 * Adds `judge_logits` [B,S] = hidden_states · w + b to a decoder graph (MatMul, Add, Squeeze on
 * the existing `hidden_states` output). A graph that already has a folded head gets it replaced.
 */
export function foldHeadIntoModel(modelBytes: Uint8Array, head: JudgeHead, what = 'target.onnx'): Uint8Array {
  const model = onnx.ModelProto.decode(modelBytes);
  const graph = model.graph;
  if (!graph) throw new Error(`${what}: has no graph`);
  graph.node ??= [];
  graph.initializer ??= [];
  graph.output ??= [];
  const hiddenOut = graph.output.find((o) => o.name === 'hidden_states');
  if (!hiddenOut) throw new Error(`${what}: has no 'hidden_states' output to fold the judge head onto`);
  const dims = hiddenOut.type?.tensorType?.shape?.dim ?? [];
  const width = dims[2]?.dimValue;
  if (width !== undefined && width !== null && Number(width) !== head.hidden_size) {
    throw new Error(`${what}: hidden_states has width ${Number(width)}, the judge head expects hidden_size ${head.hidden_size}`);
  }

  // Drop a previously folded head.
  const nodes = graph.node.filter((n) => !(n.name ?? '').startsWith(PREFIX));
  const initializers = graph.initializer.filter((t) => !(t.name ?? '').startsWith(PREFIX));
  const outputs = graph.output.filter((o) => o.name !== JUDGE_OUTPUT);
  graph.node = nodes;
  graph.initializer = initializers;
  graph.output = outputs;

  const w = new Float32Array(head.weights);
  const b = new Float32Array([head.bias]);
  const axes = new BigInt64Array([-1n]);
  initializers.push(
    { name: `${PREFIX}weight`, dataType: FLOAT, dims: [head.hidden_size, 1], rawData: new Uint8Array(w.buffer) },
    { name: `${PREFIX}bias`, dataType: FLOAT, dims: [1], rawData: new Uint8Array(b.buffer) },
    { name: `${PREFIX}axes`, dataType: INT64, dims: [1], rawData: new Uint8Array(axes.buffer) },
  );
  nodes.push(
    { name: `${PREFIX}matmul`, opType: 'MatMul', input: ['hidden_states', `${PREFIX}weight`], output: [`${PREFIX}dot`] },
    { name: `${PREFIX}add`, opType: 'Add', input: [`${PREFIX}dot`, `${PREFIX}bias`], output: [`${PREFIX}logit`] },
    { name: `${PREFIX}squeeze`, opType: 'Squeeze', input: [`${PREFIX}logit`, `${PREFIX}axes`], output: [JUDGE_OUTPUT] },
  );
  outputs.push({
    name: JUDGE_OUTPUT,
    type: { tensorType: { elemType: FLOAT, shape: { dim: [dims[0] ?? { dimParam: 'batch' }, dims[1] ?? { dimParam: 'sequence' }] } } },
  });
  const opset = (model.opsetImport ?? []).find((o) => !o.domain)?.version;
  if (opset !== undefined && opset !== null && Number(opset) < 13) {
    throw new Error(`${what}: opset ${Number(opset)} is too old to fold into (Squeeze with axes input needs opset >= 13)`);
  }
  return onnx.ModelProto.encode(model).finish();
}

export interface FoldResult {
  targetSha256: string;
  bytes: number;
}

/**
 * `judge fold`: folds the bundle's judge.json into target.onnx and updates the fingerprints.
 * The new graph and head are written to temp files first; bundle.json is renamed into place last.
 */
export async function foldBundleJudge(bundleDir: string): Promise<FoldResult> {
  const manifestPath = join(bundleDir, 'bundle.json');
  const manifest = BundleManifestSchema.parse(JSON.parse(await readFile(manifestPath, 'utf8')));
  if (!manifest.judge) throw new Error(`${manifestPath}: has no judge entry; train a head first (verdict judge train, or synth)`);
  const headPath = join(bundleDir, manifest.judge.file);
  const head = JudgeHeadSchema.parse(JSON.parse(await readFile(headPath, 'utf8')));
  const targetPath = join(bundleDir, manifest.target.file);
  const original = await readFile(targetPath);
  const originalSha = sha256Bytes(original);
  if (head.target_sha256 !== originalSha) {
    throw new Error(`${headPath}: trained for a target with sha256 ${head.target_sha256.slice(0, 12)}…, but ${manifest.target.file} is ${originalSha.slice(0, 12)}…`);
  }
  if (head.hidden_size !== manifest.target.hidden_size) {
    throw new Error(`${headPath}: hidden_size ${head.hidden_size} does not match the target's ${manifest.target.hidden_size}`);
  }
  const folded = foldHeadIntoModel(original, head, targetPath);
  const sha = sha256Bytes(folded);
  const newHead: JudgeHead = { ...head, target_sha256: sha };
  const headText = `${JSON.stringify(newHead, null, 2)}\n`;
  await writeFileAtomic(targetPath, folded);
  await writeFileAtomic(headPath, headText);
  const newManifest = {
    ...manifest,
    target: { ...manifest.target, sha256: sha, has_hidden_states: true, has_judge_logits: true },
    judge: { ...manifest.judge, sha256: sha256Bytes(headText) },
  };
  await writeFileAtomic(manifestPath, `${JSON.stringify(newManifest, null, 2)}\n`);
  return { targetSha256: sha, bytes: folded.byteLength };
}
