#!/usr/bin/env node
/**
 * The whole local stack: `verdict serve` on 127.0.0.1:$VERDICT_PORT (default 8080) with the tiny synthetic
 * bundle (synthesised into models/tiny on first run, or $VERDICT_BUNDLE), and the edge gateway in Miniflare on
 * 127.0.0.1:$GATEWAY_PORT (default 8787) in front of it. Prints the URL and a curl example; Ctrl-C stops both.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { DEV_API_KEY, startGateway } from './gateway.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const VERDICT = `${ROOT}gpu-backend/bin/verdict.mjs`;
const backendPort = Number(process.env.VERDICT_PORT ?? 8080);
const gatewayPort = Number(process.env.GATEWAY_PORT ?? 8787);
const bundle = process.env.VERDICT_BUNDLE ?? `${ROOT}models/tiny`;
const say = (line) => process.stdout.write(`[stack] ${line}\n`);

if (!existsSync(`${bundle}/bundle.json`)) {
  if (process.env.VERDICT_BUNDLE) throw new Error(`VERDICT_BUNDLE=${bundle} has no bundle.json`);
  say(`no bundle at ${bundle}: synthesising the tiny one`);
  execFileSync(process.execPath, [VERDICT, 'synth', '--preset', 'tiny', '--out', bundle], { stdio: 'inherit' });
}

const backendUrl = `http://127.0.0.1:${backendPort}`;
const backend = spawn(process.execPath, [VERDICT, 'serve', '--bundle', bundle, '--port', String(backendPort), '--host', '127.0.0.1'], { stdio: 'inherit' });
const backendExited = new Promise((resolve) => backend.once('exit', (code, signal) => resolve(code ?? signal)));
// Never leave the backend orphaned, however this process ends.
process.on('exit', () => {
  if (backend.exitCode === null && backend.signalCode === null) backend.kill('SIGTERM');
});

let gateway;
let stopping = false;
async function stop(code = 0) {
  if (stopping) process.exit(1);
  stopping = true;
  setTimeout(() => process.exit(code), 15_000).unref();
  await gateway?.stop().catch(() => {});
  if (backend.exitCode === null && backend.signalCode === null) backend.kill('SIGTERM');
  await backendExited;
  process.exit(code);
}
process.on('SIGINT', () => void stop(0));
process.on('SIGTERM', () => void stop(0));
void backendExited.then((how) => {
  if (!stopping) {
    say(`the backend exited (${how}); stopping`);
    void stop(1);
  }
});

// The gateway's /readyz probes would find it anyway; waiting keeps the first request from a cold start.
const deadline = Date.now() + 120_000;
for (;;) {
  try {
    if ((await fetch(`${backendUrl}/readyz`)).ok) break;
  } catch {
    // not listening yet
  }
  if (Date.now() > deadline) {
    say(`the backend was not ready on ${backendUrl} within 120 s`);
    await stop(1);
  }
  await new Promise((r) => setTimeout(r, 200));
}

gateway = await startGateway({ backends: [{ url: backendUrl, weight: 1, models: ['*'] }], port: gatewayPort, logLevel: 'info' });
const base = gateway.url.href.replace(/\/$/, '');
const models = await (await fetch(`${backendUrl}/v1/models`)).json();
const model = models.data?.[0]?.id ?? 'synth-tiny';
say(`backend  ${backendUrl}  (bundle ${bundle})`);
say(`gateway  ${base}   ← use this`);
say(`try:`);
process.stdout.write(
  `  curl -N ${base}/v1/chat/completions -H 'authorization: Bearer ${DEV_API_KEY}' -H 'content-type: application/json' \\\n` +
    `    -d '{"model":"${model}","messages":[{"role":"user","content":"Hello"}],"temperature":0,"max_tokens":32,"stream":true}'\n` +
    `  (anonymous demo route: ${base}/demo/v1/chat/completions, no key)\n` +
    `[stack] Ctrl-C stops both.\n`,
);
