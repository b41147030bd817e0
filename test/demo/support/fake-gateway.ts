/**
 * A stand-in for the gateway's demo routes, for developing and testing the page without the backend:
 * serves public/ with the headers from public/_headers, lists one model, and streams made-up answers whose
 * provenance mix depends on the mode, with an edge cache that replays a repeated request (X-Cache: HIT) at
 * its recorded pace or instantly, and cache-as-draft: a request at temperature > 0 whose prompt was answered at
 * T = 0 before is generated afresh "with that answer as the prediction" (X-Cache: DRAFT, `prediction` tokens). It is NOT the gateway: the real e2e runs the worker and `verdict serve`.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import { formatServerTiming } from '@verdict/protocol/browser';
import { sseData, SSE_DONE } from '@verdict/protocol/browser';
import type { Provenance } from '@verdict/protocol/browser';

const PUBLIC = fileURLToPath(new URL('../../../public/', import.meta.url));
const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.css': 'text/css', '.js': 'text/javascript', '.svg': 'image/svg+xml', '.map': 'application/json' };

export interface FakeGateway {
  url: string;
  requests: { path: string; body: unknown; replay: string | null }[];
  /** Next demo chat request answers with this status (then back to normal). */
  failNext(status: number, retryAfter?: string): void;
  /** Time between generated steps from now on. */
  setStepMs(ms: number): void;
  /** Generations whose client went away before the end. */
  abandoned: number;
  close(): Promise<void>;
}

async function assetHeaders(): Promise<Record<string, string>> {
  const text = await readFile(join(PUBLIC, '_headers'), 'utf8');
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^\s+([A-Za-z-]+):\s*(.*)$/.exec(line);
    if (m) out[m[1]] = m[2];
  }
  return out;
}

interface Recorded {
  events: { atMs: number; data: string }[];
}

export async function startFakeGateway(opts: { stepMs?: number } = {}): Promise<FakeGateway> {
  let stepMs = opts.stepMs ?? 25;
  let abandoned = 0;
  const headers = await assetHeaders();
  const cache = new Map<string, Recorded>();
  /** Prompts answered at temperature 0: the drafts a later sampled request gets. */
  const answered = new Set<string>();
  const requests: FakeGateway['requests'] = [];
  let failure: { status: number; retryAfter?: string } | null = null;

  async function serveAsset(path: string, res: ServerResponse): Promise<void> {
    const file = normalize(join(PUBLIC, path === '/' ? 'index.html' : path));
    if (!file.startsWith(PUBLIC) || file.endsWith('_headers')) return notFound(res);
    try {
      const body = await readFile(file);
      res.writeHead(200, { ...headers, 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
      res.end(body);
    } catch {
      notFound(res);
    }
  }

  async function chat(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await new Promise<string>((resolve) => {
      let s = '';
      req.on('data', (d) => (s += d));
      req.on('end', () => resolve(s));
    });
    const body = JSON.parse(raw) as { model: string; messages: { content: string }[]; max_tokens: number; temperature?: number; speculative?: { mode?: string; k?: number } };
    const prompt = body.messages.at(-1)?.content ?? '';
    const sampled = (body.temperature ?? 1) > 0;
    const withPrediction = sampled && answered.has(prompt) && body.speculative?.mode !== 'target';
    const replay = (req.headers['x-verdict-replay'] as string | undefined) ?? null;
    requests.push({ path: req.url!, body, replay });
    if (failure) {
      const f = failure;
      failure = null;
      res.writeHead(f.status, { 'content-type': 'application/json', ...(f.retryAfter ? { 'retry-after': f.retryAfter } : {}) });
      res.end(JSON.stringify({ error: { message: f.status === 429 ? 'rate limit exceeded for this IP' : 'no healthy backend', type: f.status === 429 ? 'rate_limit_error' : 'service_unavailable', param: null, code: null } }));
      return;
    }
    const key = raw;
    const hit = sampled ? undefined : cache.get(key);
    const status = hit ? 'hit' : withPrediction ? 'draft' : sampled ? 'bypass' : 'miss';
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      'x-cache': status.toUpperCase(),
      'server-timing': formatServerTiming(hit ? [{ name: 'edge', dur: 0.4 }, { name: 'cache', desc: 'hit' }] : [{ name: 'queue', dur: 0.3 }, { name: 'prefill', dur: 4.2 }, { name: 'edge', dur: 1.1 }, { name: 'upstream', dur: 6.5 }, { name: 'cache', desc: status }]),
    });
    const started = Date.now();
    if (hit) {
      for (const ev of hit.events) {
        if (replay === 'recorded') await sleep(Math.max(0, ev.atMs - (Date.now() - started)));
        res.write(sseData(ev.data));
      }
      res.end();
      return;
    }
    const recorded: Recorded = { events: [] };
    const emit = (data: string) => {
      recorded.events.push({ atMs: Date.now() - started, data });
      res.write(sseData(data));
    };
    for (const data of fakeAnswer(body, stepMs, withPrediction)) {
      if (data.delayMs) await sleep(data.delayMs);
      if (res.destroyed) {
        abandoned++;
        return;
      }
      emit(data.payload);
    }
    if (!sampled) {
      cache.set(key, recorded);
      answered.add(prompt);
    }
    res.end();
  }

  const server: Server = createServer((req, res) => {
    const path = new URL(req.url!, 'http://x').pathname;
    if (req.method === 'GET' && path === '/demo/v1/models') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ object: 'list', data: [{ id: 'fake-tiny', object: 'model', created: 0, owned_by: 'verdict', x_verdict: { fingerprint: 'f', modes: ['target', 'exact', 'judge', 'kl'] } }] }));
    } else if (req.method === 'POST' && path === '/demo/v1/chat/completions') void chat(req, res);
    else if (req.method === 'GET') void serveAsset(path, res);
    else notFound(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    failNext: (status, retryAfter) => (failure = { status, retryAfter }),
    setStepMs: (ms) => (stepMs = ms),
    get abandoned() {
      return abandoned;
    },
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

function notFound(res: ServerResponse): void {
  res.writeHead(404, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ error: { message: 'not found', type: 'not_found_error', param: null, code: null } }));
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * A made-up answer: the prompt's words, grouped into steps; judge mode accepts more per step than exact. With a
 * prediction (`withPrediction`), the tokens the exact rule kept come from it, and more of them per step.
 */
