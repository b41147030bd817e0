import * as ort from 'onnxruntime-node';
import type { DecoderSpec } from '../bundle/manifest.ts';
import { EngineError } from './errors.ts';
import { KvCache } from './kv-cache.ts';
import type { BatchKvCache, BatchRow } from './batch/batch-cache.ts';
import { EXECUTION_PROVIDERS, type ExecutionProvider } from './providers.ts';

export { EXECUTION_PROVIDERS, type ExecutionProvider } from './providers.ts';

export interface SessionOptions {
  /** In order of preference; ORT falls back along the list. Default ['cpu']. */
  executionProviders?: ExecutionProvider[];
  /** ORT intra-op threads; 0 or unset = ORT's default (one per core). */
  intraOpThreads?: number;
  graphOptimization?: 'disabled' | 'basic' | 'extended' | 'all';
  /** onnxruntime's CPU memory arena (default on): it reuses buffers between runs but never gives them back. */
  cpuArena?: boolean;
}

/** What one forward pass returns: row-major views into the ORT outputs. */
export interface ForwardResult {
  /** [S, V] */
  logits: Float32Array;
  /** [S, hidden_size], when asked for. */
  hidden?: Float32Array;
  /** [S], raw judge logits (before the sigmoid), when asked for. */
  judgeLogits?: Float32Array;
}

/** What a batched forward returns: [B, S, ·] views into the ORT outputs, row b at b·S. */
export interface BatchForwardResult extends ForwardResult {
  /** Positions per row (the longest feed; shorter ones are padded). */
  S: number;
}

/**
 * One ONNX decoder with Hugging Face Optimum `text-generation-with-past` I/O, loaded once and shared
 * by every request. A request brings its own {@link KvCache} (batch 1), or a row of a {@link BatchKvCache}.
 */
export class DecoderSession {
  private readonly ones: BigInt64Array;
  private readonly hasPositionIds: boolean;

  private constructor(
    private readonly session: ort.InferenceSession,
    readonly spec: DecoderSpec,
    readonly path: string,
    maxContext: number,
  ) {
    this.ones = new BigInt64Array(maxContext).fill(1n);
    this.hasPositionIds = session.inputNames.includes('position_ids');
  }

  static async load(path: string, spec: DecoderSpec, maxContext: number, opts: SessionOptions = {}): Promise<DecoderSession> {
    const eps = opts.executionProviders ?? ['cpu'];
    for (const ep of eps) {
      if (!(EXECUTION_PROVIDERS as readonly string[]).includes(ep)) throw new EngineError(`unknown execution provider ${JSON.stringify(ep)}; expected one of ${EXECUTION_PROVIDERS.join(', ')}`, 'unsupported');
    }
    let session: ort.InferenceSession;
    try {
      const options: ort.InferenceSession.SessionOptions = { executionProviders: eps, graphOptimizationLevel: opts.graphOptimization ?? 'all' };
      if (opts.intraOpThreads) options.intraOpNumThreads = opts.intraOpThreads; // the binding rejects `undefined`
      if (opts.cpuArena === false) options.enableCpuMemArena = false;
      session = await ort.InferenceSession.create(path, options);
    } catch (err) {
      throw new EngineError(`cannot load ${path} with execution providers [${eps.join(', ')}]: ${(err as Error).message}`, 'unsupported');
    }
    checkIo(session, spec, path);
    return new DecoderSession(session, spec, path, maxContext);
  }

  /**
   * Why this export cannot run batches (its input_ids has a fixed batch dimension other than
   * a symbolic one), or '' when it can.
   */
  get batchLimit(): string {
    const meta = this.session.inputMetadata.find((m) => m.name === 'input_ids');
    const dim = meta && meta.isTensor ? meta.shape[0] : undefined;
    return typeof dim === 'number' && dim !== -1 ? `${this.path} takes batch size ${dim} only (input_ids is [${dim}, …])` : '';
  }

  newCache(): KvCache {
    return new KvCache(this.spec.num_layers, this.spec.num_kv_heads, this.spec.head_dim);
  }

  /**
   * Run the decoder over `tokens` (appended after the cache's positions) and adopt the new KV.
   * Only the outputs asked for are fetched (hidden states cost a copy out of the runtime).
   */
  async forward(cache: KvCache, tokens: readonly number[], want: { hidden?: boolean; judge?: boolean } = {}): Promise<ForwardResult> {
    const fetches = ['logits'];
    if (want.hidden) fetches.push('hidden_states');
    if (want.judge) fetches.push('judge_logits');
    const out = await this.run(cache, tokens, fetches);
    return {
      logits: (out.logits as ort.Tensor).data as Float32Array,
      hidden: want.hidden ? ((out.hidden_states as ort.Tensor).data as Float32Array) : undefined,
      judgeLogits: want.judge ? ((out.judge_logits as ort.Tensor).data as Float32Array) : undefined,
    };
  }

  /**
   * Append `tokens` to the cache and fetch nothing else: a prefill reads no logits, and fetching
   * them would copy [S, V] floats (a whole prompt's worth) out of the runtime for nothing.
   */
  async prefill(cache: KvCache, tokens: readonly number[]): Promise<void> {
    await this.run(cache, tokens, []);
  }

