/**
 * Reading a server's Prometheus text exposition (`GET /metrics`) for the load bench: every sample
 * as `name{labels}` → value, and the batch-related ones (name containing `batch` or `spec_k`) with
 * their change over a configuration.
 */

/** `series` (the metric name with its label set, exactly as exposed) → value. Comments and malformed lines are skipped. */
export function parsePrometheus(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    // name{labels} value [timestamp]; label values may hold spaces, so split after the closing brace.
    const brace = line.indexOf('{');
    const close = brace >= 0 ? line.lastIndexOf('}') : -1;
    const series = brace >= 0 && close > brace ? line.slice(0, close + 1) : line.split(/\s+/)[0];
    const rest = line.slice(series.length).trim().split(/\s+/);
    const value = Number(rest[0]);
    if (rest[0] !== undefined && rest[0] !== '' && !Number.isNaN(value)) out.set(series, value);
  }
  return out;
}

/** The metric name of a series (`verdict_x_total{mode="judge"}` → `verdict_x_total`). */
const metricName = (series: string) => series.replace(/\{.*$/, '');

export const isBatchMetric = (series: string) => /batch|spec_k/i.test(metricName(series));

/** The batch-related series after a configuration, each with its change since `before`; null when the server exposes none. */
export function batchMetrics(before: Map<string, number> | null, after: Map<string, number>): Record<string, { value: number; delta: number }> | null {
  const out: Record<string, { value: number; delta: number }> = {};
  for (const [series, value] of after) {
    if (!isBatchMetric(series) || !Number.isFinite(value)) continue;
    out[series] = { value, delta: value - (before?.get(series) ?? 0) };
  }
  return Object.keys(out).length ? out : null;
}
