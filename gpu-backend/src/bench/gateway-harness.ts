import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { startServer, type RunningServer } from '../server/start.ts';

/** The repository root (the gateway worker's package): gpu-backend/src/bench → ../../.. */
const REPO_ROOT = resolve(fileURLToPath(new URL('../../..', import.meta.url)));

export interface GatewayStack {
  backendUrl: string;
  gatewayUrl: string;
  /** Sent as `Authorization: Bearer …` to the gateway (a throwaway key whose hash the gateway is given). */
  apiKey: string;
  model: string;
  close(): Promise<void>;
}

/** The slice of Miniflare 4's API used here. */
interface MiniflareInstance {
  ready: Promise<URL>;
  dispose(): Promise<void>;
}
type MiniflareClass = new (options: Record<string, unknown>) => MiniflareInstance;

/**
 * The Miniflare that `wrangler dev` itself runs (wrangler's own dependency), not whichever version
 * another package hoisted to the root: the bench measures the gateway as it is developed.
 */
async function wranglerMiniflare(): Promise<MiniflareClass> {
  const fromWrangler = createRequire(join(REPO_ROOT, 'node_modules/wrangler/package.json'));
  const mod = (await import(pathToFileURL(fromWrangler.resolve('miniflare')).href)) as { Miniflare?: MiniflareClass; default?: { Miniflare?: MiniflareClass } };
  const Miniflare = mod.Miniflare ?? mod.default?.Miniflare;
  if (!Miniflare) throw new Error("cannot load Miniflare from wrangler's dependencies (is wrangler installed at the repository root?)");
  return Miniflare;
}

/**
 * Bundles the worker (src/index.ts) with esbuild as wrangler would, into a temp directory.
 * Node built-ins stay external: workerd provides them under nodejs_compat.
 */
async function bundleWorker(outDir: string): Promise<string> {
  const esbuild = await import('esbuild');
  const outfile = join(outDir, 'worker.mjs');
  await esbuild.build({
    entryPoints: [join(REPO_ROOT, 'src/index.ts')],
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    mainFields: ['module', 'main'],
    conditions: ['workerd', 'worker', 'browser', 'import'],
    external: ['node:*', 'cloudflare:*'],
    outfile,
    logLevel: 'silent',
  });
  return outfile;
}

/**
 * Starts the real backend (`verdict serve` in this process, one worker thread) on `bundleDir` and
 * the real gateway in Miniflare (workerd, loopback) pointed at it. Rate limits are bound with a
 * limit the load loop cannot reach, so their lookup cost is measured but they never answer 429.
 */
export async function startGatewayStack(bundleDir: string): Promise<GatewayStack> {
  const server: RunningServer = await startServer({ bundle: bundleDir, port: 0, logLevel: 'silent', workers: 1, concurrency: 4 });
  const cleanups: (() => Promise<unknown>)[] = [() => server.close()];
  const close = async () => {
    for (const c of cleanups.reverse()) await c().catch(() => {});
  };
  try {
    await server.ready;
    const model = server.state.bundle?.manifest.name;
    if (!model) throw new Error('the backend started without a bundle');
    const dir = await mkdtemp(join(tmpdir(), 'verdict-bench-gw-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const scriptPath = await bundleWorker(dir);
    const apiKey = `vbench-${randomBytes(12).toString('hex')}`;
    const Miniflare = await wranglerMiniflare();
    const mf = new Miniflare({
      modules: true,
      scriptPath,
      // Module names are paths relative to this root; the default (cwd) would need '..' to reach the temp dir.
      modulesRoot: dir,
      compatibilityDate: '2025-09-01',
      compatibilityFlags: ['nodejs_compat', 'enable_request_signal'],
      host: '127.0.0.1',
      port: 0,
      bindings: {
        BACKENDS: JSON.stringify([{ url: server.url, weight: 1, models: ['*'] }]),
        PUBLIC_ROUTES: '/healthz',
        CACHE_TTLS: JSON.stringify({ default: 3600 }),
        API_KEY_HASHES: createHash('sha256').update(apiKey).digest('hex'),
      },
      kvNamespaces: ['API_KEYS'],
      ratelimits: {
        KEY_LIMITER: { namespace_id: '1001', simple: { limit: 1_000_000_000, period: 60 } },
        IP_LIMITER: { namespace_id: '1002', simple: { limit: 1_000_000_000, period: 60 } },
      },
    });
    cleanups.push(() => mf.dispose());
    const url = await mf.ready;
    return { backendUrl: server.url, gatewayUrl: url.origin, apiKey, model, close };
  } catch (err) {
    await close();
    throw err;
  }
}
