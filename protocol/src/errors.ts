import type { ZodError, ZodIssue } from './zod.ts';

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
export function fromZodError(err: ZodError): ApiError {
  const issue = closestIssue(err.issues[0]);
  const param = issue && issue.path.length ? issue.path.map(String).join('.') : null;
  const where = param ? `'${param}': ` : '';
  const code = (issue as { params?: { code?: unknown } } | undefined)?.params?.code;
  return new ApiError(400, `Invalid request: ${where}${issue?.message ?? 'malformed body'}`, 'invalid_request_error', param, typeof code === 'string' ? code : 'invalid_value');
}

type Issue = ZodIssue;

/**
 * A union's own issue says only "Invalid input". When a value had the right type for one branch (e.g. an
 * array of five stop strings) and failed that branch's check, that branch's issue is the useful one: it
 * names the limit. Its path is relative to the union's.
 */
function closestIssue(issue: Issue | undefined): Issue | undefined {
  if (!issue || issue.code !== 'invalid_union') return issue;
  const branch = issue.errors.find((b) => b.length > 0 && b[0].code !== 'invalid_type');
  if (!branch) return issue;
  return closestIssue({ ...branch[0], path: [...issue.path, ...branch[0].path] } as Issue);
}