function* fakeAnswer(body: { model: string; messages: { content: string }[]; max_tokens: number; speculative?: { mode?: string; k?: number } }, stepMs: number, withPrediction = false): Generator<{ delayMs: number; payload: string }> {
  const mode = body.speculative?.mode ?? 'exact';
  const k = body.speculative?.k ?? 4;
  const words = `${body.messages.at(-1)?.content ?? ''} Once upon a time the keeper climbed the stairs and lit the lamp, as every night, and the sea was calm.`.split(/(?=\s)/);
  const total = Math.min(body.max_tokens, 48);
  const base = { id: 'chatcmpl-fake', object: 'chat.completion.chunk', created: 0, model: body.model };
  yield { delayMs: 5, payload: JSON.stringify({ ...base, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null, logprobs: null }] }) };
  let i = 0;
  let step = 0;
  let drafted = 0, accepted = 0, judgeAccepted = 0;
  while (i < total) {
    step++;
    const provenance: Provenance[] = [];
    if (mode !== 'target') {
      drafted += k;
      const exactRun = withPrediction ? k - 1 : (step * 7) % (k + 1) >> 1; // 0..k/2 accepted by the exact rule (k-1 from a prediction)
      const judgeRun = mode === 'judge' || mode === 'kl' ? Math.min(k - exactRun, 1 + (step % 2)) : 0;
      for (let j = 0; j < exactRun; j++) provenance.push(withPrediction ? 'prediction' : 'draft');
      for (let j = 0; j < judgeRun; j++) provenance.push('judge');
      accepted += exactRun + judgeRun;
      judgeAccepted += judgeRun;
    }
    provenance.push('target');
    const n = Math.min(provenance.length, total - i);
    const pieces = Array.from({ length: n }, (_, j) => words[(i + j) % words.length]);
    i += n;
    yield { delayMs: stepMs, payload: JSON.stringify({ ...base, choices: [{ index: 0, delta: { content: pieces.join('') }, finish_reason: null, logprobs: null }], x_verdict: { provenance: provenance.slice(0, n), step, pieces } }) };
  }
  const totalMs = step * stepMs + 5;
  yield {
    delayMs: 1,
    payload: JSON.stringify({
      ...base,
      choices: [{ index: 0, delta: {}, finish_reason: 'length', logprobs: null }],
      timings: { queue_ms: 0.3, prefill_ms: 4.2, draft_ms: mode === 'target' ? 0 : step * stepMs * 0.3, verify_ms: step * stepMs * 0.6, judge_ms: mode === 'judge' ? step * 0.4 : 0, total_ms: totalMs, steps: step, drafted, accepted, judge_accepted: judgeAccepted, mean_accepted_per_step: total / step, tokens_per_s: (total / totalMs) * 1000, edge_ms: 1.1, upstream_ms: 6.5, cache: withPrediction ? 'draft' : 'miss' },
    }),
  };
  yield { delayMs: 0, payload: SSE_DONE };
}
