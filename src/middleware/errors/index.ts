import { ApiError, errorBody } from '@verdict/protocol';
import type { ErrorHandler, NotFoundHandler } from 'hono';
import { ConfigError } from '../../config.ts';
import type { AppEnv } from '../../context.ts';

/** Every error leaves the gateway in OpenAI's shape, with the status and headers (Retry-After) it carries. */
export const onError: ErrorHandler<AppEnv> = (err, c) => {
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

export const notFound: NotFoundHandler<AppEnv> = (c) =>
  Response.json(errorBody(`Unknown route ${c.req.method} ${c.req.path}`, 'not_found_error', null, 'unknown_route'), { status: 404 });
