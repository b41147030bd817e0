import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { codeMappings, parseSmaps, type CodePagesResult } from '../src/scheduler/code-pages.ts';

const run = promisify(execFile);
const PROBE = fileURLToPath(new URL('./fixtures/code-pages-probe.mts', import.meta.url));
const linux = process.platform === 'linux';
if (!linux && process.env.CI) throw new Error('code-pages.test.ts: CI must run on Linux, where /proc/self/smaps and MADV_PAGEOUT exist');
if (!linux) console.warn('code-pages.test.ts: skipping the release of code pages (Linux-only)');

// Shaped like /proc/self/smaps (fields cut down to those read, and a few that are not).
const SMAPS = `55d0c0000000-55d0c2000000 r--p 00000000 08:01 100 /usr/bin/node
Size:              32768 kB
Rss:               20000 kB
Anonymous:             0 kB
55d0c2000000-55d0c5000000 r-xp 02000000 08:01 100 /usr/bin/node
Anonymous:             0 kB
55d0c5000000-55d0c5100000 r--p 05000000 08:01 100 /usr/bin/node
Anonymous:          1024 kB
55d0c5100000-55d0c5200000 rw-p 05100000 08:01 100 /usr/bin/node
Anonymous:           512 kB
7f0000000000-7f0004000000 rw-p 00000000 00:00 0
Anonymous:         65536 kB
7f1000000000-7f1000100000 r--p 00000000 08:01 200 /models/bench/target.onnx
Anonymous:             0 kB
7f2000000000-7f2000200000 r-xp 00000000 08:01 300 /opt/lib/libonnxruntime.so.1
Anonymous:             0 kB
7f2000200000-7f2000300000 r--s 00200000 08:01 300 /opt/lib/libonnxruntime.so.1
Anonymous:             0 kB
7f3000000000-7f3000100000 r-xp 00000000 08:01 400 /tmp/old.so (deleted)
Anonymous:             0 kB
7ffd00000000-7ffd00002000 r-xp 00000000 00:00 0 [vdso]
Anonymous:             0 kB
`;

describe('codeMappings', () => {
  it("picks the read-only private mappings of files that hold code, and nothing that is data, shared, another file's or gone", () => {
    const maps = parseSmaps(SMAPS);
    expect(maps).toHaveLength(10);
    expect(maps[2]).toMatchObject({ perms: 'r--p', path: '/usr/bin/node', anonKb: 1024 });
    expect(maps[4]).toMatchObject({ perms: 'rw-p', path: '', anonKb: 65536 });
    const picked = codeMappings(maps).map((m) => `${m.start.toString(16)} ${m.perms} ${m.path}`);
    expect(picked).toEqual([
      '55d0c0000000 r--p /usr/bin/node',
      '55d0c2000000 r-xp /usr/bin/node',
      '55d0c5000000 r--p /usr/bin/node', // relocated read-only data: paged out, never unmapped (see releaseCodePages)
      '7f2000000000 r-xp /opt/lib/libonnxruntime.so.1',
    ]);
  });
});

describe('releaseCodePages', () => {
  it.runIf(linux)('pages out most of the resident code, and the engine, ICU, zlib and OpenSSL give the same outputs after it', async () => {
    // A fresh process whose parent (this test runner) runs the same node binary, as npm start or the launcher does:
    // the pages both map are the ones MADV_PAGEOUT leaves and MADV_DONTNEED drops.
    const { stdout } = await run(process.execPath, ['--import', 'tsx', PROBE], { timeout: 120_000 });
    const r = JSON.parse(stdout) as { before: unknown; after: unknown; released: CodePagesResult | string; files: string[] };
    if (typeof r.released === 'string') throw new Error(`no release: ${r.released}`);
    expect(r.files).toContain(process.execPath);
    expect(r.files.some((f) => /libonnxruntime\.so/.test(f))).toBe(true);
    expect(r.released.mappings).toBeGreaterThanOrEqual(r.files.length);
    // The reference: RssFile as the kernel counted it just before; startup leaves tens of MB of code resident.
    expect(r.released.fileBefore).toBeGreaterThan(30 * 2 ** 20);
    expect(r.released.fileAfter).toBeLessThan(0.5 * r.released.fileBefore);
    expect(r.after).toEqual(r.before);
    expect((r.before as { tokens: Record<string, number[]> }).tokens.exact).toHaveLength(24);
  }, 150_000);
});
