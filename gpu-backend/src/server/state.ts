import type { IdleReclaimer } from '../scheduler/reclaim.ts';
import type { LoadedBundle } from '../bundle/types.ts';
import type { Scheduler } from '../scheduler/scheduler.ts';
import type { WorkerPool } from '../scheduler/pool.ts';
import type { ServeConfig } from './config.ts';
import type { Logger } from './log.ts';
import type { ServerMetrics } from './metrics.ts';

export type Phase = 'loading' | 'ready' | 'failed' | 'draining';

/** Everything the routes need, filled in as the bundle and the workers come up. */
export interface ServerState {
  config: ServeConfig;
  log: Logger;
  metrics: ServerMetrics;
  phase: Phase;
  /** Why loading failed (phase `failed`); shown by /readyz. */
  failure?: string;
  bundle?: LoadedBundle;
  pool?: WorkerPool;
  scheduler?: Scheduler;
  /** Gives the HTTP thread's garbage back to the OS when no generation has run for a while. */
  reclaimer?: IdleReclaimer;
  /** The answer-shaping fingerprint (fingerprint.ts), computed once the engines are up: /v1/models and every response's system_fingerprint. */
  fingerprint?: string;
}
