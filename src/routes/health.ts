import type { Context } from 'hono';

/** Liveness of the worker itself (backends have their own /readyz, probed by the pool). */
export const healthz = (c: Context) => c.json({ status: 'ok' });
