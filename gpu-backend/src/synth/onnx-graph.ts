import onnxProto from 'onnx-proto';
import type { onnx as Onnx } from 'onnx-proto';

const { onnx } = onnxProto;
const DataType = onnx.TensorProto.DataType;
const AttrType = onnx.AttributeProto.AttributeType;

/** Opset 17: ReduceMean still takes `axes` as an attribute; LessOrEqual (16) is available. */
export const OPSET = 17;
/** IR 8 is the newest the bundled onnx-proto (onnx 1.10) describes; every ORT since 1.10 loads it. */
export const IR_VERSION = 8;

export type ElemType = 'float32' | 'int64' | 'bool';
/** A dimension: fixed size, or a symbolic name (dim_param). */
export type Dim = number | string;
export type AttrValue = number | number[] | string | { float: number } | { floats: number[] };

const ELEM: Record<ElemType, number> = { float32: DataType.FLOAT, int64: DataType.INT64, bool: DataType.BOOL };

function valueInfo(name: string, elem: ElemType, dims: Dim[]): Onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: ELEM[elem],
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function attribute(name: string, v: AttrValue): Onnx.IAttributeProto {
  if (typeof v === 'number') return { name, type: AttrType.INT, i: v };
  if (typeof v === 'string') return { name, type: AttrType.STRING, s: new TextEncoder().encode(v) };
  if (Array.isArray(v)) return { name, type: AttrType.INTS, ints: v };
  if ('float' in v) return { name, type: AttrType.FLOAT, f: v.float };
  return { name, type: AttrType.FLOATS, floats: v.floats };
}

/**
 * Builds one ONNX graph: nodes in topological order, initializers as raw little-endian bytes.
 *
 * Big initializers never pass through protobufjs (it copies 200 MB of bytes in ~7 s). Protobuf
 * merges repeated occurrences of an embedded message field, so a ModelProto followed by
 * `graph { initializer { … } }` fragments parses as one model with all initializers; we write
 * those fragments by hand and hand back chunks that reference the weight buffers without copying.
 */
export class GraphBuilder {
  private readonly nodes: Onnx.INodeProto[] = [];
  private readonly initializers: { meta: Onnx.ITensorProto; data: Uint8Array }[] = [];
  private readonly inputs: Onnx.IValueInfoProto[] = [];
  private readonly outputs: Onnx.IValueInfoProto[] = [];
  private readonly constCache = new Map<string, string>();
  private counter = 0;

  input(name: string, elem: ElemType, dims: Dim[]): string {
    this.inputs.push(valueInfo(name, elem, dims));
    return name;
  }

  output(name: string, elem: ElemType, dims: Dim[]): void {
    this.outputs.push(valueInfo(name, elem, dims));
  }

  /** A float32 initializer; `data` is referenced, not copied, until encode(). */
  weight(name: string, data: Float32Array, dims: number[]): string {
    const expected = dims.reduce((a, b) => a * b, 1);
    if (data.length !== expected) throw new Error(`initializer ${name}: ${data.length} values for dims [${dims}]`);
    this.initializers.push({
      meta: { name, dataType: DataType.FLOAT, dims },
      data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    });
    return name;
  }

  /** An int64 constant (scalar when dims is []), deduplicated by value. */
  int64(values: number[], dims: number[] = [values.length]): string {
    const key = `i64:${dims.join('x')}:${values.join(',')}`;
    const cached = this.constCache.get(key);
    if (cached) return cached;
    const name = `const_i64_${this.constCache.size}`;
    const data = new BigInt64Array(values.map((v) => BigInt(v)));
    this.initializers.push({ meta: { name, dataType: DataType.INT64, dims }, data: new Uint8Array(data.buffer) });
    this.constCache.set(key, name);
    return name;
  }

  /** A float32 constant (scalar when dims is []), deduplicated by value. */
  float(values: number[], dims: number[] = [values.length]): string {
    const key = `f32:${dims.join('x')}:${values.join(',')}`;
    const cached = this.constCache.get(key);
    if (cached) return cached;
    const name = `const_f32_${this.constCache.size}`;
    this.weight(name, new Float32Array(values), dims);
    this.constCache.set(key, name);
    return name;
  }

  /** Adds a node and returns its (first) output name; pass `outputs` to name them explicitly. */
  op(opType: string, inputs: string[], attrs: Record<string, AttrValue> = {}, outputs?: string[]): string {
    const outs = outputs ?? [`${opType.toLowerCase()}_${this.counter}`];
    this.nodes.push({
      name: `${opType}_${this.counter++}`,
      opType,
      input: inputs,
      output: outs,
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    });
    return outs[0];
  }

  /** The serialized model as chunks (weights by reference): write them in order, or hash them. */
  encodeChunks(graphName: string, docString: string): Uint8Array[] {
    const model = onnx.ModelProto.create({
      irVersion: IR_VERSION,
      producerName: 'verdict-synth',
      producerVersion: '1',
      docString,
      opsetImport: [{ domain: '', version: OPSET }],
      graph: { name: graphName, node: this.nodes, input: this.inputs, output: this.outputs },
    });
    const chunks: Uint8Array[] = [onnx.ModelProto.encode(model).finish()];
    for (const { meta, data } of this.initializers) {
      const tensorMeta = onnx.TensorProto.encode(meta).finish();
      const rawHeader = [...fieldHeader(TENSOR_RAW_DATA, data.length)];
      const tensorLen = tensorMeta.length + rawHeader.length + data.length;
      const initHeader = fieldHeader(GRAPH_INITIALIZER, tensorLen);
      const graphHeader = fieldHeader(MODEL_GRAPH, initHeader.length + tensorLen);
      chunks.push(new Uint8Array([...graphHeader, ...initHeader, ...tensorMeta, ...rawHeader]), data);
    }
    return chunks;
  }
}

/** Field numbers from onnx.proto (all length-delimited, wire type 2). */
const MODEL_GRAPH = 7;
const GRAPH_INITIALIZER = 5;
const TENSOR_RAW_DATA = 9;

/** Tag + varint length of a length-delimited protobuf field. */
function fieldHeader(field: number, length: number): number[] {
  const out = [(field << 3) | 2];
  let n = length;
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80);
    n = Math.floor(n / 0x80);
  }
  out.push(n);
  return out;
}
