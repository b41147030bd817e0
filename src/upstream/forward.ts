import { ApiError } from '@verdict/protocol';
import type { BackendConfig, GatewayConfig } from '../config.ts';
import type { GatewayState } from '../state.ts';
import { servesModel, weightedOrder } from './pool.ts';

export interface UpstreamRequest {
  method: 'GET' | 'POST';
  path: string;
  /** Only backends serving this model are candidates; undefined = any backend. */
  model?: string;
  body?: string;
  headers?: Record<string, string>;
  /** The client's signal: when it fires, the upstream call is aborted too. */
  signal?: AbortSignal;
  /** The backends to try, in order, when the caller already drew them (`candidates`); otherwise drawn here. */
  order?: BackendConfig[];
}

export interface UpstreamResponse {
  response: Response;
  backend: BackendConfig;
  /** Milliseconds to the response headers of the attempt that answered. */
  upstreamMs: number;
  /** Aborts the upstream request, including a body still being read (the backend sees a disconnect). */
  abort: () => void;
}

/** Backends that serve the model and are not cooling down, in weighted-random order. */
export async function candidates(config: GatewayConfig, state: GatewayState, model: string | undefined): Promise<BackendConfig[]> {
  const serving = config.backends.filter((b) => model === undefined || servesModel(b, model));
  if (!serving.length) throw new ApiError(404, `The model '${model}' does not exist or is not served by this gateway`, 'not_found_error', 'model', 'model_not_found');
  const usable = await Promise.all(serving.map((b) => state.health.isUsable(b, state.fetch)));
  return weightedOrder(serving.filter((_, i) => usable[i]), state.random);
}

/**
 * Calls a backend, retrying ONCE on another backend when the first attempt fails before its first byte
 * (connection error, no headers within UPSTREAM_TIMEOUT_MS, or a 5xx). Once a response is returned nothing is
 * retried: the caller owns the body.
 */
export async function callUpstream(config: GatewayConfig, state: GatewayState, req: UpstreamRequest): Promise<UpstreamResponse> {
  const order = req.order ?? (await candidates(config, state, req.model));
  if (!order.length) {
    throw new ApiError(503, `No healthy backend is available${req.model ? ` for model '${req.model}'` : ''}; try again shortly`, 'service_unavailable', null, 'no_healthy_backend', {
      'retry-after': String(Math.ceil(config.healthCooldownMs / 1000)),
    });
  }
  const attempts = order.slice(0, 2);
  const failures: string[] = [];
  for (let i = 0; i < attempts.length; i++) {
    const backend = attempts[i];
    const last = i === attempts.length - 1;
    const controller = new AbortController();
    const onClientAbort = () => controller.abort(new DOMException('client disconnected', 'AbortError'));
    if (req.signal?.aborted) throw new ApiError(499, 'client closed the request', 'invalid_request_error', null, 'client_closed');
    req.signal?.addEventListener('abort', onClientAbort, { once: true });
    const timer = setTimeout(() => controller.abort(new DOMException('first-byte timeout', 'TimeoutError')), config.upstreamTimeoutMs);
    const started = performance.now();
    try {
      const headers: Record<string, string> = { ...req.headers };
      if (req.body !== undefined) headers['content-type'] = 'application/json';
      if (backend.authorization) headers.authorization = backend.authorization;
      const response = await state.fetch(`${backend.url}${req.path}`, { method: req.method, headers, body: req.body, signal: controller.signal });
      clearTimeout(timer);
      const upstreamMs = performance.now() - started;
      if (response.status >= 500) {
        state.health.recordFailure(backend.url);
        failures.push(`${backend.url}: HTTP ${response.status}`);
        if (!last) {
          await response.body?.cancel();
          req.signal?.removeEventListener('abort', onClientAbort);
          continue;
        }
      } else state.health.recordSuccess(backend.url);
      return { response, backend, upstreamMs, abort: () => controller.abort(new DOMException('cancelled by the gateway', 'AbortError')) };
    } catch (err) {
      clearTimeout(timer);
      req.signal?.removeEventListener('abort', onClientAbort);
      if (req.signal?.aborted) throw new ApiError(499, 'client closed the request', 'invalid_request_error', null, 'client_closed');
      state.health.recordFailure(backend.url);
      const reason = controller.signal.aborted ? `no response within ${config.upstreamTimeoutMs} ms` : (err as Error).message;
      failures.push(`${backend.url}: ${reason}`);
    }
  }
  throw new ApiError(502, `The backend${attempts.length > 1 ? 's' : ''} failed before answering (${failures.join('; ')})`, 'server_error', null, 'upstream_unavailable');
}
