/**
 * `verdict pull`: fetch the files `verdict import` needs from a Hugging Face model repo — configs,
 * tokenizer and one ONNX decoder with its external data — into a directory, resumably and with
 * every file checked against the Hub's listing (size; sha256 for LFS files, git blob id otherwise).
 */
import { listFiles } from '@huggingface/hub';
import { resolve, sep } from 'node:path';
import { downloadTo, IntegrityError, type FileOutcome } from './download.ts';
import { planPull, PullPlanError, type Dtype, type RepoFile } from './files.ts';
import { fromHubApiError, HubError, hubFetch, hubSettings, statusError, type HubSettings } from './http.ts';

export { DTYPES, isDtype, type Dtype } from './files.ts';
export { hubSettings, HubError, type HubSettings } from './http.ts';
export { IntegrityError } from './download.ts';
export { PullPlanError } from './files.ts';

/** `OWNER/NAME[@REVISION]` → repo and revision (default `main`). */
export function parseRepoSpec(spec: string): { repo: string; revision: string } {
  const at = spec.indexOf('@');
  const repo = (at < 0 ? spec : spec.slice(0, at)).trim().replace(/^\/+|\/+$/g, '');
  const revision = at < 0 ? 'main' : spec.slice(at + 1).trim();
  if (!/^[\w.-]+(\/[\w.-]+)?$/.test(repo)) throw new PullPlanError(`not a model repo id: "${spec}" (expected OWNER/NAME or OWNER/NAME@REVISION)`);
  if (!revision) throw new PullPlanError(`empty revision after @ in "${spec}"`);
  return { repo, revision };
}

export interface PulledFile extends FileOutcome {
  path: string;
}

export interface PullEvents {
  /** The files to fetch, once listed (before any download). */
  plan?: (p: { files: readonly RepoFile[]; totalBytes: number; decoder: string; missingOptional: readonly string[] }) => void;
  /** Bytes of `file` accounted for since the last call (negative after a restart). */
  progress?: (file: string, bytes: number) => void;
  /** A file started: checking what is on disk, then downloading what is missing. */
  fileStart?: (file: string, size: number) => void;
  fileDone?: (f: PulledFile) => void;
}

export interface PullOptions {
  repo: string;
  revision?: string;
  out: string;
  dtype?: Dtype;
  /** Default: HF_ENDPOINT / HF_TOKEN from the environment. */
  settings?: HubSettings;
  events?: PullEvents;
}

export interface PullResult {
  repo: string;
  revision: string;
  dtype: Dtype;
  decoder: string;
  dir: string;
  files: PulledFile[];
  /** Bytes fetched over the network by this run (resumed prefixes and files already present excluded). */
  bytesDownloaded: number;
}

export async function listRepoFiles(repo: string, revision: string, settings: HubSettings): Promise<RepoFile[]> {
  const files: RepoFile[] = [];
  try {
    for await (const e of listFiles({ repo: { type: 'model', name: repo }, revision, recursive: true, hubUrl: settings.endpoint, fetch: hubFetch(settings) })) {
      if (e.type !== 'file') continue;
      files.push({ path: e.path, size: e.size, oid: e.oid, lfs: e.lfs ? { oid: e.lfs.oid, size: e.lfs.size } : undefined });
    }
  } catch (err) {
    throw fromHubApiError(err, `listing the files of ${repo}@${revision}`, repo, revision, settings);
  }
  return files;
}

export function resolveUrl(settings: HubSettings, repo: string, revision: string, path: string): string {
  return `${settings.endpoint}/${repo}/resolve/${encodeURIComponent(revision)}/${path.split('/').map(encodeURIComponent).join('/')}`;
}

export async function pullModel(opts: PullOptions): Promise<PullResult> {
  const settings = opts.settings ?? hubSettings();
  const { repo } = opts;
  const revision = opts.revision ?? 'main';
  const dtype = opts.dtype ?? 'fp32';
  const label = `${repo}@${revision}`;
  const dir = resolve(opts.out);
  const listing = await listRepoFiles(repo, revision, settings);
  const plan = planPull(listing, dtype, label);
  const totalBytes = plan.files.reduce((s, f) => s + (f.lfs?.size ?? f.size), 0);
  opts.events?.plan?.({ files: plan.files, totalBytes, decoder: plan.decoder, missingOptional: plan.missingOptional });

  const doFetch = hubFetch(settings);
  const pulled: PulledFile[] = [];
  let bytesDownloaded = 0;
  for (const f of plan.files) {
    const dest = resolve(dir, f.path);
    if (!dest.startsWith(dir + sep)) throw new PullPlanError(`refusing a file path outside ${dir}: ${f.path}`);
    const url = resolveUrl(settings, repo, revision, f.path);
    opts.events?.fileStart?.(f.path, f.lfs?.size ?? f.size);
    let outcome: FileOutcome;
    try {
      outcome = await downloadTo(
        dest,
        f,
        (headers) => doFetch(url, { headers: { accept: '*/*', ...headers }, redirect: 'follow' }),
        async (res) => {
          const detail = res.headers.get('x-error-message') ?? undefined;
          await res.body?.cancel();
          return statusError(res.status, `downloading ${f.path} of ${label}`, repo, revision, settings, detail);
        },
        {
          onBytes: (n) => opts.events?.progress?.(f.path, n),
          onRestart: (dropped) => opts.events?.progress?.(f.path, -dropped),
        },
      );
    } catch (err) {
      if (err instanceof HubError || err instanceof IntegrityError) throw err;
      const cause = (err as { cause?: { message?: string } }).cause?.message;
      const msg = (err instanceof Error ? err.message : String(err)) + (cause ? `: ${cause}` : '');
      throw new HubError(`${f.path} of ${label}: download interrupted (${msg}); run the same command again to resume from ${dest}.part`);
    }
    if (outcome.status !== 'present') bytesDownloaded += outcome.size - outcome.resumedFrom;
    const done = { path: f.path, ...outcome };
    pulled.push(done);
    opts.events?.fileDone?.(done);
  }
  return { repo, revision, dtype, decoder: plan.decoder, dir, files: pulled, bytesDownloaded };
}
