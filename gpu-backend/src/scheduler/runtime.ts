import type { LoadedBundle } from '../bundle/types.ts';
import type { Engine, EngineOptions } from '../engine/engine.ts';

/**
 * What serving needs from the model side: the HTTP thread loads the bundle (tokenizer, chat
 * template, limits) and each worker thread loads it again and builds its engine from it.
 */
export interface ServingRuntime {
  loadBundle(dir: string): Promise<LoadedBundle>;
  createEngine(bundle: LoadedBundle, opts: EngineOptions): Promise<Engine>;
}

/**
 * A runtime named by the module that exports it as `runtime`. Worker threads cannot receive
 * functions, only a module to import, so a runtime travels as a URL; the module itself declares
 * `export const runtime: ServingRuntime`, which is where its type is checked. Tests pass a
 * controllable one to startServer; `verdict serve` always uses {@link ONNX_RUNTIME}.
 */
export interface RuntimeModule {
  url: string;
}

export const ONNX_RUNTIME: RuntimeModule = { url: new URL('./onnx-runtime.ts', import.meta.url).href };

export async function importRuntime(m: RuntimeModule): Promise<ServingRuntime> {
  const mod = (await import(m.url)) as { runtime?: ServingRuntime };
  if (!mod.runtime || typeof mod.runtime.loadBundle !== 'function' || typeof mod.runtime.createEngine !== 'function') {
    throw new Error(`${m.url} does not export \`runtime: ServingRuntime\` ({ loadBundle, createEngine })`);
  }
  return mod.runtime;
}
