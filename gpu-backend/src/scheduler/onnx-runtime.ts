import { loadBundle } from '../bundle/load.ts';
import { createEngine } from '../engine/engine.ts';
import type { ServingRuntime } from './runtime.ts';

/** The production runtime: bundles from disk, engines on ONNX Runtime. */
export const runtime: ServingRuntime = { loadBundle, createEngine };
