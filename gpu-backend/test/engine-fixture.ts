import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadBundle } from '../src/bundle/load.ts';
import type { LoadedBundle } from '../src/bundle/types.ts';
import { synthBundle } from '../src/synth/synth-bundle.ts';
import { createEngine, greedyRequest, type Engine } from '../src/engine/engine.ts';
import type { DecodeEvent, DecodeRequest } from '../src/engine/types.ts';

/** The tiny bundle (seed 0), plus the same bundle with a draft of independent random weights (seed 1). */
export async function tinyBundles(): Promise<{ good: LoadedBundle; badDraft: LoadedBundle; cleanup: () => Promise<void> }> {
  const root = await mkdtemp(join(tmpdir(), 'verdict-engine-'));
  const a = await synthBundle({ preset: 'tiny', out: join(root, 'a'), seed: 0 });
  const b = await synthBundle({ preset: 'tiny', out: join(root, 'b'), seed: 1 });
  const good = await loadBundle(a.dir);
  const other = await loadBundle(b.dir);
  const badDraft: LoadedBundle = { ...good, draftPath: other.draftPath, manifest: { ...good.manifest, draft: other.manifest.draft } };
  return { good, badDraft, cleanup: () => rm(root, { recursive: true, force: true }) };
}

export interface Run {
  tokens: number[];
  text: string;
  finishReason: string;
  steps: Extract<DecodeEvent, { type: 'step' }>[];
  done: Extract<DecodeEvent, { type: 'done' }>;
}

export async function run(engine: Engine, promptIds: number[], over: Partial<DecodeRequest> = {}, signal?: AbortSignal): Promise<Run> {
  const steps: Run['steps'] = [];
  let done: Run['done'] | undefined;
  for await (const ev of engine.decode(greedyRequest(promptIds, over), signal)) {
    if (ev.type === 'step') steps.push(ev);
    if (ev.type === 'done') done = ev;
  }
  if (!done) throw new Error('decode ended without a done event');
  return { tokens: done.tokens, text: done.text, finishReason: done.finishReason, steps, done };
}

/** One ORT thread per session: the CI machine has 2 cores and test files run in parallel. */
export const ONE_THREAD = { intraOpThreads: 1 } as const;

export const zeroHead = (hidden: number, bias: number) => ({ weights: new Array(hidden).fill(0), bias, threshold: 0.5 });

/** {@link tinyBundles} with an engine on each (one ORT thread) and three prompts: what the engine test files share. */
export interface TinyEngines {
  good: LoadedBundle;
  badDraft: LoadedBundle;
  engine: Engine;
  badEngine: Engine;
  prompts: number[][];
  dispose(): Promise<void>;
}

export async function openTinyEngines(): Promise<TinyEngines> {
  const { good, badDraft, cleanup } = await tinyBundles();
  const engine = await createEngine(good, ONE_THREAD);
  const badEngine = await createEngine(badDraft, ONE_THREAD);
  const prompts = ['hello world', 'the quick brown fox', 'a'].map((t) => good.encodePrompt(t));
  return {
    good,
    badDraft,
    engine,
    badEngine,
    prompts,
    async dispose() {
      await engine.dispose();
      await badEngine.dispose();
      await cleanup();
    },
  };
}
