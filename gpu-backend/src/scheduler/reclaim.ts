import { readFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

// Why this exists (docs/performance.md, "Memory of verdict serve"): every forward leaves freed
// buffers behind (ORT's output tensors, the JS copies of logits and KV). V8 frees the JS side only
// when it next collects, which an idle server may not do for a long time, and glibc keeps freed
// small blocks in its heaps, whose holes it never returns by itself. Between bursts of work a
// server thus holds tens of MB it does not use. Once a thread has been idle for a moment, one
// full collection and malloc_trim(0) (which gives every free page of every heap back) return it.

/** `--idle-reclaim-ms`'s default: long enough that back-to-back requests never pay for one. */
export const DEFAULT_IDLE_RECLAIM_MS = 500;

/** What one reclaim did. */
export interface ReclaimResult {
  gcMs: number;
  trimMs: number;
  /** false where malloc_trim is not available or not loaded: see {@link loadTrim}. */
  trimmed: boolean;
  rssBefore: number;
  rssAfter: number;
}

type Trim = (pad: number) => number;
let trimFn: Trim | null | undefined;
let trimWhy = '';

/**
 * Loads glibc's malloc_trim through koffi (once per thread; call before {@link reclaimNow}). Resolves
 * to '' when it is there, or to why not (not glibc, or the FFI could not load); reclaiming then
 * only collects.
 */
export async function loadTrim(): Promise<string> {
  if (trimFn !== undefined) return trimWhy;
  trimFn = null;
  const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header;
  if (process.platform !== 'linux' || !header?.glibcVersionRuntime) {
    trimWhy = 'malloc_trim is glibc-only (this is not a glibc Linux)';
    return trimWhy;
  }
  try {
    const { default: koffi } = await import('koffi');
    trimFn = koffi.load('libc.so.6').func('int malloc_trim(size_t pad)') as Trim;
  } catch (err) {
    trimWhy = `could not load malloc_trim through koffi: ${(err as Error).message}`;
  }
  return trimWhy;
}

type GcFn = (options?: { type: 'major'; execution: 'sync'; flavor: 'last-resort' }) => void;
let gcFn: GcFn | undefined;
/**
 * Node 24's V8 has gc({ flavor: 'last-resort' }): collect-all-available-garbage, repeated full
 * collections that also shrink the young generation back to its minimum. A plain full collection
 * leaves the semi-spaces at the size decoding grew them to (a worker kept 6–7 MiB of empty
 * new-space pages until V8's memory reducer ran, if it did). Node 20's V8 ignores the flavour, and
 * with an options bag there the trim after it gave back 4 MB of 100 MB of dead ArrayBuffers
 * (reclaim.test.ts failed; with the plain gc() it gives back all of it): there the plain call stays.
 * It costs more: on Node 24 with the bench bundle, 89–125 ms in the worker and 132–141 ms in the
 * HTTP thread, against 26–64 ms for the plain collection. Only workers ask for it: the HTTP
 * thread's young generation was back at its minimum after a plain one, and its event loop is
 * what every client waits on.
 */
export const LAST_RESORT_GC = Number(process.versions.node.split('.')[0]) >= 24;

/** V8's gc(): --expose-gc is read when a context is made, so a fresh context hands it over. */
function collect(lastResort: boolean): void {
  if (!gcFn) {
    setFlagsFromString('--expose-gc');
    gcFn = runInNewContext('gc') as GcFn;
  }
  if (lastResort && LAST_RESORT_GC) gcFn({ type: 'major', execution: 'sync', flavor: 'last-resort' });
  else gcFn();
}

/** A `kB` field of /proc/self/status (VmRSS, RssFile, …) in bytes; undefined where there is none (not Linux). */
export function procStatusBytes(field: string): number | undefined {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]) * 1024;
  } catch {
    /* not Linux */
  }
  return undefined;
}

const rssBytes = () => procStatusBytes('VmRSS') ?? process.memoryUsage.rss();

export interface ReclaimOptions {
  trim?: boolean;
  lastResort?: boolean;
}

/**
 * A full collection of this thread's isolate, then malloc_trim(0) for the whole process. The
 * collection blocks this thread; the trim waits one turn of the event loop, by which V8 has handed
 * the dead ArrayBuffers' memory back to malloc. `trim: false` only collects (for comparison);
 * `lastResort: true` asks for V8's last-resort collection where the runtime has it ({@link LAST_RESORT_GC}).
 */
export async function reclaimNow(opts: ReclaimOptions = {}): Promise<ReclaimResult> {
  const trim = opts.trim === false ? null : trimFn;
  const rssBefore = rssBytes();
  const t0 = performance.now();
  collect(opts.lastResort === true);
  const gcMs = performance.now() - t0;
  await new Promise((r) => setImmediate(r));
  const t1 = performance.now();
  if (trim) trim(0);
  const trimMs = performance.now() - t1;
  return { gcMs, trimMs, trimmed: Boolean(trim), rssBefore, rssAfter: rssBytes() };
}

/**
 * Runs {@link reclaimNow} once a thread has stayed idle for `delayMs` after its last piece of work
 * (`busy()` … `idle()`); new work before then cancels it. `delayMs` 0 turns it off. The timer is
 * unref'd: it never keeps a process alive.
 */
export class IdleReclaimer {
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly delayMs: number,
    private readonly onReclaim: (r: ReclaimResult) => void = () => {},
    private readonly opts: ReclaimOptions = {},
  ) {}

  busy(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  idle(): void {
    if (this.delayMs <= 0) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void reclaimNow(this.opts).then(this.onReclaim, () => {}); // nothing in it can throw but the FFI; a failed reclaim is only a missed one
    }, this.delayMs);
    this.timer.unref();
  }

  dispose(): void {
    this.busy();
  }
}

/** A reclaim as log fields. */
export function reclaimFields(r: ReclaimResult): Record<string, number | boolean> {
  return { gc_ms: round(r.gcMs), trim_ms: round(r.trimMs), trimmed: r.trimmed, rss_before_mb: round(r.rssBefore / 2 ** 20), rss_after_mb: round(r.rssAfter / 2 ** 20) };
}

const round = (x: number) => Math.round(x * 10) / 10;
