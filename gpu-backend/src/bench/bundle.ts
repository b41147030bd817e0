import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadBundle, MANIFEST_FILE } from '../bundle/load.ts';
import type { LoadedBundle } from '../bundle/types.ts';
import { trainBundleJudge } from '../judge/bundle-judge.ts';
import { PRESETS, type PresetName } from '../synth/presets.ts';
import { synthBundle } from '../synth/synth-bundle.ts';

export interface EnsuredBundle {
  bundle: LoadedBundle;
  /** What this call had to do: build the models, train the judge head. */
  built: boolean;
  trainedJudge: boolean;
  /** Set when a synthetic bundle was built from an older version of its preset: what differs. */
  stale?: string;
}

/** Config fields of a synthetic bundle that differ from the preset as it is defined now. */
function staleness(bundle: LoadedBundle, preset: PresetName): string | undefined {
  const synth = bundle.manifest.meta?.synth as { preset?: string; config?: Record<string, unknown> } | undefined;
  if (!synth?.config || synth.preset !== preset) return undefined;
  const now = PRESETS[preset] as unknown as Record<string, unknown>;
  // A field the bundle did not record was added to the presets later, off by default when it came:
  // it counts as a difference only if the preset turns it on now.
  const recorded = synth.config;
  const diffs = [...new Set([...Object.keys(now), ...Object.keys(recorded)])]
    .filter((k) => (k in recorded ? k in now && JSON.stringify(now[k]) !== JSON.stringify(recorded[k]) : Boolean(now[k])))
    .map((k) => `${k} ${JSON.stringify(synth.config?.[k])} (preset now ${JSON.stringify(now[k])})`);
  return diffs.length ? diffs.join(', ') : undefined;
}

/**
 * The bundle at `dir`, built from the synthetic `preset` first when it is missing. A synthetic bundle
 * without a judge head gets one trained on its own models (mine → collect → train), so judge mode can
 * be measured. A bundle that is not synthetic is used exactly as it is.
 */
export async function ensureBundle(dir: string, preset: PresetName, log: (line: string) => void = () => {}): Promise<EnsuredBundle> {
  let built = false;
  if (!existsSync(join(dir, MANIFEST_FILE))) {
    if (existsSync(dir)) throw new Error(`${dir} exists but has no ${MANIFEST_FILE}; remove it or pass another --bundle`);
    log(`bench: building the '${preset}' synthetic bundle in ${dir}`);
    await synthBundle({ preset, out: dir });
    built = true;
  }
  let bundle = await loadBundle(dir);
  let trainedJudge = false;
  if (!bundle.judge && !bundle.manifest.target.has_judge_logits && bundle.manifest.meta?.synth != null) {
    log(`bench: training a judge head for ${dir}`);
    await trainBundleJudge(dir, { log });
    bundle = await loadBundle(dir);
    trainedJudge = true;
  }
  const stale = staleness(bundle, preset);
  if (stale) log(`bench: ${dir} was built from an older '${preset}' preset (${stale}); delete it to rebuild`);
  return { bundle, built, trainedJudge, stale };
}
