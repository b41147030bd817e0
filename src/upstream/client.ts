import { ApiError } from '@verdict/protocol';
import type { BackendConfig, GatewayConfig } from '../config.ts';
import type { HealthTracker } from './health.ts';
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

/**
 * The one health rule for every backend call (generations, model lists, fingerprints, the /readyz probe):
 * a connection error, no headers in time, or a 5xx counts as a failure; any other answer as a success.
 */
export const isBackendFailure = (status: number): boolean => status >= 500;

const clientClosed = () => new ApiError(499, 'client closed the request', 'invalid_request_error', null, 'client_closed');

/**
 * The one way to call a backend. `send` is one call to one backend (its Authorization, the first-byte timeout,
 * the client's signal, and the health rule recorded); `call` draws backends and retries once; `candidates` is
 * the draw. The fetch is injectable (tests pass fake backends).
 */
export class UpstreamClient {
  constructor(
    readonly health: HealthTracker,
    private readonly fetcher: typeof fetch,
    private readonly random: () => number,
  ) {}

  /** Backends that serve the model and are not cooling down (or passed their /readyz probe), in weighted-random order. */
  async candidates(config: GatewayConfig, model: string | undefined): Promise<BackendConfig[]> {
    const serving = config.backends.filter((b) => model === undefined || servesModel(b, model));
    if (!serving.length) throw new ApiError(404, `The model '${model}' does not exist or is not served by this gateway`, 'not_found_error', 'model', 'model_not_found');
    const usable = await Promise.all(serving.map((b) => this.health.isUsable(b.url, () => this.probe(config, b))));
    return weightedOrder(serving.filter((_, i) => usable[i]), this.random);
  }

  /**
   * One request to one backend. Throws when it did not answer (connection error, no headers within
   * UPSTREAM_TIMEOUT_MS, the client left); records the health verdict unless `record` is false (the probe).
   */
  async send(
    config: GatewayConfig,
    backend: BackendConfig,
    req: { method?: 'GET' | 'POST'; path: string; body?: string; headers?: Record<string, string>; signal?: AbortSignal; record?: boolean },
  ): Promise<UpstreamResponse> {
    const record = req.record !== false;
    if (req.signal?.aborted) throw clientClosed();
    const controller = new AbortController();
    const onClientAbort = () => controller.abort(new DOMException('client disconnected', 'AbortError'));
    req.signal?.addEventListener('abort', onClientAbort, { once: true });
    const timer = setTimeout(() => controller.abort(new DOMException('first-byte timeout', 'TimeoutError')), config.upstreamTimeoutMs);
    const headers: Record<string, string> = { ...req.headers };
    if (req.body !== undefined) headers['content-type'] = 'application/json';
    if (backend.authorization) headers.authorization = backend.authorization;
    const started = performance.now();
    try {
      const response = await this.fetcher(`${backend.url}${req.path}`, { method: req.method ?? 'GET', headers, body: req.body, signal: controller.signal });
      const upstreamMs = performance.now() - started;
      if (record) {
        if (isBackendFailure(response.status)) this.health.recordFailure(backend.url);
        else this.health.recordSuccess(backend.url);
      }
      const done = () => req.signal?.removeEventListener('abort', onClientAbort);
      return {
        response,
        backend,
        upstreamMs,
        abort: () => {
          done();
          controller.abort(new DOMException('cancelled by the gateway', 'AbortError'));
        },
      };
    } catch (err) {
      req.signal?.removeEventListener('abort', onClientAbort);
      if (req.signal?.aborted) throw clientClosed();
      if (record) this.health.recordFailure(backend.url);
      throw new Error(controller.signal.aborted ? `no response within ${config.upstreamTimeoutMs} ms` : (err as Error).message);
    } finally {
      clearTimeout(timer);
    }
  }

  /** GET a JSON document from one backend; null when it did not answer, failed, or answered something unreadable. */
  async getJson<T>(config: GatewayConfig, backend: BackendConfig, path: string): Promise<T | null> {
    try {
      const { response } = await this.send(config, backend, { path });
      if (!response.ok) {
        await response.body?.cancel();
        return null;
      }
      return (await response.json()) as T;
    } catch (err) {
      if (err instanceof ApiError) throw err;
      return null;
    }
  }

  /** The cool-down's end: one /readyz, judged by the same rule (the tracker then clears or renews the cool-down). */
  private async probe(config: GatewayConfig, backend: BackendConfig): Promise<boolean> {
    try {
      const { response } = await this.send(config, backend, { path: '/readyz', record: false });
      await response.body?.cancel();
      return !isBackendFailure(response.status);
    } catch {
      return false;
    }
  }

  /**
   * Calls a backend, retrying ONCE on another backend when the first attempt fails before its first byte
   * (connection error, no headers within UPSTREAM_TIMEOUT_MS, or a 5xx). Once a response is returned nothing is
   * retried: the caller owns the body.
   */
  async call(config: GatewayConfig, req: UpstreamRequest): Promise<UpstreamResponse> {
    const order = req.order ?? (await this.candidates(config, req.model));
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
      let answer: UpstreamResponse;
      try {
        answer = await this.send(config, backend, req);
      } catch (err) {
        if (err instanceof ApiError) throw err;
        failures.push(`${backend.url}: ${(err as Error).message}`);
        continue;
      }
      if (isBackendFailure(answer.response.status)) {
        failures.push(`${backend.url}: HTTP ${answer.response.status}`);
        if (!last) {
          await answer.response.body?.cancel();
          continue;
        }
      }
      return answer;
    }
    throw new ApiError(502, `The backend${attempts.length > 1 ? 's' : ''} failed before answering (${failures.join('; ')})`, 'server_error', null, 'upstream_unavailable');
  }
}
