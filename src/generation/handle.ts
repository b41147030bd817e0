import { ApiError, ChatCompletionRequestSchema, CompletionRequestSchema, fromZodError, isDeterministic, requestedMaxTokens, type ChatCompletionRequest, type CompletionRequest } from '@verdict/protocol';
import { cacheTtlFor } from '../config.ts';
import { cacheKey, type GenerationKind } from '../cache/key.ts';
import { Flight, type FlightOpening } from '../cache/flight.ts';
import { replaySse } from '../cache/replay.ts';
import type { CachedAnswer } from '../cache/record.ts';
import { AnswerStore } from '../cache/store.ts';
import type { BackendConfig } from '../config.ts';
import { callUpstream, candidates } from '../upstream/forward.ts';
import type { AppContext } from '../state.ts';
import { cachePolicy } from './cache-policy.ts';
import { SSE_HEADERS } from './sse.ts';
import { settleFigures, withGatewayTimings } from './timings.ts';

const UPSTREAM_PATH: Record<GenerationKind, string> = { chat: '/v1/chat/completions', completion: '/v1/completions' };
const store = new AnswerStore();

async function readRequest(c: AppContext, kind: GenerationKind): Promise<ChatCompletionRequest | CompletionRequest> {
  let body: unknown;
  try {
    body = await c.req.json();
  } catch {
    throw new ApiError(400, 'The request body is not valid JSON', 'invalid_request_error', null, 'invalid_json');
  }
  const parsed = (kind === 'chat' ? ChatCompletionRequestSchema : CompletionRequestSchema).safeParse(body);
  if (!parsed.success) throw fromZodError(parsed.error);
  return parsed.data;
}

/** A cache tier failing never fails the request: it is logged and the request goes on as a miss. */
const logCacheError = (what: string) => (err: unknown) => {
  console.error(`gateway: ${what} failed: ${(err as Error)?.message ?? err}`);
  return null;
};

function waitUntil(c: AppContext, p: Promise<unknown>): void {
  try {
    c.executionCtx.waitUntil(p);
  } catch {
    // no execution context (plain app.request in a test): the promise still runs
  }
}

/**
 * POST /v1/chat/completions and /v1/completions: validate with the shared protocol (a bad body never reaches
 * a backend), then answer from the edge cache, from an identical generation already in flight, or from a
 * backend — capturing a deterministic answer for the cache as it streams through.
 */
