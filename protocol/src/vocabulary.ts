/**
 * The wire vocabulary in one place: modes, provenances, finish reasons, request kinds and their
 * paths, header names, the SSE response headers and the serving defaults. No zod and no Node or
 * Workers API, so the browser demo imports it too (`@verdict/protocol/browser`).
 */

/** How draft tokens are verified. `target` means no speculation at all (the baseline). */
export const MODES = ['target', 'exact', 'judge', 'kl', 'entropy'] as const;
export type Mode = (typeof MODES)[number];

/**
 * Where an emitted token came from: a proposed token accepted by the exact rule (from the draft model or an n-gram
 * match), one accepted only by a lenient rule (judge, kl, entropy), a token of the request's `prediction` that was
 * kept (by either rule), or the target's own.
 */
export const PROVENANCES = ['draft', 'judge', 'prediction', 'target'] as const;
export type Provenance = (typeof PROVENANCES)[number];

export const MAX_K = 64;

/**
 * Where a step's draft tokens come from: the draft model, n-gram matches in the prompt and the text so far
 * (prompt lookup), or the request's `prediction`. The text proposers fall back to the draft model where they
 * have nothing to offer.
 */
export const PROPOSERS = ['draft', 'ngram', 'prediction'] as const;
export type Proposer = (typeof PROPOSERS)[number];

/** Upper bound of `speculative.prompt_lookup_max` (the n-gram length matched). */
export const MAX_PROMPT_LOOKUP = 16;

/** OpenAI's finish reasons that Verdict produces (a cancelled generation has no response to carry one). */
export const FINISH_REASONS = ['stop', 'length'] as const;
export type FinishReason = (typeof FINISH_REASONS)[number];

/** The two generation routes, by kind. */
export const REQUEST_PATHS = { chat: '/v1/chat/completions', completion: '/v1/completions' } as const;
export type RequestKind = keyof typeof REQUEST_PATHS;

/** Header names (HTTP headers are case-insensitive; these are the spellings we send). */
export const HEADERS = {
  requestId: 'X-Request-Id',
  serverTiming: 'Server-Timing',
  retryAfter: 'Retry-After',
  /** Gateway: HIT | MISS | BYPASS | DRAFT (see {@link CACHE_STATUSES}). */
  cache: 'X-Cache',
  /** Client → gateway: `recorded` replays a cached stream at its recorded pace (the demo). */
  replay: 'X-Verdict-Replay',
  /** Gateway: this answer joined an identical generation already in flight. */
  coalesced: 'X-Verdict-Coalesced',
  /** Gateway: the request id of the generation a cached answer came from. */
  originRequestId: 'X-Verdict-Origin-Request-Id',
  // Backend spec-decode stats, on every answer:
  mode: 'X-Verdict-Mode',
  k: 'X-Verdict-K',
  promptTokens: 'X-Verdict-Prompt-Tokens',
  completionTokens: 'X-Verdict-Completion-Tokens',
  steps: 'X-Verdict-Steps',
  drafted: 'X-Verdict-Drafted',
  accepted: 'X-Verdict-Accepted',
  judgeAccepted: 'X-Verdict-Judge-Accepted',
  acceptedPerStep: 'X-Verdict-Accepted-Per-Step',
  tokensPerS: 'X-Verdict-Tokens-Per-S',
} as const;

/** The backend's stats headers, which browsers may read cross-origin (the gateway's CORS expose list). */
export const STATS_HEADERS = [
  HEADERS.mode,
  HEADERS.k,
  HEADERS.promptTokens,
  HEADERS.completionTokens,
  HEADERS.steps,
  HEADERS.drafted,
  HEADERS.accepted,
  HEADERS.judgeAccepted,
  HEADERS.acceptedPerStep,
  HEADERS.tokensPerS,
] as const;

/**
 * What the gateway's cache did for one answer: `X-Cache` (upper case), `timings.cache` and Server-Timing's
 * `cache;desc=…` (lower case). `hit`: replayed from the cache (or joined an identical generation in flight);
 * `miss`: generated, and stored when complete; `bypass`: the cache played no part; `draft`: generated with a
 * cached answer for the same conversation (other sampling settings, or an edited last user turn) sent to the
 * backend as the request's `prediction` (stored like a miss when the request is cacheable).
 */
export const CACHE_STATUSES = ['hit', 'miss', 'bypass', 'draft'] as const;
export type CacheStatus = (typeof CACHE_STATUSES)[number];

export const SSE_CONTENT_TYPE = 'text/event-stream';
/** Every SSE response, backend and gateway alike: nothing may hold the stream back or store it. */
export const SSE_RESPONSE_HEADERS = {
  'Content-Type': `${SSE_CONTENT_TYPE}; charset=utf-8`,
  'Cache-Control': 'no-cache',
  // Keeps Cloudflare from compressing the stream (a compressed stream sits in the encoder).
  'Content-Encoding': 'identity',
  'X-Accel-Buffering': 'no',
} as const;

/**
 * What the server applies when a request leaves a field out (`verdict serve --default-*` changes
 * each). temperature 1 and no top-p/top-k cut are OpenAI's; the mode defaults to judge when the
 * bundle has a judge head, else exact.
 */
export const DEFAULTS = {
  k: 4,
  temperature: 1,
  top_p: 1,
  top_k: 0,
  max_tokens: 256,
  kl_threshold: 0.5,
  kl_confidence: 0.9,
  entropy_threshold: 1.5,
  entropy_window: 2,
  /** The ngram proposer matches suffixes of at most / at least this many tokens (vLLM's prompt_lookup_max / min). */
  prompt_lookup_max: 4,
  prompt_lookup_min: 2,
} as const;
