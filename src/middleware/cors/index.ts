import type { MiddlewareHandler } from 'hono';
import { cors as honoCors } from 'hono/cors';
import { HEADERS, STATS_HEADERS } from '@verdict/protocol';
import type { GatewayConfig } from '../../config.ts';
import type { AppEnv } from '../../context.ts';

const built = new WeakMap<GatewayConfig, MiddlewareHandler>();

/**
 * CORS from `CORS_ORIGINS`, exposing the headers a page needs to read timings and cache status. Hono's `cors`
 * is built once per configuration (the config is itself read once per env), not on every request.
 */
export function cors(): MiddlewareHandler<AppEnv> {
  return (c, next) => {
    const config = c.var.config;
    let handler = built.get(config);
    if (!handler) {
      handler = honoCors({
        origin: config.corsOrigins.includes('*') ? '*' : config.corsOrigins,
        allowHeaders: ['authorization', 'content-type', 'cache-control', HEADERS.requestId, HEADERS.replay],
        // What a page reads: timings, cache status, ids, back-off, and the backend's spec-decode stats.
        exposeHeaders: [HEADERS.serverTiming, HEADERS.cache, HEADERS.requestId, HEADERS.retryAfter, HEADERS.coalesced, HEADERS.originRequestId, ...STATS_HEADERS],
        maxAge: 600,
      });
      built.set(config, handler);
    }
    return handler(c, next);
  };
}
