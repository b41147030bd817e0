import { open, type FileHandle } from 'node:fs/promises';
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;
export type NodeProto = ReturnType<typeof onnx.NodeProto.decode>;
export type ValueInfoProto = ReturnType<typeof onnx.ValueInfoProto.decode>;

/** What an initializer is, without its data: enough to tell weights from activations and check shapes. */
export interface InitializerInfo {
  dataType: number;
  dims: number[];
  /** `location` of its external data, when the bytes live outside the .onnx file. */
  externalLocation?: string;
}

/** The structure of an ONNX model: everything but the weight bytes. */
export interface ModelSummary {
  path: string;
  bytes: number;
  opsets: { domain: string; version: number }[];
  inputs: ValueInfoProto[];
  outputs: ValueInfoProto[];
  /** In file order (ONNX requires topological order). */
  nodes: NodeProto[];
  initializers: Map<string, InitializerInfo>;
  /** External data files the initializers point at, relative to the model's directory. */
  externalFiles: string[];
}

// Field numbers from onnx.proto3.
const MODEL = { opsetImport: 8, graph: 7 };
const GRAPH = { node: 1, initializer: 5, input: 11, output: 12 };
const TENSOR = { dims: 1, dataType: 2, name: 8, externalData: 13, dataLocation: 14 };

/**
 * Reads a model's graph structure field by field with positional reads, skipping every weight
 * payload: a multi-gigabyte model costs a few hundred kilobytes of reads, and nothing is read
 * whole into memory. Repeated `graph` fields are merged as protobuf does (our edits append them).
 */
export async function scanModel(path: string): Promise<ModelSummary> {
  const fh = await open(path, 'r');
  try {
    const size = (await fh.stat()).size;
    const r = new PositionalReader(fh, size);
    const summary: ModelSummary = { path, bytes: size, opsets: [], inputs: [], outputs: [], nodes: [], initializers: new Map(), externalFiles: [] };
    const external = new Set<string>();
    await forEachField(r, 0, size, async (field, wire, start, end) => {
      if (wire !== 2) return;
      if (field === MODEL.opsetImport) {
        const o = onnx.OperatorSetIdProto.decode(await r.bytes(start, end - start));
        summary.opsets.push({ domain: o.domain ?? '', version: Number(o.version) });
      } else if (field === MODEL.graph) {
        await forEachField(r, start, end, async (gField, gWire, s, e) => {
          if (gWire !== 2) return;
          if (gField === GRAPH.node) summary.nodes.push(onnx.NodeProto.decode(await r.bytes(s, e - s)));
          else if (gField === GRAPH.input) summary.inputs.push(onnx.ValueInfoProto.decode(await r.bytes(s, e - s)));
          else if (gField === GRAPH.output) summary.outputs.push(onnx.ValueInfoProto.decode(await r.bytes(s, e - s)));
          else if (gField === GRAPH.initializer) {
            const [name, info] = await scanTensorHeader(r, s, e);
            summary.initializers.set(name, info);
            if (info.externalLocation) external.add(info.externalLocation);
          }
        });
      }
    });
    summary.externalFiles = [...external].sort();
    return summary;
  } catch (err) {
    throw new Error(`${path}: not a readable ONNX model (${(err as Error).message})`);
  } finally {
    await fh.close();
  }
}

/** Name, type, dims and external location of a TensorProto, skipping its data fields. */
async function scanTensorHeader(r: PositionalReader, start: number, end: number): Promise<[string, InitializerInfo]> {
  let name = '';
  const info: InitializerInfo = { dataType: 0, dims: [] };
  let external = false;
  let location: string | undefined;
  await forEachField(r, start, end, async (field, wire, s, e, value) => {
    if (field === TENSOR.dims && wire === 0) info.dims.push(value);
    else if (field === TENSOR.dims && wire === 2) {
      for (let p = s; p < e; ) {
        const [v, next] = await r.varint(p);
        info.dims.push(v);
        p = next;
      }
    } else if (field === TENSOR.dataType && wire === 0) info.dataType = value;
    else if (field === TENSOR.name && wire === 2) name = new TextDecoder().decode(await r.bytes(s, e - s));
    else if (field === TENSOR.dataLocation && wire === 0) external = value === 1;
    else if (field === TENSOR.externalData && wire === 2) {
      const entry = onnx.StringStringEntryProto.decode(await r.bytes(s, e - s));
      if (entry.key === 'location') location = entry.value ?? undefined;
    }
  });
  if (external && location) info.externalLocation = location;
  return [name, info];
}

