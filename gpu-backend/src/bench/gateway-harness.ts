import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer, type RunningServer } from '../server/start.ts';
// The gateway's one local launcher (also behind `npm start` and the e2e tests): wrangler.toml's settings, Miniflare.
import { startForwardingWorker, startGateway } from '../../../scripts/gateway.mjs';

export interface GatewayStack {
  backendUrl: string;
  gatewayUrl: string;
  /** Sent as `Authorization: Bearer …` to the gateway (a throwaway key whose hash the gateway is given). */
  apiKey: string;
  model: string;
  /** Portkey's gateway in front of the same backend, for the comparison in the same run (null: it did not start, `portkeyError` says why). */
  portkey: PortkeyGateway | null;
  portkeyError?: string;
  /** A worker that only forwards to the backend, in the same Miniflare: the simulator's own share. */
  forwardingUrl: string;
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
    const forwarding = await startForwardingWorker(server.url);
    cleanups.push(() => forwarding.stop());
    let portkey: PortkeyGateway | null = null;
    let portkeyError: string | undefined;
    try {
      portkey = await startPortkey(server.url);
      cleanups.push(() => portkey!.close());
    } catch (err) {
      portkeyError = err instanceof Error ? err.message.split('\n')[0] : String(err);
    }
    return { backendUrl: server.url, gatewayUrl: gateway.url.origin, apiKey, model, portkey, portkeyError, forwardingUrl: forwarding.url.origin, close };
  } catch (err) {
    await close();
    throw err;
  }
}

export interface PortkeyGateway {
  url: string;
  /** Sent with every request: Portkey's OpenAI provider, pointed at our backend as a custom host. */
  headers: Record<string, string>;
  version: string;
  close(): Promise<void>;
}

/**
 * Portkey's open-source gateway (`@portkey-ai/gateway`, a devDependency), on Node, on loopback, in front of
 * `backendUrl` as an OpenAI-compatible provider (`x-portkey-provider: openai`, `x-portkey-custom-host`): the
 * reference the bench compares our gateway's added latency with, in the same run.
 */
export async function startPortkey(backendUrl: string): Promise<PortkeyGateway> {
  const require = createRequire(import.meta.url);
  const pkgPath = require.resolve('@portkey-ai/gateway/package.json');
  const { version } = JSON.parse(await readFile(pkgPath, 'utf8')) as { version: string };
  const port = await freePort();
  const args = [join(dirname(pkgPath), 'build/start-server.js'), `--port=${port}`, '--headless'];
  // Node 20's fetch gives immutable Response headers, which Portkey appends to; Node 22+ needs no shim.
  if (Number(process.versions.node.split('.')[0]) < 22) args.unshift('--import', fileURLToPath(new URL('./gateway-portkey-node20.mjs', import.meta.url)));
  const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_ENV: 'production' } });
  let log = '';
  proc.stdout.on('data', (d) => (log += d));
  proc.stderr.on('data', (d) => (log += d));
  const url = `http://127.0.0.1:${port}`;
  const headers = { 'x-portkey-provider': 'openai', 'x-portkey-custom-host': `${backendUrl}/v1` };
  // Never outlive the bench, even when it fails before close(); and never wait on a SIGTERM for long.
  const killOnExit = () => proc.kill('SIGKILL');
  process.once('exit', killOnExit);
  const close = async () => {
    process.off('exit', killOnExit);
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 2000);
    await exited;
    clearTimeout(timer);
  };
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`Portkey's gateway exited (${proc.exitCode}):\n${log}`);
    try {
      const res = await fetch(`${url}/v1/models`, { headers: { ...headers, authorization: 'Bearer unused' } });
      await res.arrayBuffer();
      if (res.status < 500) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await close();
      throw new Error(`Portkey's gateway not ready in 30 s:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { url, headers, version, close };
}

/** A port free on loopback right now (the e2e stack uses it too). */
export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolvePort(port));
    });
  });
}
