import type { GatewayConfig } from '../config.ts';
import type { GenerationKind } from '../cache/key.ts';
import type { UpstreamClient } from '../upstream/client.ts';
import { Flight } from '../upstream/flight.ts';
import type { Generation } from './policy.ts';

const UPSTREAM_PATH: Record<GenerationKind, string> = { chat: '/v1/chat/completions', completion: '/v1/completions' };

/**
 * Stage 4, upstream: pick a backend (the order drawn by the policy stage, or a fresh draw) and start the
 * generation there, retried once before the first byte; the Flight pumps its answer from then on.
 */
export function startUpstream(g: Generation, config: GatewayConfig, upstream: UpstreamClient, requestId: string | undefined): Flight {
  const body = JSON.stringify(g.request);
  const headers: Record<string, string> = requestId ? { 'x-request-id': requestId } : {};
  return new Flight(
    (signal) => upstream.call(config, { method: 'POST', path: UPSTREAM_PATH[g.kind], model: g.request.model, order: g.order, body, signal, headers }),
    config.stallTimeoutMs,
  );
}
