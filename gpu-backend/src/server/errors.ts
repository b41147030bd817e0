import { ApiError } from '@verdict/protocol';
import type { Logger } from './log.ts';

/** Any thrown value as an OpenAI-shaped error response; internals of unexpected errors go to the log only. */
export function errorResponse(err: unknown, log: Logger, requestId: string): Response {
  const e =
    err instanceof ApiError
      ? err
      : (log('error', 'unhandled error', { request_id: requestId, error: err instanceof Error ? (err.stack ?? err.message) : String(err) }),
        new ApiError(500, 'internal server error', 'server_error', null, 'internal_error'));
  return Response.json(e.toBody(), { status: e.status, headers: e.headers });
}
