import { LIMITS, MAX_K, MAX_PROMPT_LOOKUP, MODES, PROPOSERS, type Mode } from '@verdict/protocol';
import type { JudgeHead } from '../bundle/judge-head.ts';
import type { LoadedBundle } from '../bundle/types.ts';
import { decode } from './decode.ts';
import { EngineError } from './errors.ts';
import type { DecodeModels } from './request.ts';
import type { JudgeSource } from './score.ts';
import { loadDecoderPair, type SessionOptions } from './session.ts';
import type { DecodeEvent, DecodeRequest } from './types.ts';
import { BATCH_DEFAULTS, type BatchOptions } from './batch/options.ts';
import { BatchLoop } from './batch/batch-loop.ts';
import { DEFAULT_PREFILL_CHUNK } from './prefill.ts';

export { DEFAULT_PREFILL_CHUNK } from './prefill.ts';

export interface EngineOptions extends SessionOptions {
  /**
   * A judge head to use instead of the bundle's (tests, judge evaluation). It is applied to the
   * target's `hidden_states` output, even when the bundle folds its own head into the graph.
   */
  judge?: Pick<JudgeHead, 'weights' | 'bias' | 'threshold'>;
  /** Batching of concurrent decodes (default {@link BATCH_DEFAULTS}). */
  batch?: Partial<BatchOptions>;
  /** Longest forward of a prefill, in tokens (default {@link DEFAULT_PREFILL_CHUNK}; 0 = the whole prompt at once). */
  prefillChunk?: number;
}

export interface Engine {
  readonly bundle: LoadedBundle;
  /** Which modes this bundle can serve (judge needs a head and the hidden states or folded scores). */
  readonly modes: readonly Mode[];
  /** Whether concurrent decodes share forwards; `note` says why not when batching was asked for but the export cannot. */
  readonly batching: { enabled: boolean; note: string };
  /** Validates the request synchronously (throws {@link EngineError}), then decodes lazily. */
  decode(req: DecodeRequest, signal?: AbortSignal): AsyncGenerator<DecodeEvent>;
  dispose(): Promise<void>;
}

/** Load the bundle's draft and target into ONNX Runtime sessions and serve decodes on them. */
export async function createEngine(bundle: LoadedBundle, opts: EngineOptions = {}): Promise<Engine> {
  const { manifest } = bundle;
  if (opts.prefillChunk !== undefined && !(Number.isInteger(opts.prefillChunk) && opts.prefillChunk >= 0)) {
    throw new EngineError(`prefillChunk must be a whole number of tokens ≥ 0 (0 = the whole prompt at once), not ${opts.prefillChunk}`, 'unsupported');
  }
  const judge = judgeSource(bundle, opts); // before loading anything: a bad head must not leave sessions behind
  const { target, draft } = await loadDecoderPair(bundle, opts);
  const models: DecodeModels = {
    target,
    draft,
    tokenizer: bundle.tokenizer,
    eos: new Set(manifest.eos_token_ids),
    judge: judge.source,
    judgeThreshold: judge.threshold,
    maxContext: manifest.max_context,
    prefillChunk: opts.prefillChunk ?? DEFAULT_PREFILL_CHUNK,
  };
  const modes = MODES.filter((m) => m !== 'judge' || judge.source.kind !== 'none');
  const batchOpts = { ...BATCH_DEFAULTS, ...opts.batch };
  const limit = target.batchLimit || draft.batchLimit;
  const loop = batchOpts.enabled && !limit ? new BatchLoop(models, batchOpts) : null;
  return {
    bundle,
    modes,
    batching: { enabled: loop !== null, note: batchOpts.enabled && limit ? `batching is off: ${limit}; each generation runs its own forwards` : '' },
    decode(req, signal) {
      validateRequest(req, models, judge.unavailable);
      return loop ? loop.decode(req, signal) : decode(models, req, signal);
    },
    async dispose() {
      await target.dispose();
      await draft.dispose();
    },
  };
}

/** Where judge scores come from for this bundle, or why judge mode is unavailable. */
function judgeSource(bundle: LoadedBundle, opts: EngineOptions): { source: JudgeSource; threshold: number; unavailable: string } {
  const spec = bundle.manifest.target;
  const none = (why: string) => ({ source: { kind: 'none' } as const, threshold: 0.5, unavailable: why });
  const head = opts.judge ?? (spec.has_judge_logits ? undefined : bundle.judge);
  if (!head && spec.has_judge_logits) return { source: { kind: 'folded' }, threshold: bundle.judge?.threshold ?? 0.5, unavailable: '' };
  if (!head) return none(`bundle '${bundle.manifest.name}' has no judge head (judge.json)`);
  if (head.weights.length !== spec.hidden_size) {
    throw new EngineError(`judge head has ${head.weights.length} weights but the target's hidden_size is ${spec.hidden_size}`, 'unsupported');
  }
  if (!spec.has_hidden_states) {
    return none(`the target ${bundle.manifest.target.file} has no hidden_states output, which the judge head reads`);
  }
  return { source: { kind: 'hidden', head: { weights: Float32Array.from(head.weights), bias: head.bias } }, threshold: head.threshold, unavailable: '' };
}

