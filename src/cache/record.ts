/** One SSE `data:` payload and when it arrived, in ms after the backend's first byte. */
export interface RecordedEvent {
  t: number;
  data: string;
}

/** A complete, successful answer as stored in the edge cache. */
export type CachedAnswer =
  | { v: 1; kind: 'sse'; events: RecordedEvent[]; requestId: string | null; created: number }
  | { v: 1; kind: 'json'; body: string; requestId: string | null; created: number };
