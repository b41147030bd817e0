import * as ort from 'onnxruntime-node';

/**
 * Measures the time spent inside onnxruntime's `session.run`, across every session in this
 * process, by wrapping the shared prototype method. The engine is untouched; the difference
 * between a step's wall time and this is the JavaScript around the runtime.
 */
export interface OrtTimer {
  /** Milliseconds spent inside session.run since install. */
  readonly ms: number;
  readonly runs: number;
  uninstall(): void;
}

let installed = false;

export function installOrtTimer(): OrtTimer {
  if (installed) throw new Error('an ORT timer is already installed in this process');
  const proto = (ort.InferenceSession as unknown as { prototype: { run: (...args: unknown[]) => Promise<unknown> } }).prototype as { run: (...args: unknown[]) => Promise<unknown> };
  const original = proto.run;
  const state = { ms: 0, runs: 0 };
  proto.run = async function timedRun(this: unknown, ...args: unknown[]) {
    const t0 = performance.now();
    try {
      return await original.apply(this, args);
    } finally {
      state.ms += performance.now() - t0;
      state.runs++;
    }
  };
  installed = true;
  return {
    get ms() {
      return state.ms;
    },
    get runs() {
      return state.runs;
    },
    uninstall() {
      proto.run = original;
      installed = false;
    },
  };
}
