import { readFileSync } from 'node:fs';
import ort from 'onnxruntime-node';
import onnxProto from 'onnx-proto';
import { median } from './stats.ts';

const { onnx } = onnxProto;

const BYTES_PER_ELEMENT: Record<number, number> = { 1: 4, 2: 1, 3: 1, 5: 2, 6: 4, 7: 8, 9: 1, 10: 2, 11: 8, 16: 2 };

export interface WeightBytes {
  /** Bytes of every initializer in the graph. */
  totalBytes: number;
  /** Bytes one decode step must read: all weights, except tables only looked up by Gather (one row each). */
  perStepBytes: number;
  /** Initializers read a row at a time (embedding tables). */
  gatheredTables: string[];
}

/** Reads a base-128 varint at `pos` (protobuf wire format); returns the value and the next position. */
function varint(buf: Uint8Array, pos: number, file: string): [number, number] {
  let value = 0;
  let scale = 1;
  for (let i = pos; i < buf.length; i++) {
    const b = buf[i];
    value += (b & 0x7f) * scale;
    if ((b & 0x80) === 0) return [value, i + 1];
    scale *= 128;
  }
  throw new Error(`${file}: truncated protobuf varint at byte ${pos}`);
}

/**
 * The graph's nodes and initializers. ModelProto.graph may be written as several fragments (protobuf
 * merges repeated occurrences of a message field, and our synth streams its weights that way), but
 * protobufjs keeps only the last one; so the top level is walked here and every fragment decoded.
 */
function readGraph(buf: Uint8Array, file: string): { node: onnxProto.onnx.INodeProto[]; initializer: onnxProto.onnx.ITensorProto[] } {
  const GRAPH_FIELD = 7;
  const node: onnxProto.onnx.INodeProto[] = [];
  const initializer: onnxProto.onnx.ITensorProto[] = [];
  let fragments = 0;
  let pos = 0;
  while (pos < buf.length) {
    const [tag, afterTag] = varint(buf, pos, file);
    const wireType = tag & 7;
    if (wireType === 0) [, pos] = varint(buf, afterTag, file);
    else if (wireType === 1) pos = afterTag + 8;
    else if (wireType === 5) pos = afterTag + 4;
    else if (wireType === 2) {
      const [len, start] = varint(buf, afterTag, file);
      pos = start + len;
      if (pos > buf.length) throw new Error(`${file}: truncated protobuf field ${tag >>> 3}`);
      if (tag >>> 3 === GRAPH_FIELD) {
        const g = onnx.GraphProto.decode(buf.subarray(start, pos));
        node.push(...g.node);
        initializer.push(...g.initializer);
        fragments++;
      }
    } else throw new Error(`${file}: not an ONNX model (protobuf wire type ${wireType} at byte ${pos})`);
  }
  if (fragments === 0) throw new Error(`${file}: ONNX model has no graph`);
  return { node, initializer };
}

/**
 * What one 1-token decode step of this ONNX decoder reads from memory in weights. Parsed from the
 * graph, not estimated from the file size: embeddings are gathered (one row per token) while every
 * MatMul weight is streamed whole. KV-cache reads are left out (small at the bench's context lengths).
 */
export function weightBytesPerStep(onnxPath: string): WeightBytes {
  const { node, initializer } = readGraph(readFileSync(onnxPath), onnxPath);
  const uses = new Map<string, { gatherData: number; other: number }>();
  const visit = (nodes: onnxProto.onnx.INodeProto[]) => {
    for (const node of nodes) {
      (node.input ?? []).forEach((name, i) => {
        const u = uses.get(name) ?? { gatherData: 0, other: 0 };
        if (node.opType === 'Gather' && i === 0) u.gatherData++;
        else u.other++;
        uses.set(name, u);
      });
    }
  };
  visit(node);
  let totalBytes = 0;
  let perStepBytes = 0;
  const gatheredTables: string[] = [];
  for (const t of initializer) {
    const dims = (t.dims ?? []).map(Number);
    const elementBytes = BYTES_PER_ELEMENT[t.dataType ?? 1];
    if (elementBytes === undefined) throw new Error(`${onnxPath}: initializer ${t.name} has unsupported data type ${t.dataType}`);
    if ((t.externalData ?? []).length > 0) throw new Error(`${onnxPath}: initializer ${t.name} uses external data, which the roofline does not read`);
    const elements = dims.reduce((a, b) => a * b, 1);
    const bytes = elements * elementBytes;
    totalBytes += bytes;
    const u = uses.get(t.name ?? '');
    if (u && u.gatherData > 0 && u.other === 0 && dims.length === 2) {
      gatheredTables.push(t.name ?? '');
      perStepBytes += dims[1] * elementBytes;
    } else perStepBytes += bytes;
  }
  return { totalBytes, perStepBytes, gatheredTables };
}

