import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadBundle, MANIFEST_FILE } from '../bundle/load.ts';
import type { LoadedBundle } from '../bundle/types.ts';
import type { PresetName } from '../synth/presets.ts';
import { synthBundle, type SynthProgress } from '../synth/synth-bundle.ts';

/**
 * The bundle at `dir`, built from the synthetic `preset` first when it is missing. A bundle that
 * exists is used as it is (delete the directory to rebuild it).
 */
export async function ensureBundle(dir: string, preset: PresetName, onProgress?: (p: SynthProgress) => void): Promise<{ bundle: LoadedBundle; built: boolean }> {
  let built = false;
  if (!existsSync(join(dir, MANIFEST_FILE))) {
    if (existsSync(dir)) throw new Error(`${dir} exists but has no ${MANIFEST_FILE}; remove it or pass another --bundle`);
    await synthBundle({ preset, out: dir, onProgress });
    built = true;
  }
  return { bundle: await loadBundle(dir), built };
}
