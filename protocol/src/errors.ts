import type { z } from 'zod';

/** OpenAI's error body: every error on every boundary has this shape. */
export interface OpenAIErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

export type ErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'permission_error'
  | 'not_found_error'
  | 'rate_limit_error'
  | 'server_error'
  | 'service_unavailable'
  | 'timeout_error';

export function errorBody(message: string, type: ErrorType, param: string | null = null, code: string | null = null): OpenAIErrorBody {
  return { error: { message, type, param, code } };
}

/** An error that knows its HTTP status and OpenAI shape; thrown anywhere, rendered at the edge of each service. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type: ErrorType = status >= 500 ? 'server_error' : 'invalid_request_error',
    readonly param: string | null = null,
    readonly code: string | null = null,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }
  toBody(): OpenAIErrorBody {
    return errorBody(this.message, this.type, this.param, this.code);
  }
}

/** The first zod issue as one readable 400, naming the offending field as OpenAI does in `param`. */
export function fromZodError(err: z.ZodError): ApiError {
  const issue = err.issues[0];
  const param = issue && issue.path.length ? issue.path.map(String).join('.') : null;
  const where = param ? `'${param}': ` : '';
  return new ApiError(400, `Invalid request: ${where}${issue?.message ?? 'malformed body'}`, 'invalid_request_error', param, 'invalid_value');
}
