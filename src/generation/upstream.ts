import type { GatewayConfig } from '../config.ts';
import { REQUEST_PATHS, HEADERS } from '@verdict/protocol';
import type { UpstreamClient } from '../upstream/client.ts';
import { Flight } from '../upstream/flight.ts';
import type { Generation } from './policy.ts';


/**
 * Stage 4, upstream: pick a backend (the order drawn by the policy stage, or a fresh draw) and start the
 * generation there, retried once before the first byte; the Flight pumps its answer from then on.
 */
export function startUpstream(g: Generation, config: GatewayConfig, upstream: UpstreamClient, requestId: string | undefined): Flight {
  const body = JSON.stringify(g.request);
  const headers: Record<string, string> = requestId ? { [HEADERS.requestId]: requestId } : {};
  return new Flight(
    (signal) => upstream.call(config, { method: 'POST', path: REQUEST_PATHS[g.kind], model: g.request.model, order: g.order, body, signal, headers }),
    config.stallTimeoutMs,
  );
}
