/**
 * Readable errors for the page: what went wrong and what the visitor can do, instead of a stalled pane.
 * The HTTP body is OpenAI's error shape when it comes from our gateway or backend; anything else is shown briefly.
 */
export function describeHttpError(status: number, bodyText: string, retryAfter: string | null): string {
  const detail = errorMessageFromBody(bodyText);
  const suffix = detail ? ` (${detail})` : '';
  if (status === 429) {
    const secs = retryAfter != null && /^\d+$/.test(retryAfter.trim()) ? Number(retryAfter) : null;
    const when = secs != null ? `in ${secs} s` : 'in a little while';
    return `Rate limited: the demo allows a limited number of runs per visitor. Try again ${when}.${suffix}`;
  }
  if (status === 502 || status === 503 || status === 504)
    return `The model backend is down or busy right now (HTTP ${status}). Try again shortly.${suffix}`;
  if (status === 401 || status === 403) return `This demo route is not open to anonymous visitors (HTTP ${status}).${suffix}`;
  if (status === 400 || status === 413 || status === 422) return `The request was refused (HTTP ${status})${suffix || '.'}`;
  if (status >= 500) return `The server failed (HTTP ${status}).${suffix}`;
  return `Unexpected answer (HTTP ${status}).${suffix}`;
}

export function errorMessageFromBody(bodyText: string): string | null {
  try {
    const m = (JSON.parse(bodyText) as { error?: { message?: unknown } })?.error?.message;
    if (typeof m === 'string' && m) return m;
  } catch {
    /* not JSON */
  }
  const t = bodyText.trim();
  return t && t.length <= 200 && !t.startsWith('<') ? t : null;
}

/** A fetch that never got an HTTP answer (DNS, refused connection, offline). */
export function describeNetworkError(err: unknown): string {
  const why = err instanceof Error ? err.message : String(err);
  return `Could not reach the gateway (${why}). Check your connection and try again.`;
}
