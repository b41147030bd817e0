import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { IdleReclaimer, loadTrim, reclaimFields } from '../scheduler/reclaim.ts';
import { codePagesFields, releaseCodePages } from '../scheduler/code-pages.ts';
import { createAdaptorServer } from '@hono/node-server';
import { ApiError } from '@verdict/protocol';
import { importBundleLoader, SOURCE_RUNTIME, type RuntimeModules } from '../scheduler/runtime.ts';
import { WorkerPool } from '../scheduler/pool.ts';
import { Scheduler } from '../scheduler/scheduler.ts';
import { batchOptions } from '../engine/batch/options.ts';
import { createApp } from './app.ts';
import { answerFingerprint } from './fingerprint.ts';
import { parseConfig, type ServeConfigInput } from './config.ts';
import { createLogger } from './log.ts';
import { ServerMetrics } from './metrics.ts';
import type { ServerState } from './state.ts';


export interface RunningServer {
  /** Base URL, e.g. http://127.0.0.1:8080 */
  url: string;
  /** Settles when the bundle is loaded and every worker is up (rejects if that failed; /readyz says why). */
  ready: Promise<void>;
  state: ServerState;
  /** Graceful stop: refuse new work, let in-flight requests finish within drainTimeoutMs, cancel the rest, stop the workers. */
  close(): Promise<void>;
}

/**
 * Starts `verdict serve` in this process: listens at once (so /healthz and /readyz answer
 * while loading), then loads the bundle on this thread (tokenizer, chat template) and starts
 * the worker pool, each worker loading its own engine.
 */
export async function startServer(input: ServeConfigInput, runtime: RuntimeModules = SOURCE_RUNTIME): Promise<RunningServer> {
  const config = parseConfig(input);
  const log = createLogger(config.logLevel);
  const state: ServerState = {
    config,
    log,
    phase: 'loading',
    metrics: new ServerMetrics({ queued: () => state.scheduler?.queued ?? 0, running: () => state.scheduler?.running ?? 0 }),
  };
  const server = createAdaptorServer({ fetch: createApp(state).fetch }) as Server;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(new Error(`cannot listen on ${config.host}:${config.port}: ${err.code ?? err.message}`)));
    server.listen(config.port, config.host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  const url = `http://${host === '0.0.0.0' ? '127.0.0.1' : host === '[::]' ? '[::1]' : host}:${addr.port}`;
  log('info', 'listening', { url, bundle: config.bundle, pid: process.pid });

  const ready = load(state, runtime);
  ready.catch(() => {}); // the failure is in state.failure and /readyz; callers may await `ready` to see it

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      const wasPhase = state.phase;
      state.phase = 'draining';
      log('info', 'shutting down', { running: state.scheduler?.running ?? 0, queued: state.scheduler?.queued ?? 0, drain_timeout_ms: config.drainTimeoutMs });
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      if (wasPhase === 'loading') await ready.catch(() => {});
      await state.scheduler?.drain(config.drainTimeoutMs, new ApiError(503, 'the server is shutting down; the generation was cancelled', 'service_unavailable', null, 'shutting_down'));
      // Give cancelled streams a moment to write their final error event, then drop what is left.
      await Promise.race([closed, delay(1000)]);
      server.closeAllConnections();
      state.reclaimer?.dispose();
      await state.pool?.close();
      await closed;
      log('info', 'stopped');
    })());
  return { url, ready, state, close };
}

async function load(state: ServerState, runtime: RuntimeModules): Promise<void> {
  const { config, log } = state;
  const started = performance.now();
  try {
    state.bundle = await (await importBundleLoader(runtime))(config.bundle);
    const pool = new WorkerPool({ bundleDir: config.bundle, providers: config.providers, intraOpThreads: config.intraOpThreads, youngGenerationMb: config.workerYoungGenMb, idleReclaimMs: config.idleReclaimMs, batch: batchOptions(config), prefillChunk: config.prefillChunk, cpuArena: config.cpuArena === 'on', runtime }, config.workers, log);
    state.pool = pool;
    await pool.start();
    // The HTTP thread's own garbage (request bodies, SSE chunks) goes back the same way as the workers'.
    // Code pages go once the model is loaded, and once more after the first burst of work: first
    // requests run code that later ones do not (lazy initialisation, the optimising compiler's first work).
    const releaseCode = config.releaseCodePages === 'on' ? codePagesReleaser(log) : null;
    let served = false;
    const reclaimer = new IdleReclaimer(config.idleReclaimMs, (r) => {
      log('debug', 'idle reclaim', { thread: 'http', ...reclaimFields(r) });
      if (served) void releaseCode?.('after the first requests');
    });
    if (config.idleReclaimMs) await loadTrim();
    state.reclaimer = reclaimer;
    const onBusy = () => {
      served = true;
      reclaimer.busy();
    };
    state.scheduler = new Scheduler(pool, { concurrency: config.concurrency, queueSize: config.queueSize, onBusy, onIdle: () => reclaimer.idle() });
    state.fingerprint = answerFingerprint(state.bundle, config, pool.modes);
    await releaseCode?.('loaded');
    if (state.phase === 'loading') state.phase = 'ready';
    reclaimer.idle(); // loading leaves the most garbage of all
    log('info', 'ready', { model: state.bundle.manifest.name, workers: config.workers, providers: config.providers, load_ms: Math.round(performance.now() - started) });
  } catch (err) {
    state.failure = err instanceof Error ? err.message : String(err);
    if (state.phase === 'loading') state.phase = 'failed';
    log('error', 'could not load the model', { bundle: config.bundle, error: state.failure });
    await state.pool?.close();
    throw err;
  }
}

/** Releases code pages ({@link releaseCodePages}) at most twice: the calls after that do nothing. */
function codePagesReleaser(log: ServerState['log']): (when: string) => Promise<void> {
  let left = 2;
  return async (when) => {
    if (left <= 0) return;
    left--;
    const r = await releaseCodePages();
    if (typeof r === 'string') {
      left = 0;
      log('warn', 'code pages not released', { why: r });
    } else log('debug', 'released code pages', { when, ...codePagesFields(r) });
  };
}

const delay = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());
