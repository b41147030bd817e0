import { randomBytes } from 'node:crypto';
import { startServer, type RunningServer } from '../server/start.ts';
// The gateway's one local launcher (also behind `npm start` and the e2e tests): wrangler.toml's settings, Miniflare.
import { startGateway } from '../../../scripts/gateway.mjs';

export interface GatewayStack {
  backendUrl: string;
  gatewayUrl: string;
  /** Sent as `Authorization: Bearer …` to the gateway (a throwaway key whose hash the gateway is given). */
  apiKey: string;
  model: string;
  close(): Promise<void>;
}

/**
 * Starts the real backend (`verdict serve` in this process, one worker thread) on `bundleDir` and the real
 * gateway pointed at it, through the same launcher as `npm start` (wrangler.toml's settings, Miniflare on
 * loopback). Rate limits are bound with a limit the load loop cannot reach, so their lookup cost is measured
 * but they never answer 429.
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
    const apiKey = `vbench-${randomBytes(12).toString('hex')}`;
    const gateway = await startGateway({
      backends: [{ url: server.url, weight: 1, models: ['*'] }],
      port: 0,
      apiKeys: [apiKey],
      // The load loop must never be answered 429: the bindings stay (their lookup cost is measured), the limits go up.
      rateLimits: { KEY_LIMITER: { limit: 1_000_000_000 }, IP_LIMITER: { limit: 1_000_000_000 } },
      logLevel: 'error',
    });
    cleanups.push(() => gateway.stop());
    const url = gateway.url;
    return { backendUrl: server.url, gatewayUrl: url.origin, apiKey, model, close };
  } catch (err) {
    await close();
    throw err;
  }
}