/** Every field checked, with the field and the value in the message. */
export function validateRequest(req: DecodeRequest, m: Pick<DecodeModels, 'target' | 'maxContext'>, judgeUnavailable = ''): void {
  const bad = (msg: string): never => {
    throw new EngineError(msg);
  };
  if (!(MODES as readonly string[]).includes(req.mode)) bad(`unknown mode ${JSON.stringify(req.mode)}; expected one of ${MODES.join(', ')}`);
  if (req.mode === 'judge' && judgeUnavailable) bad(`judge mode is unavailable: ${judgeUnavailable}`);
  const V = m.target.spec.vocab_size;
  if (!Array.isArray(req.promptIds) || req.promptIds.length === 0) bad('the prompt is empty: at least one token is needed');
  for (const id of req.promptIds) if (!Number.isInteger(id) || id < 0 || id >= V) bad(`prompt token id ${id} is outside the vocabulary [0, ${V})`);
  if (req.promptIds.length >= m.maxContext) bad(`the prompt has ${req.promptIds.length} tokens, which leaves no room in the model's context of ${m.maxContext}`);
  if (req.mode !== 'target' && (!Number.isInteger(req.k) || req.k < 1 || req.k > MAX_K)) bad(`k must be an integer in [1, ${MAX_K}], got ${req.k}`);
  const scoringOnly = req.promptLogprobs === true && req.logprobs != null; // echo: max_tokens 0 scores the prompt
  if (!Number.isInteger(req.maxTokens) || req.maxTokens < (scoringOnly ? 0 : 1)) bad(`max_tokens must be a positive integer${scoringOnly ? ' or 0' : ''}, got ${req.maxTokens}`);
  if (req.logprobs != null && !(Number.isInteger(req.logprobs) && req.logprobs >= 0 && req.logprobs <= LIMITS.maxTopLogprobs)) bad(`logprobs must be an integer in [0, ${LIMITS.maxTopLogprobs}], got ${req.logprobs}`);
  if (!(req.temperature >= 0) || !Number.isFinite(req.temperature)) bad(`temperature must be a finite number >= 0, got ${req.temperature}`);
  if (!(req.topP > 0 && req.topP <= 1)) bad(`top_p must be in (0, 1], got ${req.topP}`);
  if (!Number.isInteger(req.topK) || req.topK < 0) bad(`top_k must be an integer >= 0, got ${req.topK}`);
  if (!Number.isSafeInteger(req.seed) || req.seed < 0) bad(`seed must be a non-negative integer, got ${req.seed}`);
  if (req.threshold !== undefined && !(req.threshold >= 0 && req.threshold <= 1)) bad(`threshold must be in [0, 1], got ${req.threshold}`);
  if (!(req.klThreshold >= 0)) bad(`kl_threshold must be >= 0, got ${req.klThreshold}`);
  if (!(req.klConfidence >= 0 && req.klConfidence <= 1)) bad(`kl_confidence must be in [0, 1], got ${req.klConfidence}`);
  if (req.entropyThreshold !== undefined && !(req.entropyThreshold >= 0)) bad(`entropy_threshold must be >= 0, got ${req.entropyThreshold}`);
  if (req.entropyWindow !== undefined && !(Number.isInteger(req.entropyWindow) && req.entropyWindow >= 1)) bad(`entropy_window must be a positive integer, got ${req.entropyWindow}`);
  if (!Array.isArray(req.stop) || req.stop.some((s) => typeof s !== 'string' || s.length === 0)) bad('stop must be a list of non-empty strings');
  validateProposer(req, V, bad);
}

/** The proposer fields: a known proposer, prediction ids in the vocabulary, n-gram lengths in [1, MAX_PROMPT_LOOKUP]. */
function validateProposer(req: DecodeRequest, V: number, bad: (msg: string) => never): void {
  if (req.proposer !== undefined && !(PROPOSERS as readonly string[]).includes(req.proposer)) bad(`unknown proposer ${JSON.stringify(req.proposer)}; expected one of ${PROPOSERS.join(', ')}`);
  if (req.predictionIds !== undefined) {
    if (!Array.isArray(req.predictionIds)) bad('predictionIds must be an array of token ids');
    for (const id of req.predictionIds) if (!Number.isInteger(id) || id < 0 || id >= V) bad(`prediction token id ${id} is outside the vocabulary [0, ${V})`);
  }
  if (req.proposer === 'prediction' && req.predictionIds === undefined) bad("proposer 'prediction' needs predictionIds (the prediction's tokens)");
  for (const [name, n] of [['prompt_lookup_min', req.promptLookupMin], ['prompt_lookup_max', req.promptLookupMax]] as const) {
    if (n !== undefined && !(Number.isInteger(n) && n >= 1 && n <= MAX_PROMPT_LOOKUP)) bad(`${name} must be an integer in [1, ${MAX_PROMPT_LOOKUP}], got ${n}`);
  }
  if (req.promptLookupMin !== undefined && req.promptLookupMax !== undefined && req.promptLookupMin > req.promptLookupMax) bad(`prompt_lookup_min (${req.promptLookupMin}) must not exceed prompt_lookup_max (${req.promptLookupMax})`);
}

/**
 * A greedy request (temperature 0, 64 tokens, exact, K = 4) for tools and tests that build requests by
 * hand: reproducible by default. Not the API's defaults, which are protocol's DEFAULTS (temperature 1,
 * 256 tokens) applied by the server.
 */
export function greedyRequest(promptIds: number[], over: Partial<DecodeRequest> = {}): DecodeRequest {
  return {
    promptIds,
    maxTokens: 64,
    mode: 'exact',
    k: 4,
    klThreshold: 0.5,
    klConfidence: 0.9,
    temperature: 0,
    topP: 1,
    topK: 0,
    seed: 0,
    stop: [],
    ...over,
  };
}
