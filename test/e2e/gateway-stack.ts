import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { TUNED_MALLOC_ENV } from '../../gpu-backend/src/server/launch.mjs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startGateway } from '../../scripts/gateway.mjs';
import { synthBundle } from '../../gpu-backend/src/synth/synth-bundle.ts';
// One reader of Prometheus text and one of SSE bodies for every test project.
export { scrape } from '../../gpu-backend/test/server-helpers.ts';
export { sseEvents } from '../worker/fake-backend.ts';

const ROOT = new URL('../..', import.meta.url).pathname;
const VERDICT = join(ROOT, 'gpu-backend/bin/verdict.mjs');

export { freePort } from '../../gpu-backend/src/bench/gateway-harness.ts';
import { freePort } from '../../gpu-backend/src/bench/gateway-harness.ts';

export async function synthTinyBundle(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const root = await mkdtemp(join(tmpdir(), 'verdict-gw-e2e-'));
  const dir = join(root, 'tiny');
  await promisify(execFile)(process.execPath, [VERDICT, 'synth', '--preset', 'tiny', '--out', dir]);
  return { dir, cleanup: () => rm(root, { recursive: true, force: true }) };
}

/** The tiny preset widened and deepened (same model id): slow enough per token for timing-sensitive tests. */
export async function synthSlowBundle(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const root = await mkdtemp(join(tmpdir(), 'verdict-gw-e2e-slow-'));
  const dir = join(root, 'slow');
  await synthBundle({ preset: 'tiny', out: dir, overrides: { hiddenSize: 512, numHeads: 8, numKvHeads: 2, intermediateSize: 1408, numLayers: 12 } });
  return { dir, cleanup: () => rm(root, { recursive: true, force: true }) };
}

export interface Backend {
  url: string;
  proc: ChildProcess;
  log: () => string;
  kill: () => Promise<void>;
}

/** A real `verdict serve` on a free port, ready (its /readyz answered 200). */
export async function startBackend(bundle: string): Promise<Backend> {
  const port = await freePort();
  // The tuned malloc environment set up front: `verdict serve` then runs in this very process (no re-run child),
  // so kill() below ends the server itself, as a crash would.
  const proc = spawn(process.execPath, [VERDICT, 'serve', '--bundle', bundle, '--port', String(port), '--log-level', 'warn'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...TUNED_MALLOC_ENV },
  });
  let log = '';
  proc.stdout!.on('data', (d) => (log += d));
  proc.stderr!.on('data', (d) => (log += d));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`verdict serve exited (${proc.exitCode}):\n${log}`);
    try {
      if ((await fetch(`${url}/readyz`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`verdict serve not ready in 60 s:\n${log}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const kill = async () => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGKILL');
    await exited;
  };
  return { url, proc, log: () => log, kill };
}

export interface Gateway {
  url: string;
  stop: () => Promise<void>;
}

export async function startGatewayFor(backends: Backend[], apiKeys: string[], vars: Record<string, string> = {}): Promise<Gateway> {
  const g = await startGateway({ backends: backends.map((b) => ({ url: b.url, weight: 1, models: ['*'] })), port: await freePort(), apiKeys, vars, logLevel: 'error' });
  return { url: g.url.href.replace(/\/$/, ''), stop: g.stop };
}

/** Sum of all series of a metric whose name and labels start with `prefix`. */
export function total(metrics: Map<string, number>, prefix: string): number {
  let s = 0;
  for (const [k, v] of metrics) if (k.startsWith(prefix)) s += v;
  return s;
}

export function contentOf(events: string[]): string {
  return events
    .filter((e) => e !== '[DONE]')
    .map((e) => (JSON.parse(e) as { choices?: { delta?: { content?: string } }[] }).choices?.[0]?.delta?.content ?? '')
    .join('');
}

/** Chunks without the parts that differ legitimately between two answers of one generation: the timings. */
export function withoutTimings(events: string[]): unknown[] {
  return events.map((e) => {
    if (e === '[DONE]') return e;
    const { timings: _t, ...rest } = JSON.parse(e) as Record<string, unknown>;
    return rest;
  });
}

export async function waitFor(cond: () => Promise<boolean> | boolean, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await cond()) return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return cond();
}
