import type { FlightRegistry } from '../cache/single-flight.ts';
import type { Flight } from '../upstream/flight.ts';
import type { Generation } from './policy.ts';

/**
 * The key a generation's flight is registered under: the key of the backend drawn first's fingerprint, so a
 * request joins only a generation that the same build is producing. Null when the cache plays no part.
 */
export async function flightKey(g: Generation): Promise<string | null> {
  if (g.policy === 'bypass' || !g.order?.length) return null;
  const first = g.fingerprints.get(g.order[0].url);
  return first ? g.keyFor(first) : null;
}

/** Stage 3, join: an identical generation already in flight in this isolate (only on `lookup`; `refresh` generates afresh). */
export function joinFlight(g: Generation, key: string | null, flights: FlightRegistry): Flight | undefined {
  return key && g.policy === 'lookup' ? flights.get(key) : undefined;
}
