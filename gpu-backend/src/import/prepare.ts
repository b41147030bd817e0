import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BundleManifestSchema } from '../bundle/manifest.ts';
import { MANIFEST_FILE } from '../bundle/load.ts';
import { writeFileAtomic } from '../judge/files.ts';
import { findHeadInput, hasHiddenStates, hiddenStatesFragment, writeWithFragment } from './hidden-states.ts';
import { scanModel } from './onnx-scan.ts';

export interface PrepareResult {
  /** False when the target already had the output (nothing was written). */
  changed: boolean;
  /** The tensor that became `hidden_states`. */
  from?: string;
  targetSha256: string;
}

/**
 * `verdict judge prepare`: gives an existing bundle's target the `hidden_states` output a judge
 * reads (the same surgery `verdict import` does). The new graph is written beside the old one and
 * renamed over it (a hard link to the original export keeps the original), then bundle.json follows.
 */
export async function prepareBundleHidden(bundleDir: string): Promise<PrepareResult> {
  const manifestPath = join(bundleDir, MANIFEST_FILE);
  let manifest;
  try {
    manifest = BundleManifestSchema.parse(JSON.parse(await readFile(manifestPath, 'utf8')));
  } catch (err) {
    throw new Error(`${manifestPath}: not a readable bundle.json (${(err as Error).message})`);
  }
  const targetPath = join(bundleDir, manifest.target.file);
  const scan = await scanModel(targetPath);
  if (hasHiddenStates(scan)) {
    if (!manifest.target.has_hidden_states) {
      await writeFileAtomic(manifestPath, `${JSON.stringify({ ...manifest, target: { ...manifest.target, has_hidden_states: true } }, null, 2)}\n`);
    }
    return { changed: false, targetSha256: manifest.target.sha256 };
  }
  const head = findHeadInput(scan);
  if (head.hiddenSize !== undefined && head.hiddenSize !== manifest.target.hidden_size) {
    throw new Error(`${targetPath}: the LM head ${head.node} reads ${head.hiddenSize}-wide activations, bundle.json's hidden_size is ${manifest.target.hidden_size}`);
  }
  const sha = await writeWithFragment(targetPath, targetPath, hiddenStatesFragment(scan, head, manifest.target.hidden_size));
  const next = { ...manifest, target: { ...manifest.target, sha256: sha, has_hidden_states: true }, meta: { ...manifest.meta, hidden_states_from: head.tensor } };
  await writeFileAtomic(manifestPath, `${JSON.stringify(next, null, 2)}\n`);
  return { changed: true, from: head.tensor, targetSha256: sha };
}
