import { sha256Hex } from '../shared/sha256.ts';
import { messageText, predictionText, promptText, requestedLogprobs, requestedMaxTokens, stopList, type ChatCompletionRequest, type CompletionRequest, type RequestKind } from '@verdict/protocol';


/**
 * The request reduced to what determines the answer, in a fixed shape: defaults made explicit, equivalent
 * spellings merged (string vs text-part content, max_tokens vs max_completion_tokens, "stop" vs ["stop"]),
 * fields that do not change the output dropped (user).
 */
export function normaliseRequest(kind: RequestKind, r: ChatCompletionRequest | CompletionRequest): Record<string, unknown> {
  const input =
    kind === 'chat'
      ? { messages: (r as ChatCompletionRequest).messages.map((m) => ({ role: m.role, content: messageText(m), name: m.name ?? null })) }
      : { prompt: promptText(r as CompletionRequest) };
  return {
    kind,
    model: r.model,
    ...input,
    max_tokens: requestedMaxTokens(r) ?? null,
    temperature: r.temperature ?? null,
    top_p: r.top_p ?? null,
    top_k: r.top_k ?? null,
    seed: r.seed ?? null,
    stop: stopList(r),
    stream: r.stream === true,
    include_usage: r.stream_options?.include_usage === true,
    speculative: r.speculative ?? null,
    // Left out (undefined) when not asked for, so the keys of requests without them are unchanged.
    logprobs: requestedLogprobs(r) ?? undefined,
    echo: 'echo' in r && r.echo === true ? true : undefined,
    // The request's own prediction (a lenient rule may keep its tokens, so it can shape the answer); the draft the
    // gateway attaches (cache-as-draft) is not part of the request and never of its key.
    prediction: r.prediction ? predictionText(r.prediction) : undefined,
  };
}

/** JSON with object keys sorted at every level, so equal requests serialise to equal strings. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** The cache (and single-flight) key: scope (API key hash or "public") + model fingerprint + normalised request. */
export async function cacheKey(kind: RequestKind, r: ChatCompletionRequest | CompletionRequest, fingerprint: string, scope: string): Promise<string> {
  return sha256Hex(canonicalJson({ v: 1, scope, fingerprint, request: normaliseRequest(kind, r) }));
}