/** A deterministic xorshift fill: fast, and never denormal (denormals would slow the kernel, not the memory). */
function fillWeights(n: number, seed: number, scale: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = ((s >>> 0) / 4294967296 - 0.5) * 2 * scale;
  }
  return out;
}

/** An ONNX graph x[1,d] → MatMul W1 → … → MatMul Wn, every Wi [d,d] fp32 and distinct, so a run streams n·d²·4 bytes. */
export function matmulChainModel(layers: number, d: number): Uint8Array {
  const initializer: onnxProto.onnx.ITensorProto[] = [];
  const node: onnxProto.onnx.INodeProto[] = [];
  const scale = Math.sqrt(3 / d); // keeps |x| roughly constant through the chain
  for (let i = 0; i < layers; i++) {
    const w = fillWeights(d * d, 0x9e3779b9 + i, scale);
    initializer.push({ name: `w${i}`, dims: [d, d], dataType: onnx.TensorProto.DataType.FLOAT, rawData: new Uint8Array(w.buffer) });
    node.push({ opType: 'MatMul', input: [i === 0 ? 'x' : `h${i - 1}`, `w${i}`], output: [i === layers - 1 ? 'y' : `h${i}`], name: `mm${i}` });
  }
  const tensor = (name: string) => ({
    name,
    type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT, shape: { dim: [{ dimValue: 1 }, { dimValue: d }] } } },
  });
  const model = onnx.ModelProto.create({
    irVersion: 7,
    producerName: 'verdict-bench-roofline',
    opsetImport: [{ domain: '', version: 13 }],
    graph: { name: 'matmul_chain', node, initializer, input: [tensor('x')], output: [tensor('y')] },
  });
  return onnx.ModelProto.encode(model).finish();
}

export interface RooflineResult {
  /** Bytes the chain streams per run (its weights). */
  bytes: number;
  layers: number;
  width: number;
  runs: number;
  medianMs: number;
  bandwidthGBs: number;
}

export interface RooflineOptions {
  /** Weight bytes to stream per run: pass the target's per-step bytes for an equal-size run. */
  bytes: number;
  runs?: number;
  warmup?: number;
  /** Same thread setting as the engine's sessions, so the comparison is fair. Omit for ORT's default. */
  intraOpNumThreads?: number;
  /** Called between runs so a progress bar can move. */
  onRun?: () => void;
}

/** A loaded MatMul chain of about `bytes` weight bytes; `run()` streams it once and returns the wall time in ms. */
export interface RooflineChain {
  bytes: number;
  layers: number;
  width: number;
  run(): Promise<number>;
  release(): Promise<void>;
}

export async function openRoofline(opts: Pick<RooflineOptions, 'bytes' | 'intraOpNumThreads'>): Promise<RooflineChain> {
  const width = opts.bytes >= 64 * 2 ** 20 ? 1024 : 512;
  const layers = Math.max(1, Math.round(opts.bytes / (width * width * 4)));
  const session = await ort.InferenceSession.create(matmulChainModel(layers, width), {
    graphOptimizationLevel: 'all',
    ...(opts.intraOpNumThreads ? { intraOpNumThreads: opts.intraOpNumThreads } : {}),
  });
  const x = new ort.Tensor('float32', fillWeights(width, 7, 1), [1, width]);
  return {
    bytes: layers * width * width * 4,
    layers,
    width,
    async run() {
      const t0 = performance.now();
      await session.run({ x });
      return performance.now() - t0;
    },
    release: () => session.release(),
  };
}

export function rooflineResult(chain: RooflineChain, times: number[]): RooflineResult {
  const medianMs = median(times);
  return { bytes: chain.bytes, layers: chain.layers, width: chain.width, runs: times.length, medianMs, bandwidthGBs: chain.bytes / (medianMs / 1000) / 1e9 };
}

/** Measured memory bandwidth: median time of a raw ORT run that streams `bytes` of fp32 weights for one token. */
export async function measureRoofline(opts: RooflineOptions): Promise<RooflineResult> {
  const chain = await openRoofline(opts);
  try {
    for (let i = 0; i < (opts.warmup ?? 3); i++) await chain.run();
    const times: number[] = [];
    for (let i = 0; i < (opts.runs ?? 30); i++) {
      times.push(await chain.run());
      opts.onRun?.();
    }
    return rooflineResult(chain, times);
  } finally {
    await chain.release();
  }
}
