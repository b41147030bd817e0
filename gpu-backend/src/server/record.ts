/**
 * What one HTTP request did, for its log line and the request metrics. Finished once: by the
 * request middleware for ordinary responses, or by the SSE stream when it closes.
 */
export class RequestRecord {
  readonly receivedAt = performance.now();
  readonly fields: Record<string, unknown> = {};
  /** A streamed response finishes its own record when the stream ends. */
  deferred = false;
  private finished = false;

  constructor(
    readonly id: string,
    readonly route: string,
    private readonly onFinish: (r: RequestRecord, status: number) => void,
  ) {}

  elapsedMs(): number {
    return performance.now() - this.receivedAt;
  }

  finish(status: number): void {
    if (this.finished) return;
    this.finished = true;
    this.onFinish(this, status);
  }
}
