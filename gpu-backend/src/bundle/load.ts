import { readFile, stat } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve } from 'node:path';
import type { ZodError } from '@verdict/protocol/zod';
import { BundleManifestSchema, type BundleManifest } from './manifest.ts';
import { JudgeHeadSchema, type JudgeHead } from './judge-head.ts';
import { BundleError } from './errors.ts';
import { sha256File } from './hash.ts';
import { HfTextTokenizer, type TokenizerUse } from './text-tokenizer.ts';
import { compileChatTemplate, DEFAULT_CHAT_TEMPLATE, type ChatRenderer, type SpecialTokens } from './chat-template.ts';
import type { LoadedBundle } from './types.ts';

export const MANIFEST_FILE = 'bundle.json';

export interface LoadBundleOptions {
  /** Hash every file against bundle.json (default true; the bench bundle took ~1.5 s on the build machine). */
  verifyHashes?: boolean;
  /** 'decode' builds a tokenizer that only decodes (inference workers), much smaller for large vocabularies; default 'full'. */
  tokenizer?: TokenizerUse;
}

/**
 * Reads and checks a bundle directory: bundle.json against its schema, every file present and
 * matching its sha256, draft/target/tokenizer vocabularies equal, the judge (if any) fitting the
 * target's width and fingerprint. Throws BundleError naming the file and the mismatch.
 */
export async function loadBundle(dir: string, opts: LoadBundleOptions = {}): Promise<LoadedBundle> {
  const root = resolve(dir);
  const manifest = await readManifest(root);
  const verify = opts.verifyHashes ?? true;
  const at = (file: string): string => bundlePath(root, file);

  const entries: [string, { file: string; sha256: string }][] = [
    ['target', manifest.target],
    ['draft', manifest.draft],
    ['tokenizer', manifest.tokenizer],
  ];
  for (const role of ['target', 'draft'] as const) {
    for (const data of manifest[role].external_data ?? []) entries.push([`${role} external data`, data]);
  }
  if (manifest.judge) entries.push(['judge', manifest.judge]);
  for (const [role, entry] of entries) await checkFile(at(entry.file), role, entry.sha256, verify);

  checkDecoders(manifest, at);
  const tokenizer = await readTokenizer(at(manifest.tokenizer.file), manifest, opts.tokenizer ?? 'full');
  const judge = manifest.judge ? await readJudge(at(manifest.judge.file), manifest) : undefined;

  const tokenText = (id: number | null | undefined): string | undefined => (id == null ? undefined : tokenizer.idToToken(id) || undefined);
  const specialTokens: SpecialTokens = manifest.special_tokens ?? {
    bos_token: tokenText(manifest.bos_token_id),
    eos_token: tokenText(manifest.eos_token_ids[0]),
  };
  let render: ChatRenderer;
  try {
    render = compileChatTemplate(manifest.chat_template ?? DEFAULT_CHAT_TEMPLATE, specialTokens);
  } catch (err) {
    throw new BundleError(join(root, MANIFEST_FILE), `chat_template does not compile: ${(err as Error).message}`);
  }
  const bos = manifest.bos_token_id;

  return {
    dir: root,
    manifest,
    targetPath: at(manifest.target.file),
    draftPath: at(manifest.draft.file),
    tokenizer,
    judge,
    renderChat: (messages, opts) => render(messages, opts),
    encodePrompt: (text) => {
      const ids = tokenizer.encode(text);
      // A template that already emitted bos_token must not get a second one.
      return bos === null || ids[0] === bos ? ids : [bos, ...ids];
    },
  };
}

async function readManifest(root: string): Promise<BundleManifest> {
  const path = join(root, MANIFEST_FILE);
  const raw = await readJson(path, 'bundle manifest');
  const parsed = BundleManifestSchema.safeParse(raw);
  if (!parsed.success) throw new BundleError(path, `invalid bundle.json: ${describeIssues(parsed.error)}`);
  return parsed.data;
}

/** Resolves a manifest path, refusing ones that escape the bundle directory. */
function bundlePath(root: string, file: string): string {
  const path = resolve(root, file);
  const rel = relative(root, path);
  if (rel.startsWith('..') || isAbsolute(rel) || isAbsolute(file)) {
    throw new BundleError(join(root, MANIFEST_FILE), `file path "${file}" points outside the bundle directory`);
  }
  return path;
}

async function checkFile(path: string, role: string, expected: string, verify: boolean): Promise<void> {
  try {
    const s = await stat(path);
    if (!s.isFile()) throw new BundleError(path, `${role} file is not a regular file`);
  } catch (err) {
    if (err instanceof BundleError) throw err;
    throw new BundleError(path, `${role} file is missing (listed in ${MANIFEST_FILE})`);
  }
  if (!verify) return;
  const actual = await sha256File(path);
  if (actual !== expected) {
    throw new BundleError(path, `${role} file is corrupted or changed: sha256 ${actual} does not match ${MANIFEST_FILE}'s ${expected}`);
  }
}

function checkDecoders(m: BundleManifest, at: (file: string) => string): void {
  if (m.draft.vocab_size !== m.target.vocab_size) {
    throw new BundleError(at(m.draft.file), `draft vocab_size ${m.draft.vocab_size} differs from the target's ${m.target.vocab_size}`);
  }
  const ids = [...(m.bos_token_id === null ? [] : [m.bos_token_id]), ...m.eos_token_ids];
  const bad = ids.find((id) => id >= m.target.vocab_size);
  if (bad !== undefined) {
    throw new BundleError(at(MANIFEST_FILE), `special token id ${bad} is outside the vocabulary (size ${m.target.vocab_size})`);
  }
}

async function readTokenizer(path: string, m: BundleManifest, use: TokenizerUse): Promise<HfTextTokenizer> {
  const json = await readJson(path, 'tokenizer');
  let tokenizer: HfTextTokenizer;
  try {
    tokenizer = new HfTextTokenizer(json as object, {}, use);
  } catch (err) {
    throw new BundleError(path, `not a usable Hugging Face tokenizer.json: ${(err as Error).message}`);
  }
  if (tokenizer.vocabSize !== m.target.vocab_size) {
    throw new BundleError(path, `tokenizer has ${tokenizer.vocabSize} tokens but the target's vocab_size is ${m.target.vocab_size}`);
  }
  return tokenizer;
}

async function readJudge(path: string, m: BundleManifest): Promise<JudgeHead> {
  const parsed = JudgeHeadSchema.safeParse(await readJson(path, 'judge head'));
  if (!parsed.success) throw new BundleError(path, `invalid judge.json: ${describeIssues(parsed.error)}`);
  const judge = parsed.data;
  if (judge.hidden_size !== m.target.hidden_size) {
    throw new BundleError(path, `judge hidden_size ${judge.hidden_size} does not match the target's hidden_size ${m.target.hidden_size}`);
  }
  if (judge.target_sha256 !== m.target.sha256) {
    throw new BundleError(
      path,
      `judge was trained on a different target (target_sha256 ${judge.target_sha256}, bundle target ${m.target.sha256}); retrain it`,
    );
  }
  return judge;
}

async function readJson(path: string, what: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    throw new BundleError(path, `${what} file is missing or unreadable`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new BundleError(path, `${what} is not valid JSON: ${(err as Error).message}`);
  }
}

function describeIssues(error: ZodError): string {
  return error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`).join('; ');
}
