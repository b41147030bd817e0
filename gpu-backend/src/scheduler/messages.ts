import type { DecodeEvent, DecodeRequest, Mode } from '../engine/types.ts';
import type { ExecutionProvider } from '../engine/providers.ts';
import type { BatchOptions } from '../engine/batch/options.ts';
import type { RuntimeModules } from './runtime.ts';
import type { ReclaimResult } from './reclaim.ts';

/** What a worker thread is started with (structured-cloned into `workerData`). */
export interface WorkerInit {
  bundleDir: string;
  providers: ExecutionProvider[];
  intraOpThreads: number;
  /** V8 young generation cap of the worker's isolate in MB (0 = V8's default); see `--worker-young-gen-mb`. */
  youngGenerationMb?: number;
  /** Idle time after which the worker collects garbage and trims malloc (0 = never); see `--idle-reclaim-ms`. */
  idleReclaimMs?: number;
  /** How the engine batches its generations (engine/batch/options.ts). */
  batch: BatchOptions;
  /** Longest prefill forward in tokens (0 = whole prompt); see `--prefill-chunk`. Unset: the engine's default. */
  prefillChunk?: number;
  /** onnxruntime's CPU arena; see `--cpu-arena`. Unset: on. */
  cpuArena?: boolean;
  /** Where the worker loads the bundle and the engine from (runtime.ts). */
  runtime: RuntimeModules;
}

/** HTTP thread -> worker. */
export type ToWorker =
  | { type: 'decode'; id: number; req: DecodeRequest }
  /** Stop at the next step and free the KV cache; the worker still answers with `end`. */
  | { type: 'cancel'; id: number }
  | { type: 'shutdown' };

/** Worker -> HTTP thread. Every `decode` gets exactly one `end` or `error`, after its events. */
export type FromWorker =
  /** `modes`: what this engine can serve (judge needs a head the target's outputs can feed). */
  /** `trimNote`: why idle reclaims cannot malloc_trim here ('' when they can, or when reclaiming is off). */
  | { type: 'ready'; modes: Mode[]; batching: boolean; batchingNote: string; trimNote: string }
  /** The worker was idle and gave memory back (reclaim.ts). */
  | { type: 'reclaimed'; result: ReclaimResult }
  | { type: 'fatal'; message: string }
  | { type: 'event'; id: number; event: DecodeEvent }
  | { type: 'end'; id: number }
  /** `invalid_request`: the engine refused the request (a 400); anything else is a 500. */
  | { type: 'error'; id: number; message: string; code: string };
