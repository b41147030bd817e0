import { parentPort, workerData } from 'node:worker_threads';
import { MODES } from '@verdict/protocol';
import type { DecodeEvent, DecodeRequest, Mode } from '../engine/types.ts';
import type { FromWorker, ToWorker, WorkerInit } from './messages.ts';

/**
 * One inference worker thread: loads the bundle, builds one engine and runs the decodes the
 * HTTP thread sends it. Several decodes interleave here at step granularity (each `for await`
 * yields between steps), since `session.run` blocks this thread for the length of one forward.
 */
interface Engine {
  readonly modes?: readonly Mode[];
  decode(req: DecodeRequest, signal?: AbortSignal): AsyncGenerator<DecodeEvent>;
  dispose(): void | Promise<void>;
}

const init = workerData as WorkerInit;
const port = parentPort!;
const post = (m: FromWorker) => port.postMessage(m);
const running = new Map<number, AbortController>();

async function start(): Promise<Engine> {
  const { loadBundle } = (await import(init.bundleModule)) as { loadBundle(dir: string, opts?: { verifyHashes?: boolean }): Promise<unknown> };
  const { createEngine } = (await import(init.engineModule)) as {
    createEngine(bundle: unknown, opts: { executionProviders: string[]; intraOpThreads: number }): Engine | Promise<Engine>;
  };
  // The HTTP thread has already checked every file's sha256 before starting the workers.
  const bundle = await loadBundle(init.bundleDir, { verifyHashes: false });
  return await createEngine(bundle, { executionProviders: init.providers, intraOpThreads: init.intraOpThreads });
}

async function run(engine: Engine, id: number, req: DecodeRequest): Promise<void> {
  const ctl = new AbortController();
  running.set(id, ctl);
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
  }
}

try {
  const engine = await start();
  port.on('message', (m: ToWorker) => {
    if (m.type === 'decode') void run(engine, m.id, m.req);
    else if (m.type === 'cancel') running.get(m.id)?.abort();
    else if (m.type === 'shutdown') {
      for (const ctl of running.values()) ctl.abort();
      void Promise.resolve(engine.dispose()).finally(() => port.close());
    }
  });
  post({ type: 'ready', modes: [...(engine.modes ?? MODES)] });
} catch (err) {
  post({ type: 'fatal', message: err instanceof Error ? err.message : String(err) });
  port.close();
}
