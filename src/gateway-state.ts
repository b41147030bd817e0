import type { GatewayConfig } from './config.ts';
import { FlightRegistry } from './cache/single-flight.ts';
import { DraftStore } from './cache/draft-store.ts';
import { AnswerStore } from './cache/store.ts';
import { FingerprintCache } from './upstream/fingerprint.ts';
import { HealthTracker } from './upstream/health.ts';
import { UpstreamClient } from './upstream/client.ts';

/** Per-isolate state shared by all requests of one app instance (tests build a fresh instance each). */
export interface GatewayState {
  /** The one way to call a backend: pool draw, health, retry (its fetch is the one tests substitute). */
  upstream: UpstreamClient;
  fingerprints: FingerprintCache;
  flights: FlightRegistry;
  /** Both tiers of the answer cache (Cache API, optional KV). */
  store: AnswerStore;
  /** Cache-as-draft's index: the latest answer text per conversation (in this isolate's memory, bounded). */
  drafts: DraftStore;
}

export interface StateOptions {
  /** The fetch used for every backend call; tests substitute a fake upstream. */
  fetch?: typeof fetch;
  /** Uniform [0, 1) source of the weighted backend order. */
  random?: () => number;
}

/** Health depends on the config, so the state is built on the first request (once per app). */
export function createGatewayState(config: GatewayConfig, options: StateOptions = {}): GatewayState {
  const upstream = new UpstreamClient(
    new HealthTracker(config.healthFailures, config.healthCooldownMs),
    options.fetch ?? ((input, init) => fetch(input, init)),
    options.random ?? Math.random,
  );
  return { upstream, fingerprints: new FingerprintCache(upstream), flights: new FlightRegistry(), store: new AnswerStore(), drafts: new DraftStore() };
}
