import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

export { sha256Bytes, sha256File } from '../bundle/hash.ts';

/**
 * Writes `path` through `path.tmp` + rename, so a reader never sees a half-written file (and a
 * failed write leaves no `.tmp` behind). `data` may be chunks, written in order.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array | Iterable<Uint8Array>): Promise<void> {
  const tmp = `${path}.tmp`;
  await mkdir(dirname(path), { recursive: true });
  try {
    await writeFile(tmp, data);
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}
