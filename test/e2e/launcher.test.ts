/** scripts/gateway.mjs, the one local launcher: the settings it reads from wrangler.toml and the checks it makes. */
import { describe, expect, it } from 'vitest';
import { unstable_getMiniflareWorkerOptions } from 'wrangler';
import { fileURLToPath } from 'node:url';
import { checkRateLimitPeriod } from '../../scripts/gateway.mjs';

const CONFIG = fileURLToPath(new URL('../../wrangler.toml', import.meta.url));

describe('gateway launcher', () => {
  it("wrangler.toml's RATE_LIMIT_PERIOD_S equals every rate-limit binding's period (Retry-After says the truth)", () => {
    const { workerOptions } = unstable_getMiniflareWorkerOptions(CONFIG);
    const ratelimits = workerOptions.ratelimits as Record<string, { simple?: { period?: number } }>;
    expect(Object.keys(ratelimits).sort()).toEqual(['IP_LIMITER', 'KEY_LIMITER']);
    expect(() => checkRateLimitPeriod(workerOptions.bindings as Record<string, unknown>, ratelimits)).not.toThrow();
  });

  it('refuses to start with a clear error when they differ', () => {
    expect(() => checkRateLimitPeriod({ RATE_LIMIT_PERIOD_S: '60' }, { KEY_LIMITER: { simple: { period: 10 } } })).toThrow(
      "wrangler.toml: RATE_LIMIT_PERIOD_S is 60 but the KEY_LIMITER binding's period is 10; they must be equal (it is sent as Retry-After on a 429)",
    );
  });
});
