import type { CachedAnswer } from '../cache/answer.ts';
import { replaySse, type ReplayPace } from '../cache/replay.ts';
import { withGatewayTimings, type GatewayFigures } from '../shared/timings.ts';
import type { Flight, FlightOpening } from '../upstream/flight.ts';
import { HEADERS, SSE_RESPONSE_HEADERS } from '@verdict/protocol';

/** A cached answer as the response: JSON, or its SSE chunks again (at recorded pace when `pace` is set). */
export function replayResponse(record: CachedAnswer, figures: GatewayFigures, pace: ReplayPace | null): Response {
  const origin: Record<string, string> = record.requestId ? { [HEADERS.originRequestId]: record.requestId } : {};
  if (record.kind === 'json') return new Response(withGatewayTimings(record.body, figures), { headers: { 'content-type': 'application/json', ...origin } });
  return new Response(replaySse(record, (data) => withGatewayTimings(data, figures), pace), { status: 200, headers: { ...SSE_RESPONSE_HEADERS, ...origin } });
}

/**
 * A flight's answer as this subscriber's response: SSE relayed event by event (the gateway's figures added to
 * the final chunk), or the backend's JSON / error answer with its status (and Retry-After).
 */
export function relayResponse(flight: Flight, membership: { leave: () => void }, opening: FlightOpening, figures: GatewayFigures, headers: Record<string, string>): Response {
  if (opening.kind === 'sse') {
    return new Response(flight.stream(membership, (data) => withGatewayTimings(data, figures)), { status: 200, headers: { ...SSE_RESPONSE_HEADERS, ...headers } });
  }
  membership.leave();
  if (opening.kind === 'error' && opening.retryAfter) headers['retry-after'] = opening.retryAfter;
  const body = opening.kind === 'json' ? withGatewayTimings(opening.body, figures) : opening.body;
  return new Response(body, { status: opening.status, headers: { 'content-type': 'application/json', ...headers } });
}
