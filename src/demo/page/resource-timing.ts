import type { ServerTimingEntry } from '@verdict/protocol/browser';

/**
 * Server-Timing of one fetch, read the way the issue asks: through PerformanceResourceTiming.serverTiming
 * (a cross-origin page needs Timing-Allow-Origin for it). The entry appears only once the body has been read to
 * the end, so we poll briefly. Two panes fetch the same URL at once, so the entry is the one whose startTime is
 * nearest to when this pane called fetch.
 */
export async function serverTimingOf(url: string, fetchStartedAt: number, claimed: Set<PerformanceEntry>, waitMs = 1000): Promise<ServerTimingEntry[] | null> {
  const absolute = new URL(url, location.href).href;
  const deadline = performance.now() + waitMs;
  for (;;) {
    const entries = (performance.getEntriesByName(absolute, 'resource') as PerformanceResourceTiming[]).filter((e) => !claimed.has(e));
    if (entries.length) {
      entries.sort((a, b) => Math.abs(a.startTime - fetchStartedAt) - Math.abs(b.startTime - fetchStartedAt));
      const entry = entries[0];
      claimed.add(entry);
      return (entry.serverTiming ?? []).map((t) => ({ name: t.name, dur: t.duration, desc: t.description || undefined }));
    }
    if (performance.now() > deadline) return null;
    await new Promise((r) => setTimeout(r, 50));
  }
}
