import { Hono } from 'hono';
import { ApiError, readBodyWithin, REQUEST_PATHS, type RequestKind } from '@verdict/protocol';
import { errorResponse } from './errors.ts';
import { notReady, respondJson, startRun } from './generation.ts';
import { RequestRecord } from './record.ts';
import { resolveRequest } from './resolve.ts';
import type { ServerState } from './state.ts';
import { respondStream } from './stream.ts';

type Env = { Variables: { record: RequestRecord; body: Uint8Array } };

const ROUTES = new Set(['/v1/chat/completions', '/v1/completions', '/v1/models', '/healthz', '/readyz', '/metrics']);
const REQUEST_ID = /^[\w.:@-]{1,128}$/;

/** The HTTP surface: request bookkeeping, body limit, then thin routes over the scheduler. */
export function createApp(state: ServerState): Hono<Env> {
  const app = new Hono<Env>();
  const { log, metrics } = state;

  app.use('*', async (c, next) => {
    const given = c.req.header('x-request-id');
    const id = given && REQUEST_ID.test(given) ? given : crypto.randomUUID();
    const route = ROUTES.has(c.req.path) ? c.req.path : 'other';
    const record = new RequestRecord(id, route, (r, status) => {
      const seconds = r.elapsedMs() / 1000;
      metrics.requests.inc({ route: r.route, status: String(status) });
      const probe = r.route === '/metrics' || r.route === '/healthz' || r.route === '/readyz';
      const level = probe ? 'debug' : status >= 500 ? 'error' : 'info';
      if (!probe) metrics.latency.observe({ route: r.route }, seconds);
      log(level, 'request', { request_id: r.id, method: c.req.method, route: r.route, status, duration_ms: Math.round(seconds * 1e6) / 1000, ...r.fields });
    });
    c.set('record', record);
    await next();
    c.res.headers.set('X-Request-Id', id);
    if (!record.deferred) record.finish(c.res.status);
  });

  app.onError((err, c) => {
    if (err instanceof ApiError) c.get('record').fields.error = err.message;
    return errorResponse(err, log, c.get('record').id);
  });
  app.notFound((c) => errorResponse(new ApiError(404, `no route for ${c.req.method} ${c.req.path}`, 'not_found_error', null, 'unknown_route'), log, c.get('record').id));

  // A body over the limit is a 413, sent only once the rest of the body was read and discarded (bounded): a
  // 413 answered mid-upload makes the client see the connection closed instead of its error.
  const limit: import('hono').MiddlewareHandler<Env> = async (c, next) => {
    const body = await readBodyWithin(c.req.raw, state.config.maxBodyBytes);
    if (!body) throw new ApiError(413, `the request body exceeds ${state.config.maxBodyBytes} bytes`, 'invalid_request_error', null, 'body_too_large');
    c.set('body', body);
    await next();
  };

  const generate = (kind: RequestKind) =>
    async (c: import('hono').Context<Env>) => {
      if (state.phase !== 'ready' || !state.bundle) throw notReady(state);
      let body: unknown;
      try {
        body = JSON.parse(new TextDecoder().decode(c.get('body')));
      } catch {
        throw new ApiError(400, 'the request body is not valid JSON', 'invalid_request_error', null, 'invalid_json');
      }
      const req = resolveRequest(kind, body, state.bundle, state.pool?.modes ?? [], state.config);
      const run = startRun(state, c.get('record'), req);
      return req.stream ? respondStream(run, c.req.raw.signal) : respondJson(run, c.req.raw.signal);
    };
  app.post(REQUEST_PATHS.chat, limit, generate('chat'));
  app.post(REQUEST_PATHS.completion, limit, generate('completion'));

  app.get('/v1/models', (c) => {
    // Only once every worker is up: the modes (and so the default mode in the fingerprint) are the engines' own.
    if (state.phase !== 'ready' || !state.bundle || !state.pool) throw notReady(state);
    const b = state.bundle;
    const modes = state.pool.modes;
    return c.json({
      object: 'list',
      data: [{ id: b.manifest.name, object: 'model', created: 0, owned_by: 'verdict', x_verdict: { fingerprint: state.fingerprint, modes } }],
    });
  });
  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  app.get('/readyz', (c) => {
    const s = state.scheduler;
    const detail = { status: state.phase, workers: state.pool?.readyWorkers ?? 0, running: s?.running ?? 0, queued: s?.queued ?? 0, ...(state.failure ? { error: state.failure } : {}) };
    // Ready means able to generate now: at least one worker up (one may be being replaced).
    if (state.phase === 'ready' && detail.workers > 0) return c.json(detail);
    return c.json(detail, 503, { 'Retry-After': '5' });
  });
  app.get('/metrics', async (c) => {
    const { body, contentType } = await metrics.render();
    return c.body(body, 200, { 'Content-Type': contentType });
  });
  return app;
}
