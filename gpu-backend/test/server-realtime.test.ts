import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SseParser } from '@verdict/protocol';
import type { RunningServer } from '../src/server/start.ts';
import { postJson, scrape, start, tinyJudgeBundle, waitFor } from './server-helpers.ts';
import { TUNED_MALLOC_ENV } from '../src/server/launch.mjs';

// The real tiny bundle: the HTTP thread stays responsive while workers decode, a client that
// leaves frees its slot, and the CLI drains on SIGTERM.
let server: RunningServer;
let bundleDir: string;
let cleanup: () => Promise<void>;
const MODEL = 'synth-tiny';

beforeAll(async () => {
  const b = await tinyJudgeBundle();
  bundleDir = b.dir;
  cleanup = b.cleanup;
  // One intra-op thread: leave a core to the HTTP thread on a 2-core machine.
  server = await start({ bundle: b.dir, concurrency: 2, intraOpThreads: 1 });
});
afterAll(async () => {
  await server?.close();
  await cleanup?.();
});

describe('real-time behaviour (real tiny bundle)', () => {
  it('keeps the event loop responsive while two streams decode', async () => {
    // Warm up first: the first fetch in a process loads its HTTP client synchronously.
    await (await postJson(`${server.url}/v1/completions`, { model: MODEL, prompt: 'warm', max_tokens: 2, stream: true })).text();
    const h = monitorEventLoopDelay({ resolution: 5 });
    h.enable();
    const started = performance.now();
    // Decode pairs of concurrent streams until the workers have done enough engine work for the
    // event-loop figures to mean something. The test waits on work done, not on a duration, so a
    // fast machine does more rounds instead of failing.
    const ENGINE_WORK_MS = 300;
    let engineMs = 0;
    let rounds = 0;
    while (engineMs < ENGINE_WORK_MS && rounds < 20) {
      const bodies = await Promise.all(
        [1, 2].map(() =>
          postJson(`${server.url}/v1/completions`, { model: MODEL, prompt: 'go', max_tokens: 120, temperature: 0, stream: true, speculative: { mode: 'target' } }).then((r) => r.text()),
        ),
      );
      engineMs += bodies
        .map((b) => JSON.parse(new SseParser().push(b).at(-2)!.data).timings)
        .reduce((s, t) => s + t.prefill_ms + t.draft_ms + t.verify_ms + t.judge_ms, 0);
      rounds++;
    }
    h.disable();
    const wallMs = performance.now() - started;
    const maxMs = h.max / 1e6;
    const p90Ms = h.percentile(90) / 1e6;
    const p99Ms = h.percentile(99) / 1e6;
    console.log(`event loop during ${wallMs.toFixed(0)} ms of streaming (${rounds} rounds, ${engineMs.toFixed(0)} ms of engine work, ${h.count} samples): max delay ${maxMs.toFixed(1)} ms, p90 ${p90Ms.toFixed(1)} ms, p99 ${p99Ms.toFixed(1)} ms`);
    // Loose bounds: CI machines are shared. The sharp version (steps that block for 250 ms) is in
    // server-lifecycle.test.ts; here the point is the real engine in real workers. Over a window
    // of ~60 samples a p99 is the single worst one, which a loaded machine's scheduling alone once
    // pushed to 110 ms; a p90 needs six bad samples, i.e. a loop that is busy, not one hiccup.
    expect(engineMs, `20 rounds of two 120-token streams did less than ${ENGINE_WORK_MS} ms of engine work`).toBeGreaterThanOrEqual(ENGINE_WORK_MS);
    expect(maxMs).toBeLessThan(250);
    expect(p90Ms).toBeLessThan(50);
  });

  it('a client that disconnects mid-stream stops its generation and frees its slot', async () => {
    const before = await scrape(server.url);
    const ctl = new AbortController();
    const res = await postJson(`${server.url}/v1/completions`, { model: MODEL, prompt: 'long', max_tokens: 480, temperature: 0, stream: true, speculative: { mode: 'target' } }, { signal: ctl.signal });
    const reader = res.body!.getReader();
    const parser = new SseParser();
    let chunks = 0;
    while (chunks < 4) chunks += parser.push(new TextDecoder().decode((await reader.read()).value)).length;
    ctl.abort();
    await waitFor(async () => (await scrape(server.url)).get('verdict_requests_running') === 0);
    const after = await scrape(server.url);
    expect(after.get('verdict_queue_depth')).toBe(0);
    const generated = (after.get('verdict_generation_tokens_total{mode="target"}') ?? 0) - (before.get('verdict_generation_tokens_total{mode="target"}') ?? 0);
    expect(generated).toBeGreaterThanOrEqual(3);
    expect(generated).toBeLessThan(480);
    // Nothing more is generated after the slot is freed.
    await new Promise((r) => setTimeout(r, 200));
    expect((await scrape(server.url)).get('verdict_generation_tokens_total{mode="target"}')).toBe(after.get('verdict_generation_tokens_total{mode="target"}'));
    expect((await scrape(server.url)).get('verdict_requests_total{route="/v1/completions",status="499"}')).toBeGreaterThanOrEqual(1);
    // And the server still serves.
    const ok = await postJson(`${server.url}/v1/completions`, { model: MODEL, prompt: 'again', max_tokens: 3 });
    expect(ok.status).toBe(200);
  });

  it('a non-streaming client that disconnects stops its generation too', async () => {
    const before = await scrape(server.url);
    const ctl = new AbortController();
    const pending = postJson(`${server.url}/v1/completions`, { model: MODEL, prompt: 'long', max_tokens: 480, temperature: 0, speculative: { mode: 'target' } }, { signal: ctl.signal }).catch(() => null);
    await waitFor(async () => (await scrape(server.url)).get('verdict_requests_running') === 1);
    ctl.abort();
    await pending;
    await waitFor(async () => (await scrape(server.url)).get('verdict_requests_running') === 0);
    const after = await scrape(server.url);
    const generated = (after.get('verdict_generation_tokens_total{mode="target"}') ?? 0) - (before.get('verdict_generation_tokens_total{mode="target"}') ?? 0);
    expect(generated).toBeLessThan(480);
  });

  it('`verdict serve` logs JSON lines, serves, and exits 0 on SIGTERM', async () => {
    const bin = fileURLToPath(new URL('../bin/verdict.mjs', import.meta.url));
    const child = spawn(process.execPath, [bin, 'serve', '--bundle', bundleDir, '--port', '0', '--drain-timeout-ms', '2000', '--idle-reclaim-ms', '50'], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, VERDICT_LOG_LEVEL: 'debug' },
    });
    const lines: Record<string, unknown>[] = [];
    let onLine = () => {};
    const ready = new Promise<string>((resolve, reject) => {
      let url = '';
      createInterface({ input: child.stdout! }).on('line', (l) => {
        const rec = JSON.parse(l) as Record<string, unknown>;
        lines.push(rec);
        onLine();
        if (rec.msg === 'listening') url = String(rec.url);
        if (rec.msg === 'ready') resolve(url);
      });
      child.once('exit', (code) => reject(new Error(`verdict serve exited early with ${code}`)));
    });
    const url = await ready;
    const res = await postJson(`${url}/v1/completions`, { model: MODEL, prompt: 'hi', max_tokens: 4 });
    expect(res.status).toBe(200);
    // Idle after the request: the HTTP thread and the worker each collect and trim once (debug log lines).
    const served = lines.findIndex((l) => l.msg === 'request');
    const reclaims = () => lines.slice(served).filter((l) => l.msg === 'idle reclaim');
    await new Promise<void>((resolve) => {
      onLine = () => reclaims().length >= 2 && resolve();
      onLine();
    });
    expect(reclaims().map((l) => (l.thread === 'http' ? 'http' : `worker ${l.worker}`)).sort()).toEqual(['http', 'worker 0']);
    for (const l of reclaims()) expect(l).toMatchObject({ level: 'debug', trimmed: true, gc_ms: expect.any(Number), rss_before_mb: expect.any(Number), rss_after_mb: expect.any(Number) });
    child.kill('SIGTERM');
    const [code] = await once(child, 'exit');
    expect(code).toBe(0);
    const req = lines.find((l) => l.msg === 'request' && l.route === '/v1/completions');
    expect(req).toMatchObject({ level: 'info', status: 200, completion_tokens: 4, prompt_tokens: expect.any(Number), request_id: expect.any(String) });
    expect(lines.at(-1)!.msg).toBe('stopped');
  });

  it('a launcher that is killed outright takes its re-run server with it (no server left serving unseen)', async () => {
    const bin = fileURLToPath(new URL('../bin/verdict.mjs', import.meta.url));
    const env: NodeJS.ProcessEnv = { ...process.env, VERDICT_LOG_LEVEL: 'info' };
    for (const k of Object.keys(TUNED_MALLOC_ENV)) delete env[k];
    const launcher = spawn(process.execPath, [bin, 'serve', '--bundle', bundleDir, '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'], env });
    const server = await new Promise<{ pid: number; url: string }>((resolve, reject) => {
      let pid = 0;
      let url = '';
      createInterface({ input: launcher.stdout! }).on('line', (l) => {
        const rec = JSON.parse(l) as Record<string, unknown>;
        if (rec.msg === 'listening') [pid, url] = [Number(rec.pid), String(rec.url)];
        if (rec.msg === 'ready') resolve({ pid, url });
      });
      launcher.once('exit', (code) => reject(new Error(`verdict serve exited early with ${code}`)));
    });
    expect(server.pid).not.toBe(launcher.pid); // re-run with the tuned malloc environment
    const environ = (await readFile(`/proc/${server.pid}/environ`, 'utf8')).split('\0');
    for (const [k, v] of Object.entries(TUNED_MALLOC_ENV)) expect(environ).toContain(`${k}=${v}`);
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    launcher.kill('SIGKILL');
    await once(launcher, 'exit');
    // The server's port closes once it has exited (a zombie pid could still answer kill(pid, 0)).
    await waitFor(() => fetch(`${server.url}/healthz`).then(() => false, () => true), 5000);
  });
  it('runs the server in place when the environment already has the tuned malloc settings (as the Dockerfile sets them)', async () => {
    const bin = fileURLToPath(new URL('../bin/verdict.mjs', import.meta.url));
    const env: NodeJS.ProcessEnv = { ...process.env, ...TUNED_MALLOC_ENV, VERDICT_LOG_LEVEL: 'info' };
    const child = spawn(process.execPath, [bin, 'serve', '--bundle', bundleDir, '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'], env });
    const pid = await new Promise<number>((resolve, reject) => {
      createInterface({ input: child.stdout! }).on('line', (l) => {
        const rec = JSON.parse(l) as Record<string, unknown>;
        if (rec.msg === 'listening') resolve(Number(rec.pid));
      });
      child.once('exit', (code) => reject(new Error(`verdict serve exited early with ${code}`)));
    });
    expect(pid).toBe(child.pid);
    child.kill('SIGTERM');
    await once(child, 'exit');
  });
});
