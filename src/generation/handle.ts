import { cacheTtlFor } from '../config.ts';
import { HEADERS, type RequestKind } from '@verdict/protocol';
import type { AppContext } from '../context.ts';
import { settleFigures } from '../shared/timings.ts';
import type { FlightOpening } from '../upstream/flight.ts';
import { findDraft } from './draft.ts';
import { flightKey, joinFlight } from './join.ts';
import { lookUpAnswer } from './lookup.ts';
import { planGeneration } from './policy.ts';
import { recordAnswer } from './record-answer.ts';
import { capDemoTokens, parseGenerationRequest } from './validate.ts';
import { relayResponse, replayResponse } from './respond.ts';
import { startUpstream } from './upstream.ts';

/**
 * POST /v1/chat/completions and /v1/completions: the generation stages, each once, in order —
 * validate → policy → lookup (hit: replay) → join an identical flight → draft (cache-as-draft: a held answer
 * as the `prediction`) → upstream (pick a backend, fetch) → record (tee the answer into the cache and the draft
 * index) → respond. The request context is read here, once; every stage
 * works on plain data (`Generation`) and the per-isolate state, so each can be tested alone.
 */
export async function handleGeneration(c: AppContext, kind: RequestKind): Promise<Response> {
  const { config, state, timing, scope, isPublic, body } = c.var;
  const cacheControl = c.req.header('cache-control');
  const requestId = c.req.header(HEADERS.requestId);
  const pacedReplay = c.req.header(HEADERS.replay) === 'recorded';
  const signal = c.req.raw.signal;
  const kv = c.env.CACHE_KV;
  const waitUntil = (p: Promise<unknown>) => {
    try {
      c.executionCtx.waitUntil(p);
    } catch {
      // no execution context (plain app.request in a test): the promise still runs
    }
  };

  const request = parseGenerationRequest(kind, body);
  if (isPublic) capDemoTokens(request, config.demoMaxTokens);

  const g = await planGeneration({ kind, request, scope, ttl: cacheTtlFor(config, c.req.path), cacheControl }, config, state.upstream, state.fingerprints);
  timing.cache = g.distinct.length ? 'miss' : 'bypass';

  const hit = await lookUpAnswer(g, state.store, kv);
  if (hit) {
    if (hit.backfill) waitUntil(hit.backfill);
    timing.cache = 'hit';
    if (hit.tier === 'kv') timing.cacheTier = 'kv';
    const pace = pacedReplay ? { maxGapMs: config.replayMaxGapMs, maxTotalMs: config.replayMaxTotalMs } : null;
    return replayResponse(hit.record, settleFigures(timing), pace);
  }

  const key = await flightKey(g);
  const joined = joinFlight(g, key, state.flights);
  const draft = joined ? null : await findDraft(g, state.drafts);
  const flight = joined ?? startUpstream(g, config, state.upstream, requestId, draft);
  if (!joined) {
    const recorded = recordAnswer(g, flight, state.store, kv, state.drafts);
    if (key) state.flights.add(key, flight, recorded);
    waitUntil(recorded);
  }

  const headers: Record<string, string> = {};
  if (joined) {
    timing.cache = 'hit';
    headers[HEADERS.coalesced] = 'true';
  }
  const membership = flight.join(signal);
  let opening: FlightOpening;
  try {
    opening = await flight.opening;
  } catch (err) {
    membership.leave();
    throw err;
  }
  if (!joined) timing.upstreamMs = opening.upstreamMs;
  timing.backendServerTiming = joined ? null : opening.serverTiming;
  if (opening.requestId) headers[HEADERS.requestId] = opening.requestId;
  if (opening.kind === 'error') timing.cache = 'bypass';
  else if (draft && !draft.refused) {
    timing.cache = 'draft';
    if (draft.source === 'edit') timing.cacheTier = 'edit';
  }
  return relayResponse(flight, membership, opening, settleFigures(timing), headers);
}
