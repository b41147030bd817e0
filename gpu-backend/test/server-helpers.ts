import OpenAI from 'openai';
import { writeFile, mkdtemp, rm } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { synthBundle } from '../src/synth/synth-bundle.ts';
import { startServer, type RunningServer } from '../src/server/start.ts';
import type { ServeConfigInput } from '../src/server/config.ts';
import { SOURCE_RUNTIME, type RuntimeModules } from '../src/scheduler/runtime.ts';

/**
 * The real tiny synthetic bundle, plus a judge head that accepts every draft token
 * (zero weights, bias +10), so judge mode runs and judge-only acceptances happen.
 */
export async function tinyJudgeBundle(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const root = await mkdtemp(join(tmpdir(), 'verdict-server-'));
  const { dir } = await synthBundle({
    preset: 'tiny',
    out: join(root, 'tiny'),
    seed: 0,
    extraSteps: [
      async ({ dir: d, manifest }) => {
        const head = { format: 'verdict-judge/1', hidden_size: manifest.target.hidden_size, weights: new Array(manifest.target.hidden_size).fill(0), bias: 10, threshold: 0.5, target_sha256: manifest.target.sha256 };
        const text = JSON.stringify(head);
        await writeFile(join(d, 'judge.json'), text);
        manifest.judge = { file: 'judge.json', sha256: createHash('sha256').update(text).digest('hex') };
      },
    ],
  });
  return { dir, cleanup: () => rm(root, { recursive: true, force: true }) };
}

/** The test double (test/fixtures), for scheduling behaviour the real tiny model is too fast to show. */
export const FAKE_RUNTIME: RuntimeModules = {
  ...SOURCE_RUNTIME,
  bundle: new URL('./fixtures/fake-bundle.ts', import.meta.url).href,
  engine: new URL('./fixtures/fake-engine.ts', import.meta.url).href,
};

export async function start(config: Partial<ServeConfigInput> & { bundle: string }, runtime?: RuntimeModules): Promise<RunningServer> {
  const s = await startServer({ port: 0, logLevel: 'silent', ...config }, runtime);
  await s.ready;
  return s;
}

export function postJson(url: string, body: unknown, init: RequestInit = {}): Promise<Response> {
  return fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body), ...init });
}

/** Prometheus text -> { 'name{labels}': value }. */
export async function scrape(base: string): Promise<Map<string, number>> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

export async function waitFor(cond: () => Promise<boolean> | boolean, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** `verdict serve` in-process on the tiny judge bundle (concurrency 2), with the official OpenAI SDK pointed at it. */
export interface TinySdkServer {
  server: RunningServer;
  client: OpenAI;
  close(): Promise<void>;
}

export async function openTinySdkServer(): Promise<TinySdkServer> {
  const b = await tinyJudgeBundle();
  const server = await start({ bundle: b.dir, concurrency: 2 }).catch(async (err) => {
    await b.cleanup();
    throw err;
  });
  return {
    server,
    client: new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'unused', maxRetries: 0 }),
    async close() {
      await server.close();
      await b.cleanup();
    },
  };
}
