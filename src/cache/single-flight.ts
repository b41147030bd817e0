import type { Flight } from '../upstream/flight.ts';

/**
 * In-flight generations by cache key, within one isolate: an identical deterministic request arriving while
 * the first is still generating joins it instead of starting a second generation. (Across isolates and
 * colos this would need a Durable Object per key; see docs/gateway.md.)
 */
export class FlightRegistry {
  private readonly flights = new Map<string, Flight>();

  /** A running flight for this key that a new request may still join (not cancelled). */
  get(key: string): Flight | undefined {
    const f = this.flights.get(key);
    return f && !f.aborted ? f : undefined;
  }

  /** Registers the flight until it has finished and `settled` (the cache write) resolved. */
  add(key: string, flight: Flight, settled: Promise<unknown>): void {
    this.flights.set(key, flight);
    void settled.finally(() => {
      if (this.flights.get(key) === flight) this.flights.delete(key);
    });
  }
}
