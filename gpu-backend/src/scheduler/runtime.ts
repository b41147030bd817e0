import type { LoadBundleOptions } from '../bundle/load.ts';
import type { LoadedBundle } from '../bundle/types.ts';
import type { Engine, EngineOptions } from '../engine/engine.ts';

/** What the HTTP thread (tokenizer, chat template, limits) and each worker load a bundle with. */
export type BundleLoader = (dir: string, opts?: LoadBundleOptions) => Promise<LoadedBundle>;
/** What each worker thread builds its engine with. */
export type EngineFactory = (bundle: LoadedBundle, opts: EngineOptions) => Promise<Engine>;

/**
 * Where serving loads its code from. Worker threads cannot receive functions, only modules to
 * import, so the runtime travels as module URLs: `bundle` exports `loadBundle: BundleLoader`,
 * `engine` exports `createEngine: EngineFactory` (typed where each module is written, checked at
 * import), and `workerEntry` is the worker thread's entry file. The HTTP thread imports only
 * `bundle`, never the engine or onnxruntime. `verdict serve` uses {@link SOURCE_RUNTIME}, or the same
 * modules precompiled by its launcher (server/launch.mjs); tests pass a controllable engine to
 * `startServer(config, runtime)`. None of it is configuration a user sets.
 */
export interface RuntimeModules {
  bundle: string;
  engine: string;
  workerEntry: string;
}

const here = (path: string) => new URL(path, import.meta.url).href;

export const SOURCE_RUNTIME: RuntimeModules = {
  bundle: here('../bundle/load.ts'),
  engine: here('../engine/engine.ts'),
  // Registers tsx (workers do not inherit the parent's loader), then imports worker.ts.
  workerEntry: here('./worker-entry.mjs'),
};

export async function importBundleLoader(m: RuntimeModules): Promise<BundleLoader> {
  const { loadBundle } = (await import(m.bundle)) as { loadBundle?: BundleLoader };
  if (typeof loadBundle !== 'function') throw new Error(`${m.bundle} does not export loadBundle`);
  return loadBundle;
}

export async function importEngineFactory(m: RuntimeModules): Promise<EngineFactory> {
  const { createEngine } = (await import(m.engine)) as { createEngine?: EngineFactory };
  if (typeof createEngine !== 'function') throw new Error(`${m.engine} does not export createEngine`);
  return createEngine;
}