type FieldVisitor = (field: number, wire: number, start: number, end: number, value: number) => Promise<void>;

/** Walks the fields of the message in [start, end): `start..end` is a length-delimited payload, `value` a varint. */
async function forEachField(r: PositionalReader, start: number, end: number, visit: FieldVisitor): Promise<void> {
  let pos = start;
  while (pos < end) {
    const [key, afterKey] = await r.varint(pos);
    const field = Math.floor(key / 8);
    const wire = key % 8;
    pos = afterKey;
    if (wire === 0) {
      const [value, next] = await r.varint(pos);
      await visit(field, wire, pos, next, value);
      pos = next;
    } else if (wire === 2) {
      const [len, afterLen] = await r.varint(pos);
      if (afterLen + len > end) throw new Error(`truncated field ${field} at byte ${pos}`);
      await visit(field, wire, afterLen, afterLen + len, len);
      pos = afterLen + len;
    } else if (wire === 1) pos += 8;
    else if (wire === 5) pos += 4;
    else throw new Error(`unsupported protobuf wire type ${wire} at byte ${pos}`);
  }
  if (pos !== end) throw new Error(`field overruns its message at byte ${end}`);
}

/** Buffered reads at arbitrary offsets of a file. */
class PositionalReader {
  private buf = Buffer.alloc(0);
  private bufStart = 0;
  private static readonly CHUNK = 1 << 16;

  constructor(
    private readonly fh: FileHandle,
    readonly size: number,
  ) {}

  async bytes(pos: number, len: number): Promise<Uint8Array> {
    if (pos + len > this.size) throw new Error(`read past the end of the file (byte ${pos + len} of ${this.size})`);
    if (pos < this.bufStart || pos + len > this.bufStart + this.buf.length) {
      const want = Math.min(Math.max(len, PositionalReader.CHUNK), this.size - pos);
      const buf = Buffer.alloc(want);
      const { bytesRead } = await this.fh.read(buf, 0, want, pos);
      if (bytesRead < len) throw new Error(`short read at byte ${pos}`);
      this.buf = buf.subarray(0, bytesRead);
      this.bufStart = pos;
    }
    return this.buf.subarray(pos - this.bufStart, pos - this.bufStart + len);
  }

  async varint(pos: number): Promise<[number, number]> {
    const head = await this.bytes(pos, Math.min(10, this.size - pos));
    let value = 0;
    for (let i = 0; i < head.length; i++) {
      value += (head[i] & 0x7f) * 2 ** (7 * i);
      if (head[i] < 0x80) return [value, pos + i + 1];
    }
    throw new Error(`bad varint at byte ${pos}`);
  }
}

/** Dims of a value info as numbers (fixed) or strings (symbolic). */
export function dimsOf(v: ValueInfoProto | undefined): (number | string)[] {
  return (v?.type?.tensorType?.shape?.dim ?? []).map((d) => (d.dimValue != null && Number(d.dimValue) > 0 ? Number(d.dimValue) : (d.dimParam ?? '?')));
}

export const elemTypeOf = (v: ValueInfoProto | undefined): number => Number(v?.type?.tensorType?.elemType ?? 0);

/** ONNX TensorProto.DataType names for messages. */
export function dataTypeName(t: number): string {
  const names: Record<number, string> = { 1: 'float32', 2: 'uint8', 3: 'int8', 6: 'int32', 7: 'int64', 10: 'float16', 11: 'float64', 16: 'bfloat16' };
  return names[t] ?? `type ${t}`;
}
