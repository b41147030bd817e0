import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';

/**
 * sha256 of a file (bench targets are ~200 MB), read through one reused 1 MiB buffer: a read
 * stream would allocate a fresh chunk per read, and those dead chunks (tens of MB for a 200 MB
 * file) stay resident until the next garbage collection, which an idle server may not run for a
 * long time.
 */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.allocUnsafeSlow(1 << 20);
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      hash.update(buf.subarray(0, bytesRead));
    }
  } finally {
    await fh.close();
  }
  return hash.digest('hex');
}

export function sha256Bytes(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}
