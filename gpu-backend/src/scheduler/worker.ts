import { parentPort, workerData } from 'node:worker_threads';
import type { Engine } from '../engine/engine.ts';
import type { DecodeRequest } from '../engine/types.ts';
import type { FromWorker, ToWorker, WorkerInit } from './messages.ts';
import { importBundleLoader, importEngineFactory } from './runtime.ts';
import { IdleReclaimer, loadTrim } from './reclaim.ts';

/**
 * One inference worker thread: loads the bundle, builds one engine and runs the decodes the
 * HTTP thread sends it. Several decodes interleave here at step granularity (each `for await`
 * yields between steps), since `session.run` blocks this thread for the length of one forward.
 */
const init = workerData as WorkerInit;
const port = parentPort!;
const post = (m: FromWorker) => port.postMessage(m);
const running = new Map<number, AbortController>();
// lastResort: decoding grows this thread's young generation, which a plain collection leaves grown (reclaim.ts).
const reclaimer = new IdleReclaimer(init.idleReclaimMs ?? 0, (result) => post({ type: 'reclaimed', result }), { lastResort: true });

async function start(): Promise<Engine> {
  const [loadBundle, createEngine] = await Promise.all([importBundleLoader(init.runtime), importEngineFactory(init.runtime)]);
  // The HTTP thread has already checked every file's sha256 before starting the workers, and it
  // does all the encoding: a worker only turns ids into text.
  const bundle = await loadBundle(init.bundleDir, { verifyHashes: false, tokenizer: 'decode' });
  return await createEngine(bundle, { executionProviders: init.providers, intraOpThreads: init.intraOpThreads, batch: init.batch, prefillChunk: init.prefillChunk, cpuArena: init.cpuArena });
}

async function run(engine: Engine, id: number, req: DecodeRequest): Promise<void> {
  const ctl = new AbortController();
  running.set(id, ctl);
  reclaimer.busy();
  try {
    for await (const event of engine.decode(req, ctl.signal)) {
      post({ type: 'event', id, event });
      if (ctl.signal.aborted) break; // leaving the loop runs the generator's finally: its KV cache is released
    }
    post({ type: 'end', id });
  } catch (err) {
    if (ctl.signal.aborted) post({ type: 'end', id });
    else {
      const code = err instanceof Error && 'code' in err && typeof err.code === 'string' ? err.code : 'runtime';
      post({ type: 'error', id, message: err instanceof Error ? err.message : String(err), code });
    }
  } finally {
    running.delete(id);
    if (running.size === 0) reclaimer.idle();
  }
}

try {
  const engine = await start();
  port.on('message', (m: ToWorker) => {
    if (m.type === 'decode') void run(engine, m.id, m.req);
    else if (m.type === 'cancel') running.get(m.id)?.abort();
    else if (m.type === 'shutdown') {
      reclaimer.dispose();
      for (const ctl of running.values()) ctl.abort();
      void engine.dispose().finally(() => port.close());
    }
  });
  const trimNote = init.idleReclaimMs ? await loadTrim() : '';
  reclaimer.idle(); // loading leaves the most garbage of all
  post({ type: 'ready', modes: [...engine.modes], batching: engine.batching.enabled, batchingNote: engine.batching.note, trimNote });
} catch (err) {
  post({ type: 'fatal', message: err instanceof Error ? err.message : String(err) });
  port.close();
}
