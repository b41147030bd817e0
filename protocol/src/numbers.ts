/** Rounds to `decimals` places (3: microseconds on a millisecond figure). The one rounding of timings and stats on the wire. */
export function round(x: number, decimals = 3): number {
  const f = 10 ** decimals;
  return Math.round(x * f) / f;
}
