/**
 * A fake Hugging Face Hub on 127.0.0.1 answering the routes `verdict pull` uses: the paginated tree
 * listing (`/api/models/{repo}/tree/{rev}`, with lfs metadata) and `/{repo}/resolve/{rev}/{path}`
 * (Range requests honoured unless told otherwise). Records every request.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeFile {
  body: Buffer;
  lfs: boolean;
}
export type FakeRepo = Map<string, FakeFile>;

export interface FakeHubOptions {
  /** Answer 401 unless `Authorization: Bearer <token>` is sent. */
  requireToken?: string;
  /** Answer Range requests with the whole file and 200. */
  ignoreRange?: boolean;
  /** Paths whose served bytes get one byte flipped (same length). */
  corrupt?: Set<string>;
  /** Path → bytes after which the connection is dropped (the first time only). */
  cutAfter?: Map<string, number>;
  /** Answer resolve requests for LFS files with a 302 to `<origin>/cdn/<repo>/<path>`, like the Hub's CDN redirect. */
  redirectLfsTo?: string;
}

export interface SeenRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
}

export const sha256 = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');
const gitOid = (b: Buffer): string => createHash('sha1').update(`blob ${b.length}\0`).update(b).digest('hex');

/** Deterministic pseudo-random bytes. */
export function bytes(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  let x = seed * 2654435761 + 1;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

/** A small repo in the transformers.js layout: fp32 (two external-data files), fp16 and q4 decoders, no q8, no chat_template.jinja. */
export function fakeRepo(): FakeRepo {
  const json = (o: unknown) => ({ body: Buffer.from(JSON.stringify(o, null, 2)), lfs: false });
  return new Map<string, FakeFile>([
    ['README.md', { body: Buffer.from('# tiny-lm\n'), lfs: false }],
    ['config.json', json({ model_type: 'llama', num_hidden_layers: 2 })],
    ['generation_config.json', json({ eos_token_id: 2 })],
    ['tokenizer.json', json({ model: { type: 'BPE', vocab: { a: 0 } } })],
    ['tokenizer_config.json', json({ bos_token: '<s>' })],
    ['special_tokens_map.json', json({ eos_token: '</s>' })],
    ['model.safetensors', { body: bytes(50_000, 9), lfs: true }],
    ['onnx/model.onnx', { body: bytes(150_000, 1), lfs: true }],
    ['onnx/model.onnx_data', { body: bytes(300_000, 2), lfs: true }],
    ['onnx/model.onnx_data_1', { body: bytes(70_000, 3), lfs: true }],
    ['onnx/model_fp16.onnx', { body: bytes(80_000, 4), lfs: true }],
    ['onnx/model_fp16.onnx_data', { body: bytes(120_000, 5), lfs: true }],
    ['onnx/model_q4.onnx', { body: bytes(40_000, 6), lfs: true }],
  ]);
}

export class FakeHub {
  readonly requests: SeenRequest[] = [];
  readonly repos = new Map<string, FakeRepo>();
  options: FakeHubOptions = {};
  private server: Server;
  endpoint = '';

  constructor() {
    this.server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      this.requests.push({ method: req.method ?? 'GET', path: decodeURIComponent(url.pathname), headers: req.headers });
      const o = this.options;
      const fail = (status: number, code: string, error: string) => {
        res.writeHead(status, { 'content-type': 'application/json', 'x-error-code': code, 'x-error-message': error });
        res.end(JSON.stringify({ error }));
      };
      if (o.requireToken && req.headers.authorization !== `Bearer ${o.requireToken}`) {
        return fail(401, 'RepoNotFound', 'Invalid credentials in Authorization header');
      }
      const tree = /^\/api\/models\/([^/]+\/[^/]+)\/tree\/([^/]+)(?:\/(.*))?$/.exec(url.pathname);
      const resolve = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(url.pathname) ?? /^\/cdn\/([^/]+\/[^/]+)\/(main)\/(.+)$/.exec(url.pathname);
      const m = tree ?? resolve;
      if (!m) return fail(404, 'NotFound', 'no such route');
      const repo = this.repos.get(m[1]);
      if (!repo) return fail(404, 'RepoNotFound', 'Repository not found');
      if (decodeURIComponent(m[2]) !== 'main') return fail(404, 'RevisionNotFound', 'Invalid rev id: ' + decodeURIComponent(m[2]));
      if (tree) return this.listing(repo, url, res);
      const file = repo.get(decodeURIComponent(m[3]));
      if (!file) return fail(404, 'EntryNotFound', 'Entry not found');
      if (o.redirectLfsTo && file.lfs && !url.pathname.startsWith('/cdn/')) {
        res.writeHead(302, { location: `${o.redirectLfsTo}/cdn/${m[1]}/main/${m[3]}` });
        return res.end();
      }
      let body = file.body;
      if (o.corrupt?.has(decodeURIComponent(m[3]))) {
        body = Buffer.from(body);
        body[body.length >> 1] ^= 0xff;
      }
      const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
      const headers = { 'content-type': 'application/octet-stream', etag: `"${sha256(file.body)}"`, 'accept-ranges': 'bytes' };
      if (range && !o.ignoreRange) {
        const start = Number(range[1]);
        if (start >= body.length) {
          res.writeHead(416, { 'content-range': `bytes */${body.length}` });
          return res.end();
        }
        res.writeHead(206, { ...headers, 'content-range': `bytes ${start}-${body.length - 1}/${body.length}`, 'content-length': body.length - start });
        body = body.subarray(start);
      } else {
        res.writeHead(200, { ...headers, 'content-length': body.length });
      }
      const path = decodeURIComponent(m[3]);
      const cut = o.cutAfter?.get(path);
      if (cut !== undefined) {
        o.cutAfter!.delete(path);
        res.write(body.subarray(0, cut), () => res.destroy());
        return;
      }
      // Several writes, so the client sees a stream of chunks.
      for (let i = 0; i < body.length; i += 32_768) res.write(body.subarray(i, i + 32_768));
      res.end();
    });
  }

  private listing(repo: FakeRepo, url: URL, res: import('node:http').ServerResponse): void {
    const entries: unknown[] = [{ type: 'directory', path: 'onnx', size: 0, oid: 'd'.repeat(40) }];
    for (const [path, f] of repo) {
      if (!f.lfs) {
        entries.push({ type: 'file', path, size: f.body.length, oid: gitOid(f.body) });
        continue;
      }
      const pointer = Buffer.from(`version https://git-lfs.github.com/spec/v1\noid sha256:${sha256(f.body)}\nsize ${f.body.length}\n`);
      entries.push({ type: 'file', path, size: pointer.length, oid: gitOid(pointer), lfs: { oid: sha256(f.body), size: f.body.length, pointerSize: pointer.length } });
    }
    // Two pages, linked like the Hub does, so pagination is exercised.
    const half = Math.ceil(entries.length / 2);
    const second = url.searchParams.get('cursor') === '2';
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (!second) {
      const next = new URL(url.pathname + url.search, this.endpoint);
      next.searchParams.set('cursor', '2');
      headers.link = `<${next.href}>; rel="next"`;
    }
    res.writeHead(200, headers);
    res.end(JSON.stringify(second ? entries.slice(half) : entries.slice(0, half)));
  }

  async start(): Promise<this> {
    await new Promise<void>((ok) => this.server.listen(0, '127.0.0.1', ok));
    this.endpoint = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((ok) => this.server.close(() => ok()));
  }

  /** Resolve (download) requests for `path`, in order. */
  downloads(path: string): SeenRequest[] {
    return this.requests.filter((r) => r.path.endsWith(`/main/${path}`) && (r.path.includes('/resolve/') || r.path.startsWith('/cdn/')));
  }
}
