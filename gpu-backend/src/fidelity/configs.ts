import type { Mode } from '@verdict/protocol';
import { ENTROPY_DEFAULTS } from '../engine/types.ts';

/** One decoding configuration the fidelity benchmark measures. `draft` = the draft model decoding alone. */
export interface FidelityConfig {
  mode: Mode | 'draft';
  k: number | null;
  /** judge: head threshold; kl: KL bound (nats); entropy: entropy gate (nats); else null. */
  threshold: number | null;
  temperature: number;
}

export const label = (c: FidelityConfig): string =>
  `${c.mode}${c.k == null ? '' : ` K=${c.k}`}${c.threshold == null ? '' : ` @${+c.threshold.toFixed(3)}`}`;

export const sameConfig = (a: FidelityConfig, b: FidelityConfig): boolean =>
  a.mode === b.mode && a.k === b.k && a.threshold === b.threshold && a.temperature === b.temperature;

export interface Sweeps {
  ks: number[];
  /** Judge thresholds besides the shipped one (none without a head). */
  judge: number[];
  kl: number[];
  entropy: number[];
  /** K at which the thresholds are swept; other Ks get one point per rule. */
  sweepK: number;
}

export const DEFAULT_SWEEPS: Sweeps = { ks: [4, 8], judge: [0.5, 0.7, 0.9], kl: [0.1, 0.3, 1.0], entropy: [1.0, ENTROPY_DEFAULTS.threshold, 2.5], sweepK: 8 };

/**
 * target, exact, judge over a threshold sweep, kl over a sweep, the entropy rule, and the draft alone,
 * at each K, for each temperature. `shipped` is the head's threshold (undefined: no judge head).
 */
export function fidelityConfigs(temperatures: number[], shipped: number | undefined, s: Sweeps = DEFAULT_SWEEPS): FidelityConfig[] {
  const out: FidelityConfig[] = [];
  const uniq = (xs: number[]) => [...new Set(xs)].sort((a, b) => a - b);
  for (const temperature of temperatures) {
    out.push({ mode: 'target', k: null, threshold: null, temperature }, { mode: 'draft', k: null, threshold: null, temperature });
    for (const k of s.ks) {
      const sweep = k === s.sweepK;
      out.push({ mode: 'exact', k, threshold: null, temperature });
      if (shipped !== undefined) for (const t of uniq(sweep ? [shipped, ...s.judge] : [shipped])) out.push({ mode: 'judge', k, threshold: t, temperature });
      for (const t of sweep ? uniq(s.kl) : [0.3]) out.push({ mode: 'kl', k, threshold: t, temperature });
      for (const t of sweep ? uniq(s.entropy) : [ENTROPY_DEFAULTS.threshold]) out.push({ mode: 'entropy', k, threshold: t, temperature });
    }
  }
  return out;
}
