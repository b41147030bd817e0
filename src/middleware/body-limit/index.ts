import type { MiddlewareHandler } from 'hono';
import { bodyLimit as honoBodyLimit } from 'hono/body-limit';
import { ApiError } from '@verdict/protocol';
import type { AppEnv } from '../../state.ts';

/**
 * MAX_BODY_BYTES on generation requests: a larger body is a 413 in OpenAI's shape before anything parses it
 * (Content-Length is checked up front; a body without one is counted as it is read).
 */
export function bodyLimit(): MiddlewareHandler<AppEnv> {
  const bySize = new Map<number, MiddlewareHandler>();
  return (c, next) => {
    const maxSize = c.var.config.maxBodyBytes;
    let limit = bySize.get(maxSize);
    if (!limit) {
      limit = honoBodyLimit({
        maxSize,
        onError: () => {
          throw new ApiError(413, `The request body exceeds ${maxSize} bytes`, 'invalid_request_error', null, 'body_too_large');
        },
      });
      bySize.set(maxSize, limit);
    }
    return limit(c, next);
  };
}
