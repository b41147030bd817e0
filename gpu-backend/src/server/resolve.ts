import { randomInt } from 'node:crypto';
import {
  ApiError,
  DEFAULTS,
  type RequestKind,
  ChatCompletionRequestSchema,
  CompletionRequestSchema,
  fromZodError,
  messageText,
  predictionText,
  promptText,
  requestedLogprobs,
  requestedMaxTokens,
  stopList,
  type Mode,
  type Prediction,
  type Speculative,
} from '@verdict/protocol';
import type { LoadedBundle } from '../bundle/types.ts';
import type { DecodeRequest } from '../engine/types.ts';
import type { ServeConfig } from './config.ts';


/** A validated request with every server default applied, ready for the scheduler. */
export interface ResolvedRequest {
  kind: RequestKind;
  model: string;
  decode: DecodeRequest;
  stream: boolean;
  includeUsage: boolean;
  user?: string;
  /** Top alternatives per token when log-probabilities were asked for, else null. */
  logprobs: number | null;
  /** Completions: return the prompt before the completion (its text, and its tokens' logprobs when asked). */
  echo: boolean;
  /** Completions: the prompt as sent (what echo returns). */
  promptText?: string;
}

/**
 * The prediction's token ids (its text through the bundle's tokenizer, no BOS: it is a continuation) and the
 * proposer: the request's, else `prediction` when there is a prediction, else the draft model. Only fields
 * that are set, so a plain request resolves as before.
 */
function proposerFields(prediction: Prediction | null | undefined, spec: Speculative, bundle: LoadedBundle): Partial<DecodeRequest> {
  const predictionIds = prediction != null ? bundle.tokenizer.encode(predictionText(prediction)) : undefined;
  const fields: Partial<DecodeRequest> = { proposer: spec.proposer ?? (predictionIds ? 'prediction' : 'draft') };
  if (predictionIds) fields.predictionIds = predictionIds;
  if (spec.prompt_lookup_min != null) fields.promptLookupMin = spec.prompt_lookup_min;
  if (spec.prompt_lookup_max != null) fields.promptLookupMax = spec.prompt_lookup_max;
  return fields;
}

export function defaultMode(modes: readonly Mode[], config: ServeConfig): Mode {
  return config.defaultMode ?? (modes.includes('judge') ? 'judge' : 'exact');
}

/**
 * Validation (400), model lookup (404), chat template, tokenization and the context-length check.
 * `modes` are what the workers' engines reported they can serve (the engine alone decides, e.g.
 * that judge needs a head and a hidden_states output).
 */
export function resolveRequest(kind: RequestKind, body: unknown, bundle: LoadedBundle, modes: readonly Mode[], config: ServeConfig): ResolvedRequest {
  const parsed = (kind === 'chat' ? ChatCompletionRequestSchema : CompletionRequestSchema).safeParse(body);
  if (!parsed.success) throw fromZodError(parsed.error);
  const r = parsed.data;
  const modelId = bundle.manifest.name;
  if (r.model !== modelId) {
    throw new ApiError(404, `The model '${r.model}' does not exist; this server serves '${modelId}'`, 'invalid_request_error', 'model', 'model_not_found');
  }

  const spec = r.speculative ?? {};
  const mode = spec.mode ?? defaultMode(modes, config);
  if (!modes.includes(mode)) {
    throw new ApiError(400, `mode '${mode}' is not available for '${modelId}' (it has no usable judge head); available: ${modes.join(', ')}`, 'invalid_request_error', 'speculative.mode', 'mode_unavailable');
  }

  let text: string;
  if ('messages' in r) {
    try {
      text = bundle.renderChat(r.messages.map((m) => ({ role: m.role, content: messageText(m) })));
    } catch (err) {
      throw new ApiError(400, `the chat template rejected the messages: ${err instanceof Error ? err.message : String(err)}`, 'invalid_request_error', 'messages', 'chat_template_error');
    }
  } else text = promptText(r);
  const promptIds = bundle.encodePrompt(text);

  const ctx = bundle.manifest.max_context;
  const asked = requestedMaxTokens(r);
  const room = ctx - promptIds.length;
  if (room < 1) {
    throw new ApiError(400, `the prompt is ${promptIds.length} tokens; this model's context is ${ctx} tokens`, 'invalid_request_error', 'messages' in r ? 'messages' : 'prompt', 'context_length_exceeded');
  }
  if (asked != null && asked > room) {
    const param = 'max_completion_tokens' in r && r.max_completion_tokens != null ? 'max_completion_tokens' : 'max_tokens';
    throw new ApiError(400, `${param}=${asked} plus the ${promptIds.length}-token prompt exceeds this model's context of ${ctx} tokens (at most ${room})`, 'invalid_request_error', param, 'context_length_exceeded');
  }

  const decode: DecodeRequest = {
    promptIds,
    maxTokens: asked ?? Math.min(config.defaultMaxTokens, room),
    mode,
    k: spec.k ?? config.defaultK,
    threshold: spec.threshold ?? config.defaultThreshold,
    klThreshold: spec.kl_threshold ?? config.defaultKlThreshold,
    klConfidence: spec.kl_confidence ?? config.defaultKlConfidence,
    entropyThreshold: spec.entropy_threshold ?? config.defaultEntropyThreshold,
    entropyWindow: spec.entropy_window ?? config.defaultEntropyWindow,
    temperature: r.temperature ?? config.defaultTemperature,
    topP: r.top_p ?? DEFAULTS.top_p,
    topK: r.top_k ?? DEFAULTS.top_k,
    seed: r.seed ?? randomInt(2 ** 31),
    stop: stopList(r),
  };
  Object.assign(decode, proposerFields(r.prediction, spec, bundle));
  const logprobs = requestedLogprobs(r);
  const echo = 'prompt' in r && r.echo === true;
  if (logprobs != null) Object.assign(decode, { logprobs, promptLogprobs: echo });
  const extra = { logprobs, echo, ...('prompt' in r ? { promptText: text } : {}) };
  return { kind, model: modelId, decode, stream: r.stream === true, includeUsage: r.stream_options?.include_usage === true, user: r.user, ...extra };
}
