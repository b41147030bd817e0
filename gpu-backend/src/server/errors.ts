import { ApiError } from '@verdict/protocol';
import type { Logger } from './log.ts';

/** Any thrown value as an ApiError; internals of unexpected errors go to the log only. */
export function toApiError(err: unknown, log: Logger, requestId: string): ApiError {
  if (err instanceof ApiError) return err;
  log('error', 'unhandled error', { request_id: requestId, error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  return new ApiError(500, 'internal server error', 'server_error', null, 'internal_error');
}

/** Any thrown value as an OpenAI-shaped error response. */
export function errorResponse(err: unknown, log: Logger, requestId: string): Response {
  const e = toApiError(err, log, requestId);
  return Response.json(e.toBody(), { status: e.status, headers: e.headers });
}
