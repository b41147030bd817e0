import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import { JudgeHeadSchema, type JudgeHead } from '../bundle/judge-head.ts';
import { BundleManifestSchema } from '../bundle/manifest.ts';
import { createHash } from 'node:crypto';
import { sha256Bytes, writeFileAtomic } from './files.ts';

const { onnx } = onnxProto;
const FLOAT = onnx.TensorProto.DataType.FLOAT;
const INT64 = onnx.TensorProto.DataType.INT64;

/** Every node and initializer the fold adds starts with this, so a re-fold can replace them. */
const PREFIX = 'verdict_judge_';
export const JUDGE_OUTPUT = 'judge_logits';

/** One top-level field of a protobuf message: its number and its whole encoding (tag included). */
interface RawField {
  field: number;
  bytes: Uint8Array;
  /** The payload of a length-delimited field. */
  payload?: Uint8Array;
}

function readVarint(buf: Uint8Array, pos: number): [number, number] {
  let value = 0;
  let shift = 0;
  for (;;) {
    if (pos >= buf.length) throw new Error('truncated protobuf varint');
    const b = buf[pos++];
    value += (b & 0x7f) * 2 ** shift;
    if (b < 0x80) return [value, pos];
    shift += 7;
  }
}

/** Splits a message into its top-level fields without decoding them (a 200 MB model stays zero-copy). */
function splitFields(buf: Uint8Array): RawField[] {
  const fields: RawField[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const start = pos;
    const [key, afterKey] = readVarint(buf, pos);
    const field = Math.floor(key / 8);
    const wire = key % 8;
    pos = afterKey;
    let payload: Uint8Array | undefined;
    if (wire === 0) pos = readVarint(buf, pos)[1];
    else if (wire === 1) pos += 8;
    else if (wire === 5) pos += 4;
    else if (wire === 2) {
      const [len, afterLen] = readVarint(buf, pos);
      payload = buf.subarray(afterLen, afterLen + len);
      pos = afterLen + len;
    } else throw new Error(`unsupported protobuf wire type ${wire}`);
    if (pos > buf.length) throw new Error('truncated protobuf message');
    fields.push({ field, bytes: buf.subarray(start, pos), payload });
  }
  return fields;
}

const GRAPH_FIELD = 7; // ModelProto.graph

const isOurs = (name: string | null | undefined): boolean => (name ?? '').startsWith(PREFIX);

/**
 * Adds `judge_logits` [B,S] = hidden_states · w + b to a decoder graph (MatMul, Add, Squeeze on
 * the existing `hidden_states` output). A graph that already has a folded head gets it replaced.
 *
 * Protobuf merges repeated occurrences of an embedded message, and our synth writes the graph as
 * several `graph { … }` fragments (protobufjs would keep only the last). So the model is split at
 * the top level, fragments are decoded one by one only to inspect them, a previously folded head's
 * fragment is dropped, and the head goes in as one more `graph { … }` fragment; the weight bytes
 * are never re-encoded.
 */
