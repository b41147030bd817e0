import { ApiError, drainBody, errorBody } from '@verdict/protocol';
import type { Context, ErrorHandler, NotFoundHandler } from 'hono';
import { ConfigError } from '../../config.ts';
import type { AppEnv } from '../../context.ts';

/**
 * An answer sent before the request body was read (a 401, a 429, an unknown route) makes workerd
 * close the connection after it, without `Connection: close`, so a keep-alive client that sends its
 * next request on that connection sees it fail ("Connection error" in the OpenAI SDK). So an error
 * first reads the unread body and throws it away, within the body limit; past it the connection
 * closes, as before.
 */
async function discardUnreadBody(c: Context<AppEnv>): Promise<void> {
  const req = c.req.raw;
  if (!req.body || req.bodyUsed || req.body.locked) return;
  await drainBody(req.body.getReader(), { maxBytes: c.var.config?.maxBodyBytes ?? 1 << 20, maxMs: 2000 });
}

/** Every error leaves the gateway in OpenAI's shape, with the status and headers (Retry-After) it carries. */
export const onError: ErrorHandler<AppEnv> = async (err, c) => {
  await discardUnreadBody(c);
  if (err instanceof ApiError) {
    const status = err.status === 499 ? 400 : err.status;
    return new Response(JSON.stringify(err.toBody()), { status, headers: { 'content-type': 'application/json', ...err.headers } });
  }
  if (err instanceof ConfigError) {
    console.error(err.message);
    return Response.json(errorBody(err.message, 'server_error', null, 'gateway_misconfigured'), { status: 500 });
  }
  console.error(`gateway: unexpected error on ${c.req.method} ${c.req.path}:`, err);
  return Response.json(errorBody('The gateway failed to handle the request', 'server_error', null, 'internal_error'), { status: 500 });
};

export const notFound: NotFoundHandler<AppEnv> = async (c) => {
  await discardUnreadBody(c);
  return Response.json(errorBody(`Unknown route ${c.req.method} ${c.req.path}`, 'not_found_error', null, 'unknown_route'), { status: 404 });
};
