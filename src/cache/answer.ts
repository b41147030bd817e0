import type { CapturedAnswer } from '../upstream/flight.ts';

export type { RecordedEvent } from '../upstream/flight.ts';

/** A complete, successful answer as stored in the edge cache (both tiers): what the backend sent, versioned and dated. */
export type CachedAnswer = CapturedAnswer & { v: 1; created: number };
