import { createReadStream, createWriteStream } from 'node:fs';
import { createHash } from 'node:crypto';
import { rename, rm } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import onnxProto from 'onnx-proto';
import { dimsOf, type ModelSummary, type NodeProto } from './onnx-scan.ts';

const { onnx } = onnxProto;
const FLOAT = onnx.TensorProto.DataType.FLOAT;

export const HIDDEN_OUTPUT = 'hidden_states';
/** Every node the surgery adds starts with this. */
const PREFIX = 'verdict_hidden_';

/** Ops that compute an LM head's logits from the final hidden state. */
const HEAD_OPS = new Set(['MatMul', 'Gemm', 'MatMulNBits']);
/**
 * Element-wise ops that may sit between the head and `logits`: Casts (fp16 exports cast back to
 * float32), a bias Add, soft-capping (Div, Tanh, Mul). Walked through along their one live input.
 */
const PASS_THROUGH = new Set(['Cast', 'Identity', 'Add', 'Sub', 'Mul', 'Div', 'Tanh']);

export interface HeadInput {
  /** The activation the head reads: the final norm's output. */
  tensor: string;
  /** The head node (for messages). */
  node: string;
  /** Its width, read from the head's weight where the graph says it. */
  hiddenSize?: number;
}

/**
 * Finds the final norm's output as the activation input of the MatMul/Gemm that produces `logits`.
 * "Live" tensors are those computed from the graph's inputs; weights, and views of them (a tied
 * head's Transpose of the embedding table, a DequantizeLinear), are not. Walks back from `logits`
 * through element-wise ops along their single live input; of the head's inputs, the live one is
 * the activation, so tied and untied heads look the same.
 */
export function findHeadInput(m: ModelSummary): HeadInput {
  const producer = new Map<string, NodeProto>();
  for (const n of m.nodes) for (const o of n.output ?? []) producer.set(o, n);
  const live = new Set(m.inputs.map((i) => i.name ?? ''));
  for (const n of m.nodes) if ((n.input ?? []).some((i) => live.has(i))) for (const o of n.output ?? []) live.add(o);

  let node = producer.get('logits');
  while (node && PASS_THROUGH.has(node.opType ?? '')) {
    const liveIn = (node.input ?? []).filter((i) => live.has(i));
    if (liveIn.length !== 1) break;
    node = producer.get(liveIn[0]);
  }
  if (!node) throw new Error(`${m.path}: no node produces the 'logits' output`);
  if (!HEAD_OPS.has(node.opType ?? '')) {
    throw new Error(`${m.path}: 'logits' comes from a ${node.opType} node (${node.name}), not the MatMul/Gemm of an LM head, so the final norm's output cannot be found`);
  }
  const [a, b] = node.input ?? [];
  const acts = [a, b].filter((t) => t && live.has(t));
  if (acts.length !== 1) throw new Error(`${m.path}: the LM head ${node.name} (${node.opType}) has ${acts.length} activation inputs, expected exactly one`);
  const weight = acts[0] === a ? b : a;
  return { tensor: acts[0], node: node.name ?? node.opType!, hiddenSize: headWidth(m, node, weight, producer) };
}

/** The head's input width from its weight's shape: [hidden, vocab] for MatMul, Gemm by transB, K for MatMulNBits. */
function headWidth(m: ModelSummary, head: NodeProto, weight: string, producer: Map<string, NodeProto>): number | undefined {
  const attr = (n: NodeProto, name: string) => n.attribute?.find((x) => x.name === name);
  if (head.opType === 'MatMulNBits') {
    const k = attr(head, 'K')?.i;
    return k == null ? undefined : Number(k);
  }
  let dims = m.initializers.get(weight)?.dims;
  const t = producer.get(weight);
  if (!dims && t?.opType === 'Transpose') {
    const src = m.initializers.get(t.input![0])?.dims;
    if (src?.length === 2) dims = [src[1], src[0]];
  }
  if (dims?.length !== 2) return undefined;
  const transposed = head.opType === 'Gemm' && Number(attr(head, 'transB')?.i ?? 0) === 1;
  return transposed ? dims[1] : dims[0];
}

/**
 * A `graph { … }` fragment adding `hidden_states` = Cast<float32>(final norm output). Protobuf
 * merges a repeated `graph` field into the first, so appending this to the model file adds a node
 * (after all others, so topological order holds) and an output, and the weights stay untouched.
 * The Cast makes fp16 exports give float32 hidden states; on a float32 graph it is an identity.
 */
export function hiddenStatesFragment(m: ModelSummary, head: HeadInput, hiddenSize: number): Uint8Array {
  if (m.nodes.some((n) => (n.output ?? []).includes(HIDDEN_OUTPUT))) {
    throw new Error(`${m.path}: already has a tensor named '${HIDDEN_OUTPUT}' that is not an output; rename it before importing`);
  }
  const logits = m.outputs.find((o) => o.name === 'logits');
  const [batch, seq] = logits?.type?.tensorType?.shape?.dim ?? [];
  return onnx.ModelProto.encode({
    graph: {
      node: [
        {
          name: `${PREFIX}cast`,
          opType: 'Cast',
          input: [head.tensor],
          output: [HIDDEN_OUTPUT],
          attribute: [{ name: 'to', type: onnx.AttributeProto.AttributeType.INT, i: FLOAT }],
        },
      ],
      output: [
        {
          name: HIDDEN_OUTPUT,
          type: { tensorType: { elemType: FLOAT, shape: { dim: [batch ?? { dimParam: 'batch_size' }, seq ?? { dimParam: 'sequence_length' }, { dimValue: hiddenSize }] } } },
        },
      ],
    },
  }).finish();
}

export const hasHiddenStates = (m: ModelSummary): boolean => m.outputs.some((o) => o.name === HIDDEN_OUTPUT);

/** Width of an existing `hidden_states` output, when the graph states it. */
export function hiddenStatesWidth(m: ModelSummary): number | undefined {
  const w = dimsOf(m.outputs.find((o) => o.name === HIDDEN_OUTPUT))[2];
  return typeof w === 'number' ? w : undefined;
}

/**
 * Writes `src` + `fragment` to `dst` (through `dst.tmp`), streamed, and returns the new file's
 * sha256. `src` may be `dst` itself: the rename replaces the directory entry, never the inode a
 * hard link shares with the original export.
 */
export async function writeWithFragment(src: string, dst: string, fragment: Uint8Array): Promise<string> {
  const hash = createHash('sha256');
  const tmp = `${dst}.tmp`;
  try {
    await pipeline(
      async function* () {
        for await (const chunk of createReadStream(src, { highWaterMark: 1 << 22 })) {
          hash.update(chunk as Buffer);
          yield chunk as Buffer;
        }
        hash.update(fragment);
        yield fragment;
      },
      createWriteStream(tmp),
    );
    await rename(tmp, dst);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  return hash.digest('hex');
}
