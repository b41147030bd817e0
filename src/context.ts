import type { Context } from 'hono';
import type { GatewayConfig } from './config.ts';
import type { GatewayEnv } from './env.ts';
import type { GatewayState } from './gateway-state.ts';
import type { EdgeTiming } from './shared/timings.ts';

/** Who is calling: a known API key, or anonymous traffic on a public demo route. */
export type Principal = { kind: 'key'; keyHash: string; name?: string } | { kind: 'anonymous'; ip: string };

/** Hono's typing of one request: the bindings and the context variables the middleware sets. */
export interface AppEnv {
  Bindings: GatewayEnv;
  Variables: {
    config: GatewayConfig;
    state: GatewayState;
    principal: Principal;
    /** Cache and single-flight scope: the key's hash, or "public" on demo routes. */
    scope: string;
    /** Whether this path is a public demo route. */
    isPublic: boolean;
    timing: EdgeTiming;
    /** The request body, read within MAX_BODY_BYTES by the body-limit middleware (generation routes). */
    body: Uint8Array;
  };
}

export type AppContext = Context<AppEnv>;
