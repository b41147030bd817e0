import { Hono, type MiddlewareHandler } from 'hono';
import { loadConfig } from './config.ts';
import { auth } from './middleware/auth/index.ts';
import { bodyLimit } from './middleware/body-limit/index.ts';
import { cors } from './middleware/cors/index.ts';
import { notFound, onError } from './middleware/errors/index.ts';
import { rateLimit } from './middleware/rate-limit/index.ts';
import { timing } from './middleware/timing/index.ts';
import { chatCompletions } from './routes/chat.ts';
import { completions } from './routes/completions.ts';
import { healthz } from './routes/health.ts';
import { listModels } from './routes/models.ts';
import type { AppEnv } from './context.ts';
import { createGatewayState, type GatewayState, type StateOptions } from './gateway-state.ts';

/** `fetch`: the fetch used for backend calls (tests pass a fake upstream); `random`: the weighted draw's source (tests pin it). */
export type GatewayOptions = StateOptions;

/** Loads the config once per env and the per-isolate state once per app (health depends on the config). */
function configAndState(options: GatewayOptions): MiddlewareHandler<AppEnv> {
  let state: GatewayState | undefined;
  return async (c, next) => {
    const config = loadConfig(c.env);
    state ??= createGatewayState(config, options);
    c.set('config', config);
    c.set('state', state);
    return next();
  };
}

/** The gateway: the same API at /v1 (keys required unless listed public) and /demo/v1 (for public demo routes). */
export function createGateway(options: GatewayOptions = {}) {
  const app = new Hono<AppEnv>();
  app.onError(onError);
  app.notFound(notFound);
  app.use('*', timing());
  app.use('*', configAndState(options));
  app.use('*', cors());
  app.get('/healthz', healthz);
  app.use('*', auth());
  app.use('*', rateLimit());
  const limit = bodyLimit();
  for (const base of ['/v1', '/demo/v1']) {
    app.post(`${base}/chat/completions`, limit, chatCompletions);
    app.post(`${base}/completions`, limit, completions);
    app.get(`${base}/models`, listModels);
  }
  return app;
}

export default createGateway();
