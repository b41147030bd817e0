import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { command } from '../src/cli/pull.ts';
import { hubSettings, parseRepoSpec, pullModel } from '../src/hub/pull.ts';
import { FakeHub, fakeRepo, sha256 } from './hub-fake.ts';

const REPO = 'org/tiny-lm';
const hub = new FakeHub();
const repo = fakeRepo();
let out: string;

async function listTree(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)).split('\\').join('/'))
    .sort();
}

async function expectSameBytes(path: string): Promise<void> {
  expect(sha256(await readFile(join(out, path)))).toBe(sha256(repo.get(path)!.body));
}

beforeAll(async () => {
  await hub.start();
  hub.repos.set(REPO, repo);
  const noOnnx = new Map([...repo].filter(([p]) => !p.includes('onnx')));
  hub.repos.set('org/no-onnx', noOnnx);
});
afterAll(() => hub.close());

beforeEach(async () => {
  out = await mkdtemp(join(tmpdir(), 'verdict-pull-'));
  hub.requests.length = 0;
  hub.options = {};
  vi.stubEnv('HF_ENDPOINT', hub.endpoint);
  vi.stubEnv('HF_TOKEN', '');
  vi.stubEnv('HUGGING_FACE_HUB_TOKEN', '');
});
afterEach(async () => {
  vi.unstubAllEnvs();
  await rm(out, { recursive: true, force: true });
});

