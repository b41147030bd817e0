interface BackendHealth {
  failures: number;
  /** While now < downUntil the backend is skipped; after it, one /readyz probe decides. */
  downUntil: number;
  probe?: Promise<boolean>;
}

/**
 * Passive health per backend within an isolate: `failureLimit` consecutive failures put a backend in
 * cool-down; when the cool-down ends, the next request probes it once (`/readyz`, shared by concurrent requests)
 * and either brings it back or starts a new cool-down. What counts as a failure is `isBackendFailure` (client.ts).
 */
export class HealthTracker {
  private readonly state = new Map<string, BackendHealth>();

  constructor(
    private readonly failureLimit: number,
    private readonly cooldownMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  private of(url: string): BackendHealth {
    let s = this.state.get(url);
    if (!s) this.state.set(url, (s = { failures: 0, downUntil: 0 }));
    return s;
  }

  recordSuccess(url: string): void {
    const s = this.of(url);
    s.failures = 0;
    s.downUntil = 0;
  }

  recordFailure(url: string): void {
    const s = this.of(url);
    s.failures++;
    if (s.failures >= this.failureLimit) s.downUntil = this.now() + this.cooldownMs;
  }

  /** Whether to send this backend requests; after a cool-down, `probe` (shared by concurrent callers) decides. */
  async isUsable(url: string, probe: () => Promise<boolean>): Promise<boolean> {
    const s = this.state.get(url);
    if (!s || s.downUntil === 0) return true;
    if (s.downUntil > this.now()) return false;
    s.probe ??= probe()
      .then((ok) => {
        if (ok) this.recordSuccess(url);
        else this.of(url).downUntil = this.now() + this.cooldownMs;
        return ok;
      })
      .finally(() => (s.probe = undefined));
    return s.probe;
  }
}
