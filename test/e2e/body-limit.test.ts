import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import { Agent, request } from 'undici';
import { startBackend, startGatewayFor, synthTinyBundle, type Backend, type Gateway } from './gateway-stack.ts';

// A 413 must reach a client that is still uploading: the gateway (MAX_BODY_BYTES) and the backend
// (--max-body-bytes) both read an oversized body to its end (bounded) before answering, so the client never
// sees "other side closed" instead of its error. Each posts 1.5 MB, over both 1 MiB defaults, many times.
const KEY = 'sk-e2e-body';
const TIMES = 50;
const BIG = JSON.stringify({ model: 'synth-tiny', messages: [{ role: 'user', content: 'x'.repeat(1_500_000) }] });

let bundle: { dir: string; cleanup: () => Promise<void> };
let backend: Backend;
let gw: Gateway;

beforeAll(async () => {
  bundle = await synthTinyBundle();
  backend = await startBackend(bundle.dir);
  gw = await startGatewayFor([backend], [KEY]);
}, 180_000);

afterAll(async () => {
  await gw?.stop();
  await backend?.kill();
  await bundle?.cleanup();
});

async function postBig(base: string, dispatcher: Agent, chunked: boolean): Promise<{ status: number; code?: string } | { failed: string }> {
  const body = chunked
    ? (async function* () {
        for (let i = 0; i < BIG.length; i += 64 * 1024) yield BIG.slice(i, i + 64 * 1024);
      })()
    : BIG;
  try {
    const res = await request(`${base}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` }, body, dispatcher });
    const json = (await res.body.json()) as { error?: { code?: string } };
    return { status: res.statusCode, code: json.error?.code };
  } catch (err) {
    return { failed: `${(err as Error).message} (${(err as { code?: string }).code ?? ''})` };
  }
}

describe('a body over the limit gets its 413, every time', () => {
  for (const target of ['gateway', 'backend'] as const) {
    it(`${target}: ${TIMES}× 1.5 MB with Content-Length, and 10× chunked, each a 413 body_too_large`, async () => {
      const base = target === 'gateway' ? gw.url : backend.url;
      // A fresh connection per request: the race is between the answer and the rest of that connection's upload.
      const results = [];
      for (let i = 0; i < TIMES + 10; i++) {
        const agent = new Agent({ pipelining: 0 });
        results.push(await postBig(base, agent, i >= TIMES));
        await agent.close();
      }
      const bad = results.filter((r) => !('status' in r) || r.status !== 413 || r.code !== 'body_too_large');
      expect(bad).toEqual([]);
    }, 120_000);
  }
});

describe('an error answered before the body is read', () => {
  // workerd closes a connection whose request body was left unread, without saying so: a keep-alive
  // client's next request on it then fails (the OpenAI SDK's "Connection error"). The gateway reads the body first.
  function post(agent: http.Agent, path: string, key: string, body: object): Promise<{ status: number; reused: boolean }> {
    const u = new URL(gw.url);
    const data = JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = http.request(
        { host: u.hostname, port: u.port, path, method: 'POST', agent, headers: { 'content-type': 'application/json', authorization: `Bearer ${key}`, 'content-length': Buffer.byteLength(data) } },
        (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode!, reused: req.reusedSocket }));
        },
      );
      req.on('error', reject);
      req.end(data);
    });
  }

  it('leaves the keep-alive connection open: the next request reuses it (401 bad key, 404 unknown route)', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const messages = [{ role: 'user', content: 'hi' }];
      expect(await post(agent, '/v1/models', KEY, {})).toMatchObject({ status: 404, reused: false }); // POST /v1/models: no such route
      expect(await post(agent, '/v1/chat/completions', 'sk-wrong', { model: 'synth-tiny', messages })).toEqual({ status: 401, reused: true });
      expect(await post(agent, '/v1/completions', KEY, { model: 'synth-tiny', prompt: 'x', max_tokens: 0 })).toEqual({ status: 400, reused: true });
    } finally {
      agent.destroy();
    }
  });
});
