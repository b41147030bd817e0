import { readFileSync } from 'node:fs';
import { procStatusBytes } from './reclaim.ts';

// Why this exists (docs/performance.md, "Code read once at startup"): RSS counts every page of
// code the process ever touched and the kernel has not yet taken back. Starting a server touches
// far more of node, V8 and onnxruntime than serving does: module loading, the startup snapshot,
// onnxruntime's graph optimisers and session setup. Measured on the bench bundle, about 40 MiB of
// node's and libonnxruntime's pages were never needed again. The kernel would reclaim them only
// under memory pressure; MADV_PAGEOUT asks it to do so now (and MADV_DONTNEED drops what another
// process maps too). What serving needs comes back on first touch, read from the file again (the
// first requests pay for it once).

/** MADV_PAGEOUT, Linux 5.4+: reclaim these pages now (clean file pages are dropped, anonymous ones swapped if there is swap). */
const MADV_PAGEOUT = 21;
/** MADV_DONTNEED: unmap these pages from this process; a private file mapping reads them from the file again on next touch. */
const MADV_DONTNEED = 4;

/** One mapping of /proc/self/smaps. */
export interface Mapping {
  start: number;
  end: number;
  perms: string;
  path: string;
  /** Anonymous (copy-on-write) kB in it. */
  anonKb: number;
}

/** Parses /proc/<pid>/smaps text. */
export function parseSmaps(text: string): Mapping[] {
  const out: Mapping[] = [];
  for (const line of text.split('\n')) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) \S+ \S+ \d+\s*(.*)$/.exec(line);
    if (m) out.push({ start: parseInt(m[1], 16), end: parseInt(m[2], 16), perms: m[3], path: m[4], anonKb: 0 });
    else if (line.startsWith('Anonymous:') && out.length) out[out.length - 1].anonKb = parseInt(line.slice(10), 10);
  }
  return out;
}

/**
 * The mappings worth paging out: the read-only, private mappings of every file that this process
 * runs code from (node itself and every shared library: their text, read-only data and unwind
 * tables). Writable mappings (data, bss) and files without executable code (a mapped model, say) are
 * left alone. Such mappings go away only when a library is unloaded (dlclose), which nothing in the
 * server does, so none can turn into other memory between reading smaps and advising it.
 */
export function codeMappings(maps: readonly Mapping[]): Mapping[] {
  const isFile = (m: Mapping) => m.path.startsWith('/') && !m.path.endsWith(' (deleted)');
  const withCode = new Set(maps.filter((m) => isFile(m) && m.perms[2] === 'x').map((m) => m.path));
  return maps.filter((m) => withCode.has(m.path) && m.perms[1] === '-' && m.perms[3] === 'p');
}

/** What one release did. */
export interface CodePagesResult {
  mappings: number;
  /** RssFile before and after (bytes). */
  fileBefore: number;
  fileAfter: number;
  ms: number;
}

type Madvise = (addr: number, length: number, advice: number) => number;

/**
 * Pages out the resident code of this process ({@link codeMappings}). Resolves to what it did, or
 * to a string saying why it could not (not Linux, no FFI, no /proc, a kernel without MADV_PAGEOUT);
 * it never throws. Process wide: one call covers every thread.
 */
export async function releaseCodePages(): Promise<CodePagesResult | string> {
  if (process.platform !== 'linux') return 'releasing code pages is Linux-only';
  let madvise: Madvise;
  let errno: () => number;
  try {
    const { default: koffi } = await import('koffi');
    madvise = koffi.load('libc.so.6').func('int madvise(uintptr_t addr, size_t length, int advice)') as Madvise;
    errno = () => koffi.errno();
  } catch (err) {
    return `could not load madvise through koffi: ${(err as Error).message}`;
  }
  const t0 = performance.now();
  const fileBefore = rssFileBytes();
  let targets: Mapping[];
  try {
    targets = codeMappings(parseSmaps(readFileSync('/proc/self/smaps', 'utf8')));
  } catch (err) {
    return `could not read /proc/self/smaps: ${(err as Error).message}`;
  }
  let mappings = 0;
  let refused = 0;
  for (const m of targets) {
    const ok = madvise(m.start, m.end - m.start, MADV_PAGEOUT) === 0;
    // Pages that another process maps too (a parent npm or launcher, running the same node) are
    // skipped by MADV_PAGEOUT; MADV_DONTNEED drops this process's mapping of them. On a private
    // file mapping it would also throw away copy-on-write changes, hence only where there are none.
    if (ok && m.anonKb === 0) madvise(m.start, m.end - m.start, MADV_DONTNEED);
    if (ok) mappings++;
    else if (errno() === 22) refused++; // EINVAL: no MADV_PAGEOUT in this kernel, or a locked mapping
    // ENOMEM: the mapping went away since /proc/self/smaps was read (a library unloaded); nothing to release there.
  }
  if (mappings === 0 && refused > 0) return 'madvise(MADV_PAGEOUT) refused every mapping: the kernel predates Linux 5.4, or the memory is locked (mlock)';
  return { mappings, fileBefore, fileAfter: rssFileBytes(), ms: performance.now() - t0 };
}

const rssFileBytes = () => procStatusBytes('RssFile') ?? 0;

/** A release as log fields. */
export function codePagesFields(r: CodePagesResult): Record<string, number> {
  const mb = (b: number) => Math.round((b / 2 ** 20) * 10) / 10;
  return { mappings: r.mappings, file_rss_before_mb: mb(r.fileBefore), file_rss_after_mb: mb(r.fileAfter), ms: Math.round(r.ms * 10) / 10 };
}
