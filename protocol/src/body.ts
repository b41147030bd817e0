/**
 * Request bodies over a size limit, for the gateway and the backend alike (Web streams only). Answering a 413
 * while the client is still uploading races the upload: a server that closes the connection before the body
 * is in makes the client see "other side closed" (EPIPE/ECONNRESET) instead of its error. So an oversized body is
 * read to the end and thrown away, up to a bound, before the 413 is sent; past the bound the server gives up.
 */
export interface DrainBound {
  /** Most bytes read and discarded after the limit was crossed. */
  maxBytes: number;
  /** Longest time spent discarding. */
  maxMs: number;
}

export const DEFAULT_DRAIN: DrainBound = { maxBytes: 64 * 1024 * 1024, maxMs: 10_000 };

/** Reads and discards the rest of a body, within `bound`. Resolves whether it reached the end. */
export async function drainBody(reader: ReadableStreamDefaultReader<Uint8Array>, bound: DrainBound = DEFAULT_DRAIN): Promise<boolean> {
  let read = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), bound.maxMs)));
  try {
    for (;;) {
      const r = await Promise.race([reader.read(), timeout]);
      if (r === 'timeout') break;
      if (r.done) return true;
      read += r.value.byteLength;
      if (read > bound.maxBytes) break;
    }
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
  await reader.cancel().catch(() => {});
  return false;
}

/**
 * A request's body, if it is at most `maxBytes`: a Content-Length over the limit is refused before anything is
 * read, and a body without one is counted as it is read. Over the limit the rest is drained (`drainBody`) and
 * the result is null, so the caller answers 413 to a client that can read it. Otherwise the body's bytes.
 */
export async function readBodyWithin(request: Request, maxBytes: number, bound: DrainBound = DEFAULT_DRAIN): Promise<Uint8Array | null> {
  if (!request.body) return new Uint8Array(0);
  const declared = request.headers.get('content-length');
  const reader = request.body.getReader();
  if (declared !== null && Number(declared) > maxBytes) {
    await drainBody(reader, bound);
    return null;
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const r = await reader.read();
      if (r.done) break;
      size += r.value.byteLength;
      if (size > maxBytes) {
        await drainBody(reader, bound);
        return null;
      }
      chunks.push(r.value);
    }
  } finally {
    try {
      reader.releaseLock();
    } catch {
      // already released by a cancel
    }
  }
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}
