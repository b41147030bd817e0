import { Worker } from 'node:worker_threads';
import { ApiError, MODES } from '@verdict/protocol';
import type { DecodeEvent, DecodeRequest, Mode } from '../engine/types.ts';
import type { FromWorker, ToWorker, WorkerInit } from './messages.ts';
import { reclaimFields } from './reclaim.ts';

/** Receives one decode's events; exactly one of `onEnd` / `onError` is called, last. */
export interface DecodeSink {
  onEvent(event: DecodeEvent): void;
  onEnd(): void;
  onError(err: ApiError): void;
}

export interface PoolLog {
  (level: 'debug' | 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>): void;
}

interface Slot {
  index: number;
  worker: Worker;
  ready: boolean;
  /** The worker could not start; no work goes to this slot. */
  dead: boolean;
  exited: boolean;
  jobs: Set<number>;
  /** Messages for a worker still starting (a replacement), sent once it is ready. */
  pending: ToWorker[];
}

/** The worker's entry: registers tsx, then runs worker.ts (a precompiled server passes its own JS entry). */
const WORKER_FAILED = 'the inference worker failed while generating; the request was not completed';

/**
 * A fixed number of worker threads, each holding one engine. A worker that dies fails only
 * the decodes it was running (500 in OpenAI shape) and is replaced; the pool keeps serving.
 */
export class WorkerPool {
  private readonly slots: Slot[] = [];
  private readonly jobs = new Map<number, { slot: Slot; sink: DecodeSink }>();
  private nextId = 1;
  private closing = false;
  /** Count of worker replacements, for tests and logs. */
  restarts = 0;
  /** The modes every worker's engine can serve (set once the workers are ready). */
  modes: Mode[] = [...MODES];

  constructor(
    private readonly init: WorkerInit,
    private readonly size: number,
    private readonly log: PoolLog = () => {},
  ) {}

  /** Starts every worker; resolves when all have loaded the bundle and built their engine. */
  async start(): Promise<void> {
    await Promise.all(Array.from({ length: this.size }, (_, i) => this.spawn(i)));
  }

  get readyWorkers(): number {
    return this.slots.filter((s) => s?.ready).length;
  }

  get running(): number {
    return this.jobs.size;
  }

  /** Workers that could not start and have exited: settled for good, they are never respawned. */
  get deadWorkers(): number {
    return this.slots.filter((s) => s?.dead && s.exited).length;
  }

  /**
   * Sends a decode to the least busy worker, preferring ready ones; a worker being replaced
   * after a crash gets the decode once it is up. Returns the cancel function.
   */
  run(req: DecodeRequest, sink: DecodeSink): () => void {
    const load = (s: Slot) => s.jobs.size + (s.ready ? 0 : 1000);
    const slot = this.slots.filter((s) => s && !s.dead).sort((a, b) => load(a) - load(b))[0];
    if (!slot || this.closing) throw new ApiError(503, 'no inference worker is ready', 'service_unavailable', null, 'not_ready', { 'Retry-After': '5' });
    const id = this.nextId++;
    this.jobs.set(id, { slot, sink });
    slot.jobs.add(id);
    this.send(slot, { type: 'decode', id, req });
    return () => {
      if (this.jobs.has(id)) this.send(slot, { type: 'cancel', id });
    };
  }

  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(
      this.slots.map(async (s) => {
        if (!s || s.exited) return;
        const exited = new Promise((r) => s.worker.once('exit', r));
        // A ready worker disposes its engine; one still starting is simply stopped.
        if (s.ready) this.send(s, { type: 'shutdown' });
        else void s.worker.terminate();
        const timer = setTimeout(() => void s.worker.terminate(), 2000);
        await exited;
        clearTimeout(timer);
      }),
    );
  }

  private send(slot: Slot, m: ToWorker): void {
    if (!slot.ready) {
      slot.pending.push(m);
      return;
    }
    try {
      slot.worker.postMessage(m);
    } catch {
      // The worker is gone; its exit handler fails the job.
    }
  }

  private spawn(index: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const young = this.init.youngGenerationMb;
      const worker = new Worker(new URL(this.init.runtime.workerEntry), { workerData: this.init, ...(young ? { resourceLimits: { maxYoungGenerationSizeMb: young } } : {}) });
      const slot: Slot = { index, worker, ready: false, dead: false, exited: false, jobs: new Set(), pending: [] };
      this.slots[index] = slot;
      let settled = false;
      worker.on('message', (m: FromWorker) => {
        if (m.type === 'ready') {
          slot.ready = true;
          settled = true;
          this.modes = this.modes.filter((mode) => m.modes.includes(mode));
          for (const p of slot.pending.splice(0)) this.send(slot, p);
          this.log('info', 'inference worker ready', { worker: index, batching: m.batching });
          if (m.batchingNote) this.log('warn', m.batchingNote, { worker: index });
          if (m.trimNote) this.log('warn', `idle reclaim will only collect garbage: ${m.trimNote}`, { worker: index });
          resolve();
        } else if (m.type === 'fatal') {
          settled = true;
          slot.dead = true;
          reject(new Error(`inference worker ${index} could not start: ${m.message}`));
        } else if (m.type === 'reclaimed') this.log('debug', 'idle reclaim', { worker: index, ...reclaimFields(m.result) });
        else this.route(m);
      });
      worker.on('error', (err) => this.log('error', 'inference worker crashed', { worker: index, error: err.message }));
      worker.on('exit', (code) => {
        slot.ready = false;
        slot.exited = true;
        for (const id of slot.jobs) {
          const job = this.jobs.get(id);
          this.jobs.delete(id);
          job?.sink.onError(new ApiError(500, WORKER_FAILED, 'server_error', null, 'worker_failed'));
        }
        slot.jobs.clear();
        if (!settled) {
          settled = true;
          slot.dead = true;
          reject(new Error(`inference worker ${index} exited with code ${code} before it was ready`));
        } else if (!slot.dead && !this.closing && this.slots[index] === slot) {
          // A worker that crashed while serving is replaced; one that could not start (its
          // `fatal` made it dead) is not, or a bundle that no longer loads would respawn forever.
          this.restarts++;
          this.log('warn', 'replacing inference worker', { worker: index, exitCode: code });
          this.spawn(index).catch((err: Error) => this.log('error', 'inference worker could not be replaced', { worker: index, error: err.message }));
        }
      });
    });
  }

  private route(m: Exclude<FromWorker, { type: 'ready' | 'fatal' | 'reclaimed' }>): void {
    const job = this.jobs.get(m.id);
    if (!job) return;
    if (m.type === 'event') return job.sink.onEvent(m.event);
    this.jobs.delete(m.id);
    job.slot.jobs.delete(m.id);
    if (m.type === 'end') job.sink.onEnd();
    else if (m.code === 'invalid_request') job.sink.onError(new ApiError(400, m.message, 'invalid_request_error', null, 'invalid_value'));
    else {
      this.log('error', 'decode failed', { worker: job.slot.index, error: m.message, code: m.code });
      job.sink.onError(new ApiError(500, 'generation failed inside the engine', 'server_error', null, 'engine_error'));
    }
  }
}
