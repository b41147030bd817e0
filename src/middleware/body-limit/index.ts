import type { MiddlewareHandler } from 'hono';
import { ApiError, readBodyWithin } from '@verdict/protocol';
import type { AppEnv } from '../../context.ts';

/**
 * MAX_BODY_BYTES on generation requests: a larger body is a 413 in OpenAI's shape before anything parses it
 * (Content-Length is checked up front; a body without one is counted as it is read). The rest of an oversized
 * body is read and discarded (bounded) before the 413 goes out, so the client can read its error instead of
 * seeing the connection closed mid-upload. The accepted body is kept as the `body` context variable.
 */
export function bodyLimit(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const maxSize = c.var.config.maxBodyBytes;
    const body = await readBodyWithin(c.req.raw, maxSize);
    if (!body) throw new ApiError(413, `The request body exceeds ${maxSize} bytes`, 'invalid_request_error', null, 'body_too_large');
    c.set('body', body);
    return next();
  };
}
