/**
 * One file from the Hub to disk: streamed to `<dest>.part` (resumed with a Range request when a
 * part is already there), hashed as it arrives, checked against the listing's size and hash, and
 * renamed into place only when both match. Nothing holds a whole file in memory.
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, rename, stat, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { RepoFile } from './files.ts';

export class IntegrityError extends Error {
  override name = 'IntegrityError';
}

/** What a file's bytes are checked against: sha256 of the content for LFS files, the git blob sha1 otherwise. */
interface Expected {
  size: number;
  algo: 'sha256' | 'git-sha1' | 'none';
  hex?: string;
}

export function expectedOf(f: RepoFile): Expected {
  if (f.lfs) return { size: f.lfs.size, algo: 'sha256', hex: f.lfs.oid.toLowerCase() };
  if (f.oid && /^[0-9a-f]{40}$/i.test(f.oid)) return { size: f.size, algo: 'git-sha1', hex: f.oid.toLowerCase() };
  return { size: f.size, algo: 'none' };
}

function newHash(e: Expected): Hash | undefined {
  if (e.algo === 'none') return undefined;
  if (e.algo === 'sha256') return createHash('sha256');
  // git's blob id: sha1("blob <size>\0" + content)
  return createHash('sha1').update(`blob ${e.size}\0`);
}

async function fileSize(p: string): Promise<number | undefined> {
  try {
    const s = await stat(p);
    return s.isFile() ? s.size : undefined;
  } catch {
    return undefined;
  }
}

async function hashPrefix(path: string, e: Expected, onBytes?: (n: number) => void): Promise<Hash | undefined> {
  const h = newHash(e);
  if (!h) return undefined;
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
    h.update(chunk as Buffer);
    onBytes?.((chunk as Buffer).length);
  }
  return h;
}

export interface DownloadEvents {
  /** Bytes of the file accounted for: received, found in a resumed part, or hashed while checking a file already on disk. */
  onBytes?: (n: number) => void;
  /** A request with a Range header was answered with 200 (the server ignored it): the `dropped` bytes of the part are thrown away and the file restarts at 0. */
  onRestart?: (dropped: number) => void;
}

export type FileOutcome = { status: 'present' | 'downloaded' | 'resumed'; resumedFrom: number; size: number };

/** True when `dest` exists with the expected size and hash. */
export async function alreadyPresent(dest: string, f: RepoFile, events: DownloadEvents = {}): Promise<boolean> {
  const e = expectedOf(f);
  if ((await fileSize(dest)) !== e.size) return false;
  const h = await hashPrefix(dest, e, events.onBytes);
  return !h || h.digest('hex') === e.hex;
}

/**
 * Downloads `url` to `dest` (via `dest.part`) and checks it against `f`. `request(url, headers)`
 * performs the GET and returns the Response, throwing on network failures; a non-2xx answer is
 * passed to `httpError` to build the thrown error.
 */
export async function downloadTo(
  dest: string,
  f: RepoFile,
  request: (headers: Record<string, string>) => Promise<Response>,
  httpError: (res: Response) => Promise<Error>,
  events: DownloadEvents = {},
): Promise<FileOutcome> {
  const e = expectedOf(f);
  if (await alreadyPresent(dest, f, events)) return { status: 'present', resumedFrom: 0, size: e.size };
  await mkdir(dirname(dest), { recursive: true });
  const part = `${dest}.part`;
  let offset = (await fileSize(part)) ?? 0;
  if (offset > e.size) {
    await unlink(part);
    offset = 0;
  }
  let hash = offset > 0 ? await hashPrefix(part, e) : newHash(e);
  if (offset > 0) events.onBytes?.(offset);
  let resumedFrom = offset;
  if (offset < e.size || e.size === 0) {
    const res = await request(offset > 0 ? { range: `bytes=${offset}-` } : {});
    let flags = 'w';
    if (offset > 0 && res.status === 206) {
      const start = /^bytes (\d+)-/.exec(res.headers.get('content-range') ?? '')?.[1];
      if (Number(start) !== offset) {
        await res.body?.cancel();
        throw new IntegrityError(`${f.path}: asked for bytes from ${offset}, the server answered ${res.headers.get('content-range') ?? 'without Content-Range'}; delete ${part} and run again`);
      }
      flags = 'a';
    } else if (res.status === 200 || (offset === 0 && res.status === 206)) {
      if (offset > 0) events.onRestart?.(offset);
      offset = 0;
      resumedFrom = 0;
      hash = newHash(e);
    } else if (res.status === 416) {
      // The part is no prefix the server can continue: start over next time.
      await res.body?.cancel();
      await unlink(part).catch(() => undefined);
      throw new IntegrityError(`${f.path}: the server refused to resume at byte ${offset} (HTTP 416); the partial file was removed, run again`);
    } else {
      throw await httpError(res);
    }
    if (!res.body) throw new IntegrityError(`${f.path}: empty response body`);
    // Each chunk is written (awaited) before the next is read, so whatever arrived before an
    // interruption is on disk for the next run to resume from.
    let received = 0;
    const fh = await open(part, flags);
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        await fh.write(chunk);
        hash?.update(chunk);
        received += chunk.length;
        events.onBytes?.(chunk.length);
      }
    } finally {
      await fh.close();
    }
    offset += received;
  }
  const actual = hash?.digest('hex');
  if (offset !== e.size || (e.hex && actual !== e.hex)) {
    await unlink(part).catch(() => undefined);
    const what = offset !== e.size ? `size ${offset} bytes, expected ${e.size}` : '';
    const hashes = e.hex ? `${e.algo} expected ${e.hex}, got ${actual}` : '';
    throw new IntegrityError(`${f.path}: downloaded file does not match the Hub's listing (${[what, hashes].filter(Boolean).join('; ')}); the partial file was deleted, run again`);
  }
  await rename(part, dest);
  return { status: resumedFrom > 0 ? 'resumed' : 'downloaded', resumedFrom, size: e.size };
}
