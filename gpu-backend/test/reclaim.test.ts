import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { IdleReclaimer, LAST_RESORT_GC, type ReclaimResult } from '../src/scheduler/reclaim.ts';

const run = promisify(execFile);
const PROBE = fileURLToPath(new URL('./fixtures/reclaim-probe.mts', import.meta.url));
const YOUNG_PROBE = fileURLToPath(new URL('./fixtures/young-gen-probe.mts', import.meta.url));
const lastResortGc = LAST_RESORT_GC;
if (!lastResortGc) console.warn(`reclaim.test.ts: skipping the young-generation check (Node ${process.versions.node}'s V8 does not shrink the young generation on request; the Dockerfile's Node 24 does)`);
const glibcLinux = process.platform === 'linux' && Boolean((process.report.getReport() as { header?: { glibcVersionRuntime?: string } }).header?.glibcVersionRuntime);
if (!glibcLinux && process.env.CI) throw new Error('reclaim.test.ts: CI must run on glibc Linux, where malloc_trim exists');
if (!glibcLinux) console.warn('reclaim.test.ts: skipping the malloc_trim measurement (not glibc Linux)');

describe('reclaimNow', () => {
  it.runIf(glibcLinux)('gives freed heap memory back to the OS, which a garbage collection alone does not', async () => {
    // A fresh process, so that glibc's heap holds only the probe's garbage and the malloc settings are the defaults.
    const env = { ...process.env };
    for (const k of Object.keys(env)) if (k.startsWith('MALLOC_')) delete env[k];
    const { stdout } = await run(process.execPath, ['--import', 'tsx', PROBE], { env, timeout: 60_000 });
    const r = JSON.parse(stdout) as { trimNote: string; garbageBytes: number; collectOnly: ReclaimResult; trimmed: ReclaimResult };
    expect(r.trimNote).toBe('');
    expect(r.collectOnly.trimmed).toBe(false);
    expect(r.trimmed.trimmed).toBe(true);
    const freedByGc = r.collectOnly.rssBefore - r.collectOnly.rssAfter;
    const freedByTrim = r.trimmed.rssBefore - r.trimmed.rssAfter;
    // The reference: V8 freed the buffers (into malloc's heap), yet the process kept most of them.
    expect(freedByGc).toBeLessThan(0.4 * r.garbageBytes);
    expect(freedByTrim).toBeGreaterThan(0.6 * r.garbageBytes);
  }, 90_000);

  it.runIf(lastResortGc)('shrinks a worker thread’s young generation back, which a plain full collection leaves grown', async () => {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', YOUNG_PROBE], { timeout: 60_000 });
    const r = JSON.parse(stdout) as { grown: number; after: number };
    expect(r.grown).toBeGreaterThanOrEqual(8 * 2 ** 20); // the reference: allocation grew the semi-spaces
    expect(r.after).toBeLessThanOrEqual(2 ** 20);
  }, 90_000);
});

describe('IdleReclaimer', () => {
  afterEach(() => vi.useRealTimers());

  it('reclaims once a thread has been idle for its delay; work in between cancels it; 0 never reclaims', async () => {
    vi.useFakeTimers();
    const seen: ReclaimResult[] = [];
    const r = new IdleReclaimer(500, (x) => seen.push(x));
    r.idle();
    await vi.advanceTimersByTimeAsync(400);
    r.busy(); // a request came in before the delay was up
    await vi.advanceTimersByTimeAsync(1000);
    expect(seen).toHaveLength(0);
    r.idle();
    await vi.advanceTimersByTimeAsync(499);
    expect(seen).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    await vi.waitFor(() => expect(seen).toHaveLength(1));
    expect(seen[0].gcMs).toBeGreaterThanOrEqual(0);
    await vi.advanceTimersByTimeAsync(5000); // no more work, no more reclaims
    expect(seen).toHaveLength(1);

    const never: ReclaimResult[] = [];
    const off = new IdleReclaimer(0, (x) => never.push(x));
    off.idle();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(never).toHaveLength(0);
    r.dispose();
  });
});
