import { HEADERS } from '@verdict/protocol';
import type { MiddlewareHandler } from 'hono';
import { serverTimingValue, settleFigures } from '../../shared/timings.ts';
import type { AppEnv } from '../../context.ts';

/**
 * Starts the clock, and on the way out stamps every response (errors included) with `Server-Timing` (the
 * backend's entries kept, then `edge`, `upstream`, `cache`), `X-Cache`, `X-Request-Id` and
 * `Timing-Allow-Origin`, so a page on another origin can read the timings.
 */
export function timing(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    c.set('timing', { start: performance.now() });
    await next();
    const t = c.var.timing;
    const figures = settleFigures(t);
    const headers = c.res.headers;
    headers.set('server-timing', serverTimingValue(t.backendServerTiming ?? null, figures, t.cacheTier));
    headers.set(HEADERS.cache, figures.cache.toUpperCase());
    if (!headers.has(HEADERS.requestId)) headers.set(HEADERS.requestId, `gw-${crypto.randomUUID()}`);
    const allow = c.var.config?.timingAllowOrigin ?? '*';
    if (allow) headers.set('timing-allow-origin', allow);
  };
}
