import type { GatewayConfig } from '../config.ts';
import { REQUEST_PATHS, HEADERS } from '@verdict/protocol';
import type { UpstreamClient, UpstreamResponse } from '../upstream/client.ts';
import { Flight } from '../upstream/flight.ts';
import { withPrediction, type Draft } from './draft.ts';
import type { Generation } from './policy.ts';

/** A backend's 400 that names `prediction` as the field it refused (a build without predicted outputs, or a limit). */
export function refusesPrediction(status: number, body: string): boolean {
  if (status !== 400 || !body.includes('prediction')) return false;
  try {
    return (JSON.parse(body) as { error?: { param?: unknown } })?.error?.param === 'prediction';
  } catch {
    return false;
  }
}

/**
 * Stage 5, upstream: pick a backend (the order drawn by the policy stage, or a fresh draw) and start the
 * generation there, retried once before the first byte; the Flight pumps its answer from then on. With a
 * `draft` (the draft stage) it goes as the request's `prediction`; should the backend refuse that field, the
 * request goes once more without it (`draft.refused` is set), so cache-as-draft never fails a request that
 * would have succeeded without it.
 */
export function startUpstream(g: Generation, config: GatewayConfig, upstream: UpstreamClient, requestId: string | undefined, draft: Draft | null = null): Flight {
  const headers: Record<string, string> = requestId ? { [HEADERS.requestId]: requestId } : {};
  const call = (body: string, signal: AbortSignal) => upstream.call(config, { method: 'POST', path: REQUEST_PATHS[g.kind], model: g.request.model, order: g.order, body, signal, headers });
  return new Flight(async (signal): Promise<UpstreamResponse> => {
    if (!draft) return call(JSON.stringify(g.request), signal);
    const first = await call(JSON.stringify(withPrediction(g.request, draft)), signal);
    if (first.response.status !== 400) return first;
    const text = await first.response.text();
    if (!refusesPrediction(first.response.status, text)) return { ...first, response: new Response(text, { status: first.response.status, headers: first.response.headers }) };
    draft.refused = true;
    console.warn(`gateway: ${first.backend.url} refused the draft as prediction (${text.slice(0, 200)}); sent again without it`);
    return call(JSON.stringify(g.request), signal);
  }, config.stallTimeoutMs);
}