describe('verdict pull', () => {
  it('parses REPO[@REVISION] and reads HF_ENDPOINT / HF_TOKEN like the Hugging Face tools', () => {
    expect(parseRepoSpec('HuggingFaceTB/SmolLM2-135M-Instruct')).toEqual({ repo: 'HuggingFaceTB/SmolLM2-135M-Instruct', revision: 'main' });
    expect(parseRepoSpec('org/m@v1.0')).toEqual({ repo: 'org/m', revision: 'v1.0' });
    expect(() => parseRepoSpec('not a repo')).toThrow(/OWNER\/NAME/);
    expect(() => parseRepoSpec('org/m@')).toThrow(/empty revision/);
    expect(hubSettings({})).toEqual({ endpoint: 'https://huggingface.co', token: undefined });
    expect(hubSettings({ HF_ENDPOINT: 'http://mirror/', HUGGING_FACE_HUB_TOKEN: 'hf_old' })).toEqual({ endpoint: 'http://mirror', token: 'hf_old' });
    expect(hubSettings({ HF_TOKEN: 'hf_new', HUGGING_FACE_HUB_TOKEN: 'hf_old' }).token).toBe('hf_new');
  });

  it('fp32: fetches the configs, tokenizer, onnx/model.onnx and its external data, checked; a second run skips them all', async () => {
    const missing: string[] = [];
    const r = await pullModel({ repo: REPO, out, events: { plan: (p) => missing.push(...p.missingOptional) } });
    expect(r.decoder).toBe('onnx/model.onnx');
    const expected = [
      'config.json',
      'generation_config.json',
      'onnx/model.onnx',
      'onnx/model.onnx_data',
      'onnx/model.onnx_data_1',
      'special_tokens_map.json',
      'tokenizer.json',
      'tokenizer_config.json',
    ];
    expect(await listTree(out)).toEqual(expected);
    for (const p of expected) await expectSameBytes(p);
    expect(missing).toEqual(['chat_template.jinja']);
    expect(r.files.every((f) => f.status === 'downloaded')).toBe(true);
    expect(r.bytesDownloaded).toBe(expected.reduce((s, p) => s + repo.get(p)!.body.length, 0));
    // both listing pages were read (the onnx files are on the second)
    expect(hub.requests.filter((q) => q.path.includes('/tree/')).length).toBe(2);

    hub.requests.length = 0;
    const again = await pullModel({ repo: REPO, out });
    expect(again.files.map((f) => f.status)).toEqual(expected.map(() => 'present'));
    expect(hub.requests.filter((q) => q.path.includes('/resolve/'))).toEqual([]);
  });

  it('fp16: fetches onnx/model_fp16.onnx and its _data, not the fp32 decoder (through the CLI command)', async () => {
    const stdout = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    let printed: string[] = [];
    let logged: string[] = [];
    const wasTTY = process.stderr.isTTY;
    process.stderr.isTTY = false; // the one-line-per-file log, not the bar
    try {
      await command().parseAsync([`${REPO}@main`, '--out', out, '--dtype', 'fp16'], { from: 'user' });
    } finally {
      printed = stdout.mock.calls.map((c) => String(c[0]));
      logged = stderr.mock.calls.map((c) => String(c[0]));
      stdout.mockRestore();
      stderr.mockRestore();
      process.stderr.isTTY = wasTTY;
    }
    const tree = await listTree(out);
    expect(tree.filter((p) => p.startsWith('onnx/'))).toEqual(['onnx/model_fp16.onnx', 'onnx/model_fp16.onnx_data']);
    expect(tree).toContain('tokenizer.json');
    await expectSameBytes('onnx/model_fp16.onnx_data');
    expect(printed.at(-1)).toMatch(/pulled org\/tiny-lm@main \(fp16: onnx\/model_fp16\.onnx\).*7 files, 7 fetched/);
    expect(logged).toContain('pull: onnx/model_fp16.onnx_data 0.1 MB (checked)\n');
    expect(logged).toContain('pull: 7 files, 0.2 MB\n');
  });

  it('an absent dtype fails listing the dtypes present, before downloading anything', async () => {
    await expect(pullModel({ repo: REPO, out, dtype: 'q8' })).rejects.toThrow(/no q8 decoder \(onnx\/model_quantized\.onnx or .*model_int8.*\); dtypes present: fp32, fp16, q4/);
    expect(await listTree(out)).toEqual([]);
  });

  it('a repo without an ONNX decoder is refused with the optimum-cli export hint', async () => {
    await expect(pullModel({ repo: 'org/no-onnx', out })).rejects.toThrow(/org\/no-onnx@main has no ONNX decoder.*optimum-cli export onnx --model org\/no-onnx --task text-generation-with-past/);
  });

  it('resumes a partial file with a Range request', async () => {
    const path = 'onnx/model.onnx_data';
    const full = repo.get(path)!.body;
    await mkdir(join(out, 'onnx'), { recursive: true });
    await writeFile(join(out, `${path}.part`), full.subarray(0, 100_000));
    const r = await pullModel({ repo: REPO, out });
    const reqs = hub.downloads(path);
    expect(reqs.map((q) => q.headers.range)).toEqual(['bytes=100000-']);
    expect(r.files.find((f) => f.path === path)).toMatchObject({ status: 'resumed', resumedFrom: 100_000 });
    await expectSameBytes(path);
    expect(existsSync(join(out, `${path}.part`))).toBe(false);
    expect(r.bytesDownloaded).toBe(r.files.reduce((s, f) => s + f.size, 0) - 100_000);
  });

  it('an interrupted transfer keeps its part and says to run again; the next run resumes it', async () => {
    const path = 'onnx/model.onnx_data';
    hub.options.cutAfter = new Map([[path, 64_000]]);
    await expect(pullModel({ repo: REPO, out })).rejects.toThrow(/^onnx\/model\.onnx_data of org\/tiny-lm@main: download interrupted .*run the same command again to resume/);
    expect(existsSync(join(out, path))).toBe(false);
    // What reached the client before the drop is on disk (how much did is up to the socket's timing).
    const kept = (await readFile(join(out, `${path}.part`))).length;
    expect(kept).toBeLessThanOrEqual(64_000);
    expect(sha256(await readFile(join(out, `${path}.part`)))).toBe(sha256(repo.get(path)!.body.subarray(0, kept)));
    const r = await pullModel({ repo: REPO, out });
    expect(hub.downloads(path).map((q) => q.headers.range)).toEqual([undefined, kept > 0 ? `bytes=${kept}-` : undefined]);
    expect(r.files.find((f) => f.path === path)).toMatchObject({ status: kept > 0 ? 'resumed' : 'downloaded', resumedFrom: kept });
    expect(r.files.filter((f) => f.status === 'present').length).toBe(6); // the five configs and onnx/model.onnx came down before it
    await expectSameBytes(path);
  });

  it('follows the CDN redirect for LFS files: the Range header goes along, the token does not', async () => {
    const cdn = await new FakeHub().start();
    try {
      cdn.repos.set(REPO, repo);
      hub.options.redirectLfsTo = cdn.endpoint;
      vi.stubEnv('HF_TOKEN', 'hf_testsecret');
      const path = 'onnx/model.onnx';
      await mkdir(join(out, 'onnx'), { recursive: true });
      await writeFile(join(out, `${path}.part`), repo.get(path)!.body.subarray(0, 1234));
      await pullModel({ repo: REPO, out });
      expect(hub.downloads(path)[0].headers).toMatchObject({ range: 'bytes=1234-', authorization: 'Bearer hf_testsecret' });
      expect(cdn.downloads(path).map((q) => [q.headers.range, q.headers.authorization])).toEqual([['bytes=1234-', undefined]]);
      expect(cdn.downloads('onnx/model.onnx_data').length).toBe(1);
      await expectSameBytes(path);
    } finally {
      await cdn.close();
    }
  });

  it('restarts from 0 when the server ignores Range', async () => {
    const path = 'onnx/model.onnx';
    await mkdir(join(out, 'onnx'), { recursive: true });
    await writeFile(join(out, `${path}.part`), Buffer.alloc(5000, 7)); // not even a correct prefix
    hub.options.ignoreRange = true;
    const r = await pullModel({ repo: REPO, out });
    expect(hub.downloads(path).map((q) => q.headers.range)).toEqual(['bytes=5000-']);
    expect(r.files.find((f) => f.path === path)).toMatchObject({ status: 'downloaded', resumedFrom: 0 });
    await expectSameBytes(path);
  });

  it('a corrupted body fails the sha256 check, naming the file and both hashes, and leaves neither the file nor its part', async () => {
    const path = 'onnx/model.onnx';
    hub.options.corrupt = new Set([path]);
    const want = sha256(repo.get(path)!.body);
    const err = await pullModel({ repo: REPO, out }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(new RegExp(`^onnx/model\\.onnx: .*sha256 expected ${want}, got [0-9a-f]{64}`));
    expect((err as Error).message).not.toContain(`got ${want}`);
    expect(existsSync(join(out, path))).toBe(false);
    expect(existsSync(join(out, `${path}.part`))).toBe(false);
  });

  it('a corrupted small (non-LFS) file fails its git blob id check', async () => {
    hub.options.corrupt = new Set(['config.json']);
    await expect(pullModel({ repo: REPO, out })).rejects.toThrow(/^config\.json: .*git-sha1 expected [0-9a-f]{40}, got/);
    expect(existsSync(join(out, 'config.json'))).toBe(false);
  });

  it('sends HF_TOKEN as Authorization: Bearer on every request', async () => {
    vi.stubEnv('HF_TOKEN', 'hf_testsecret');
    hub.options.requireToken = 'hf_testsecret';
    await pullModel({ repo: REPO, out, dtype: 'q4' });
    expect(hub.requests.length).toBeGreaterThan(3);
    for (const q of hub.requests) expect(q.headers.authorization).toBe('Bearer hf_testsecret');
    await expectSameBytes('onnx/model_q4.onnx');
  });

  it('401 says to set HF_TOKEN and mentions gated repos', async () => {
    hub.options.requireToken = 'hf_testsecret';
    await expect(pullModel({ repo: REPO, out })).rejects.toThrow(/HTTP 401 .*no token was sent: set HF_TOKEN.*gated repo/);
    vi.stubEnv('HF_TOKEN', 'hf_wrong');
    await expect(pullModel({ repo: REPO, out })).rejects.toThrow(/HTTP 401 .*HF_TOKEN is set but was refused/);
  });

  it('404 says the repo or revision was not found', async () => {
    await expect(pullModel({ repo: REPO, revision: 'nope', out })).rejects.toThrow(/HTTP 404 .*repo org\/tiny-lm or revision nope not found/);
    await expect(pullModel({ repo: 'org/missing', out })).rejects.toThrow(/repo org\/missing or revision main not found/);
  });

  it('a network failure names the endpoint', async () => {
    const closed = createServer();
    await new Promise<void>((ok) => closed.listen(0, '127.0.0.1', ok));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((ok) => closed.close(() => ok()));
    vi.stubEnv('HF_ENDPOINT', `http://127.0.0.1:${port}`);
    await expect(pullModel({ repo: REPO, out })).rejects.toThrow(new RegExp(`cannot reach http://127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\).*HF_ENDPOINT`));
  });
});