  /**
   * One forward over every row of `cache`, row r appending `feed(r)` (nothing: it only pads), and
   * adopt the new KV. Only the outputs asked for are fetched.
   */
  async forwardBatch(cache: BatchKvCache, feed: (row: BatchRow) => readonly number[], want: { logits?: boolean; hidden?: boolean; judge?: boolean } = {}): Promise<BatchForwardResult> {
    const { feeds, perRow, S } = cache.inputs(feed, this.hasPositionIds);
    const fetches: string[] = [];
    if (want.logits !== false) fetches.push('logits');
    if (want.hidden) fetches.push('hidden_states');
    if (want.judge) fetches.push('judge_logits');
    for (let i = 0; i < this.spec.num_layers; i++) fetches.push(`present.${i}.key`, `present.${i}.value`);
    const out = await this.exec(feeds, fetches, `a batch of ${cache.size} rows × ${S} tokens`);
    cache.adopt(out, perRow, S);
    const data = (name: string) => (out[name] as ort.Tensor | undefined)?.data as Float32Array | undefined;
    return { S, logits: data('logits') ?? new Float32Array(0), hidden: data('hidden_states'), judgeLogits: data('judge_logits') };
  }

  /** One session.run over `tokens` after the cache's positions, fetching `outputs` plus the new KV (adopted). */
  private async run(cache: KvCache, tokens: readonly number[], outputs: string[]): Promise<ort.InferenceSession.ReturnType> {
    const S = tokens.length;
    const P = cache.length;
    if (S === 0) throw new Error('forward needs at least one token');
    if (P + S > this.ones.length) throw new EngineError(`context of ${P + S} tokens exceeds the bundle's max_context ${this.ones.length}`);
    const ids = new BigInt64Array(S);
    for (let i = 0; i < S; i++) ids[i] = BigInt(tokens[i]);
    const feeds: Record<string, ort.Tensor> = {
      input_ids: new ort.Tensor('int64', ids, [1, S]),
      attention_mask: new ort.Tensor('int64', this.ones.subarray(0, P + S), [1, P + S]),
    };
    if (this.hasPositionIds) {
      const pos = new BigInt64Array(S);
      for (let i = 0; i < S; i++) pos[i] = BigInt(P + i);
      feeds.position_ids = new ort.Tensor('int64', pos, [1, S]);
    }
    cache.feed(feeds);
    const fetches = [...outputs];
    for (let i = 0; i < this.spec.num_layers; i++) fetches.push(`present.${i}.key`, `present.${i}.value`);
    const out = await this.exec(feeds, fetches, `${S} tokens at position ${P}`);
    cache.adopt(out, P + S);
    return out;
  }

  private async exec(feeds: Record<string, ort.Tensor>, fetches: string[], what: string): Promise<ort.InferenceSession.ReturnType> {
    try {
      return await this.session.run(feeds, fetches);
    } catch (err) {
      throw new EngineError(`${this.path}: inference failed over ${what}: ${(err as Error).message}`, 'runtime');
    }
  }

  async dispose(): Promise<void> {
    await this.session.release();
  }
}

/** The graph must have the Optimum I/O that bundle.json promises; say exactly what is missing. */
function checkIo(session: ort.InferenceSession, spec: DecoderSpec, path: string): void {
  const need = (names: readonly string[], name: string, kind: string) => {
    if (!names.includes(name)) throw new EngineError(`${path}: the decoder has no ${kind} '${name}' (bundle.json says num_layers=${spec.num_layers})`, 'unsupported');
  };
  need(session.inputNames, 'input_ids', 'input');
  need(session.inputNames, 'attention_mask', 'input');
  need(session.outputNames, 'logits', 'output');
  for (let i = 0; i < spec.num_layers; i++) {
    for (const kv of ['key', 'value']) {
      need(session.inputNames, `past_key_values.${i}.${kv}`, 'input');
      need(session.outputNames, `present.${i}.${kv}`, 'output');
    }
  }
  if (session.inputNames.includes(`past_key_values.${spec.num_layers}.key`)) {
    throw new EngineError(`${path}: the decoder has more layers than bundle.json's num_layers=${spec.num_layers}`, 'unsupported');
  }
  if (spec.has_hidden_states) need(session.outputNames, 'hidden_states', 'output');
  if (spec.has_judge_logits) need(session.outputNames, 'judge_logits', 'output');
}

/** A bundle's target and draft sessions; if the draft fails to load, the target is released before the error propagates. */
export async function loadDecoderPair(
  bundle: { targetPath: string; draftPath: string; manifest: { target: DecoderSpec; draft: DecoderSpec; max_context: number } },
  opts: SessionOptions = {},
): Promise<{ target: DecoderSession; draft: DecoderSession }> {
  const { manifest } = bundle;
  const target = await DecoderSession.load(bundle.targetPath, manifest.target, manifest.max_context, opts);
  try {
    return { target, draft: await DecoderSession.load(bundle.draftPath, manifest.draft, manifest.max_context, opts) };
  } catch (err) {
    await target.dispose();
    throw err;
  }
}