export async function handleGeneration(c: AppContext, kind: GenerationKind): Promise<Response> {
  const { config, state, timing, scope } = c.var;
  const req = await readRequest(c, kind);
  if (c.var.isPublic) capDemoTokens(req, config.demoMaxTokens);
  const stream = req.stream === true;
  const ttl = cacheTtlFor(config, c.req.path);
  const policy = cachePolicy(c.req.header('cache-control'), isDeterministic(req), ttl);

  // The healthy backends that serve the model, in the order they would be tried, and the fingerprint each
  // serves it under. During a rolling deploy they can differ: a lookup tries each distinct fingerprint's key,
  // a generation joins or registers a flight under the key of the backend drawn first, and its answer is stored
  // under the fingerprint of the backend that actually produced it (after a retry, possibly another one).
  let order: BackendConfig[] | undefined;
  let fingerprints = new Map<string, string | null>();
  const keys = new Map<string, Promise<string>>();
  const keyFor = (fingerprint: string) => {
    let k = keys.get(fingerprint);
    if (!k) keys.set(fingerprint, (k = cacheKey(kind, req, fingerprint, scope)));
    return k;
  };
  if (policy !== 'bypass') {
    order = await candidates(config, state, req.model);
    fingerprints = await state.fingerprints.forBackends(config, state, order, req.model);
  }
  const distinct = [...new Set([...fingerprints.values()].filter((f): f is string => f !== null))];
  timing.cache = distinct.length ? 'miss' : 'bypass';

  const kv = c.env.CACHE_KV;
  if (policy === 'lookup' && distinct.length) {
    const wanted = (r: CachedAnswer | null | undefined): r is CachedAnswer => !!r && r.kind === (stream ? 'sse' : 'json');
    const lookupKeys = await Promise.all(distinct.map(keyFor));
    const local = (await Promise.all(lookupKeys.map((k) => store.get(k)))).find(wanted);
    if (local) {
      timing.cache = 'hit';
      return replay(c, local);
    }
    if (kv) {
      // The Cache API is per data centre; the KV tier holds what any of them generated.
      const globals = await Promise.all(lookupKeys.map((k) => store.getGlobal(kv, k).catch(logCacheError('KV read'))));
      const i = globals.findIndex((g) => wanted(g?.record));
      if (i >= 0) {
        const { record, ttlSeconds } = globals[i]!;
        waitUntil(c, store.put(lookupKeys[i], record, ttlSeconds).catch(logCacheError('cache write')));
        timing.cache = 'hit';
        timing.cacheTier = 'kv';
        return replay(c, record);
      }
    }
  }

  const firstFingerprint = order?.length ? fingerprints.get(order[0].url) : null;
  const flightKey = policy !== 'bypass' && firstFingerprint ? await keyFor(firstFingerprint) : null;
  let flight = flightKey && policy === 'lookup' ? state.flights.get(flightKey) : undefined;
  const coalesced = flight !== undefined;
  if (!flight) {
    const body = JSON.stringify(req);
    const requestId = c.req.header('x-request-id');
    const started = new Flight(
      (signal) => callUpstream(config, state, { method: 'POST', path: UPSTREAM_PATH[kind], model: req.model, order, body, signal, headers: requestId ? { 'x-request-id': requestId } : {} }),
      config.stallTimeoutMs,
    );
    const storeUnder = async (record: CachedAnswer | null) => {
      if (!record) return;
      const fingerprint = fingerprints.get((await started.opening).backend);
      if (!fingerprint) return;
      const storeKey = await keyFor(fingerprint);
      await Promise.all([
        store.put(storeKey, record, ttl).catch(logCacheError('cache write')),
        kv ? store.putGlobal(kv, storeKey, record, ttl).catch(logCacheError('KV write')) : undefined,
      ]);
    };
    const settled = started.finished.then(storeUnder).catch(logCacheError('cache write'));
    if (flightKey) state.flights.add(flightKey, started, settled);
    waitUntil(c, settled);
    flight = started;
  }
  const headers: Record<string, string> = {};
  if (coalesced) {
    timing.cache = 'hit';
    headers['x-verdict-coalesced'] = 'true';
  }

  const membership = flight.join(c.req.raw.signal);
  let opening: FlightOpening;
  try {
    opening = await flight.opening;
  } catch (err) {
    membership.leave();
    throw err;
  }
  if (!coalesced) timing.upstreamMs = opening.upstreamMs;
  timing.backendServerTiming = coalesced ? null : opening.serverTiming;
  if (opening.requestId) headers['x-request-id'] = opening.requestId;
  const figures = settleFigures(timing);

  if (opening.kind === 'sse') {
    return new Response(flight.stream(membership, (data) => withGatewayTimings(data, figures)), { status: 200, headers: { ...SSE_HEADERS, ...headers } });
  }
  membership.leave();
  if (opening.kind === 'error') {
    timing.cache = 'bypass';
    if (opening.retryAfter) headers['retry-after'] = opening.retryAfter;
  }
  const body = opening.kind === 'json' ? withGatewayTimings(opening.body, figures) : opening.body;
  return new Response(body, { status: opening.status, headers: { 'content-type': 'application/json', ...headers } });
}

/** Public (demo) routes admit anonymous traffic: its generation length is bounded whatever the page (or a script) asks. */
function capDemoTokens(req: ChatCompletionRequest | CompletionRequest, cap: number): void {
  req.max_tokens = Math.min(requestedMaxTokens(req) ?? cap, cap);
  if ('max_completion_tokens' in req) delete req.max_completion_tokens;
}

function replay(c: AppContext, record: CachedAnswer): Response {
  const figures = settleFigures(c.var.timing);
  const origin: Record<string, string> = record.requestId ? { 'x-verdict-origin-request-id': record.requestId } : {};
  if (record.kind === 'json') return new Response(withGatewayTimings(record.body, figures), { headers: { 'content-type': 'application/json', ...origin } });
  const { replayMaxGapMs, replayMaxTotalMs } = c.var.config;
  const pace = c.req.header('x-verdict-replay') === 'recorded' ? { maxGapMs: replayMaxGapMs, maxTotalMs: replayMaxTotalMs } : null;
  return new Response(replaySse(record, (data) => withGatewayTimings(data, figures), pace), { status: 200, headers: { ...SSE_HEADERS, ...origin } });
}