export function foldHeadIntoModel(modelBytes: Uint8Array, head: JudgeHead, what = 'target.onnx'): Uint8Array[] {
  const fields = splitFields(modelBytes);
  const graphs = fields.filter((f) => f.field === GRAPH_FIELD);
  if (graphs.length === 0) throw new Error(`${what}: has no graph`);
  const others = onnx.ModelProto.decode(concat(fields.filter((f) => f.field !== GRAPH_FIELD).map((f) => f.bytes)));
  const opset = (others.opsetImport ?? []).find((o) => !o.domain)?.version;
  if (opset !== undefined && opset !== null && Number(opset) < 13) {
    throw new Error(`${what}: opset ${Number(opset)} is too old to fold into (Squeeze with axes input needs opset >= 13)`);
  }

  const kept: Uint8Array[] = [];
  let hiddenOut: NonNullable<ReturnType<typeof onnx.GraphProto.decode>['output']>[number] | undefined;
  for (const f of graphs) {
    const g = onnx.GraphProto.decode(f.payload!);
    hiddenOut ??= (g.output ?? []).find((o) => o.name === 'hidden_states');
    const nodes = g.node ?? [];
    const inits = g.initializer ?? [];
    const outs = g.output ?? [];
    const mixed = nodes.some((n) => isOurs(n.name)) || inits.some((t) => isOurs(t.name)) || outs.some((o) => o.name === JUDGE_OUTPUT);
    if (!mixed) {
      kept.push(f.bytes);
      continue;
    }
    // Drop an earlier fold's items; keep whatever else the fragment holds.
    g.node = nodes.filter((n) => !isOurs(n.name));
    g.initializer = inits.filter((t) => !isOurs(t.name));
    g.output = outs.filter((o) => o.name !== JUDGE_OUTPUT);
    if (g.node.length || g.initializer.length || g.output.length || g.input?.length || g.valueInfo?.length || g.name) {
      kept.push(onnx.ModelProto.encode({ graph: g }).finish());
    }
  }
  if (!hiddenOut) throw new Error(`${what}: has no 'hidden_states' output to fold the judge head onto`);
  const dims = hiddenOut.type?.tensorType?.shape?.dim ?? [];
  const width = dims[2]?.dimValue;
  if (width !== undefined && width !== null && Number(width) !== head.hidden_size) {
    throw new Error(`${what}: hidden_states has width ${Number(width)}, the judge head expects hidden_size ${head.hidden_size}`);
  }

  const w = new Float32Array(head.weights);
  const b = new Float32Array([head.bias]);
  const axes = new BigInt64Array([-1n]);
  const fragment = onnx.ModelProto.encode({
    graph: {
      initializer: [
        { name: `${PREFIX}weight`, dataType: FLOAT, dims: [head.hidden_size, 1], rawData: new Uint8Array(w.buffer) },
        { name: `${PREFIX}bias`, dataType: FLOAT, dims: [1], rawData: new Uint8Array(b.buffer) },
        { name: `${PREFIX}axes`, dataType: INT64, dims: [1], rawData: new Uint8Array(axes.buffer) },
      ],
      node: [
        { name: `${PREFIX}matmul`, opType: 'MatMul', input: ['hidden_states', `${PREFIX}weight`], output: [`${PREFIX}dot`] },
        { name: `${PREFIX}add`, opType: 'Add', input: [`${PREFIX}dot`, `${PREFIX}bias`], output: [`${PREFIX}logit`] },
        { name: `${PREFIX}squeeze`, opType: 'Squeeze', input: [`${PREFIX}logit`, `${PREFIX}axes`], output: [JUDGE_OUTPUT] },
      ],
      output: [
        {
          name: JUDGE_OUTPUT,
          type: { tensorType: { elemType: FLOAT, shape: { dim: [dims[0] ?? { dimParam: 'batch' }, dims[1] ?? { dimParam: 'sequence' }] } } },
        },
      ],
    },
  }).finish();
  return [...fields.filter((f) => f.field !== GRAPH_FIELD).map((f) => f.bytes), ...kept, fragment];
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
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
  const parts = foldHeadIntoModel(original, head, targetPath);
  const hash = createHash('sha256');
  for (const p of parts) hash.update(p);
  const sha = hash.digest('hex');
  const newHead: JudgeHead = { ...head, target_sha256: sha };
  const headText = `${JSON.stringify(newHead, null, 2)}\n`;
  await writeFileAtomic(targetPath, parts);
  await writeFileAtomic(headPath, headText);
  const newManifest = {
    ...manifest,
    target: { ...manifest.target, sha256: sha, has_hidden_states: true, has_judge_logits: true },
    judge: { ...manifest.judge, sha256: sha256Bytes(headText) },
  };
  await writeFileAtomic(manifestPath, `${JSON.stringify(newManifest, null, 2)}\n`);
  return { targetSha256: sha, bytes: parts.reduce((n, p) => n + p.length, 0) };
}
