import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The real TinyStories decoders in `../shared/models/tinystories-ple` (third-party test data, never
 * copied into the repository). Tests that need them use `describe.skipIf(!HAVE_PLE)`. Outside CI a
 * fresh clone without `../shared` skips them with a message; in CI (where `../shared` is always laid
 * beside the clone) their absence is an error, so they can never skip silently there.
 */
export const PLE_ROOT = fileURLToPath(new URL('../../../shared/models/tinystories-ple/', import.meta.url));

export const PLE = {
  /** The draft (val loss 2.11). */
  c1M: join(PLE_ROOT, 'ple-c1M-s0'),
  /** An evaluator between draft and target (2.04). */
  c2M: join(PLE_ROOT, 'ple-c2M-s0'),
  /** The target (2.00). */
  c3M: join(PLE_ROOT, 'ple-c3M-s0'),
  /** An 8-layer evaluator (2.06). */
  L8: join(PLE_ROOT, 'ple-L8-s0'),
} as const;

export const HAVE_PLE = Object.values(PLE).every((dir) => existsSync(join(dir, 'onnx', 'model.onnx')));

if (!HAVE_PLE) {
  const msg = `the real TinyStories models are not at ${PLE_ROOT}; tests that need them are skipped`;
  if (process.env.CI) throw new Error(`${msg} — but CI must have them (../shared beside the clone)`);
  console.warn(`[verdict tests] ${msg}`);
}
