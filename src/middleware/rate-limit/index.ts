import { ApiError } from '@verdict/protocol';
import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from '../../context.ts';

/**
 * Workers rate-limiting bindings: KEY_LIMITER per API key, IP_LIMITER per client IP for anonymous demo
 * traffic. A missing binding disables that limit (logged once). 429 carries Retry-After = the binding's period.
 */
export function rateLimit(): MiddlewareHandler<AppEnv> {
  let warned = false;
  return async (c, next) => {
    const p = c.var.principal;
    const limiter = p.kind === 'key' ? c.env.KEY_LIMITER : c.env.IP_LIMITER;
    if (!limiter) {
      if (!warned) console.warn(`gateway: no ${p.kind === 'key' ? 'KEY_LIMITER' : 'IP_LIMITER'} binding; requests are not rate-limited`);
      warned = true;
      return next();
    }
    const { success } = await limiter.limit({ key: p.kind === 'key' ? p.keyHash : `ip:${p.ip}` });
    if (!success) {
      const period = c.var.config.rateLimitPeriodS;
      throw new ApiError(429, `Rate limit reached for ${p.kind === 'key' ? 'this API key' : 'anonymous demo traffic from your address'}; retry in ${period} s.`, 'rate_limit_error', null, 'rate_limit_exceeded', {
        'retry-after': String(period),
      });
    }
    return next();
  };
}
