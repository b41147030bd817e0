import { mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

export { sha256Bytes, sha256File } from '../bundle/hash.ts';

/** Writes `path` through `path.tmp` + rename, so a reader never sees a half-written file. */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(`${path}.tmp`, data);
  await rename(`${path}.tmp`, path);
}
