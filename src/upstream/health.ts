import type { BackendConfig } from '../config.ts';

interface BackendHealth {
  failures: number;
  /** While now < downUntil the backend is skipped; after it, one /readyz probe decides. */
  downUntil: number;
  probe?: Promise<boolean>;
}

/**
 * Passive health per backend within an isolate: `failureLimit` consecutive failures put a backend in
 * cool-down; when the cool-down ends, the next request probes `/readyz` once (shared by concurrent requests)
 * and either brings it back or starts a new cool-down.
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

  async isUsable(backend: BackendConfig, fetcher: typeof fetch): Promise<boolean> {
    const s = this.state.get(backend.url);
    if (!s || s.downUntil === 0) return true;
    if (s.downUntil > this.now()) return false;
    s.probe ??= this.probe(backend, fetcher).finally(() => (s.probe = undefined));
    return s.probe;
  }

  private async probe(backend: BackendConfig, fetcher: typeof fetch): Promise<boolean> {
    let ok = false;
    try {
      const res = await fetcher(`${backend.url}/readyz`, { headers: backend.authorization ? { authorization: backend.authorization } : {}, signal: AbortSignal.timeout(5000) });
      ok = res.ok;
      await res.body?.cancel();
    } catch {
      ok = false;
    }
    if (ok) this.recordSuccess(backend.url);
    else this.of(backend.url).downUntil = this.now() + this.cooldownMs;
    return ok;
  }
}
