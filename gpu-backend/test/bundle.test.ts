import { cp, mkdtemp, readFile, rm, writeFile, appendFile, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { synthBundle } from '../src/synth/synth-bundle.ts';
import { loadBundle } from '../src/bundle/load.ts';
import { BundleError } from '../src/bundle/errors.ts';
import { JUDGE_FORMAT } from '../src/bundle/judge-head.ts';
import { DEFAULT_CHAT_TEMPLATE } from '../src/bundle/chat-template.ts';

let root: string;
let pristine: string;
let copies = 0;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'verdict-bundle-'));
  pristine = (await synthBundle({ preset: 'tiny', out: join(root, 'pristine'), seed: 3 })).dir;
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** A fresh copy of the tiny bundle to break in one way. */
async function copy(): Promise<string> {
  const dir = join(root, `copy-${copies++}`);
  await cp(pristine, dir, { recursive: true });
  return dir;
}
const readManifest = async (dir: string) => JSON.parse(await readFile(join(dir, 'bundle.json'), 'utf8'));
const writeManifest = (dir: string, m: unknown) => writeFile(join(dir, 'bundle.json'), JSON.stringify(m));

async function expectBundleError(dir: string, file: string, message: RegExp): Promise<void> {
  const err = await loadBundle(dir).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(BundleError);
  expect((err as BundleError).file).toBe(join(dir, file));
  expect((err as BundleError).message).toMatch(message);
}

function judgeFor(m: { target: { hidden_size: number; sha256: string } }, overrides: Record<string, unknown> = {}) {
  const d = m.target.hidden_size;
  return {
    format: JUDGE_FORMAT,
    hidden_size: d,
    weights: new Array(d).fill(0.01),
    bias: -1,
    threshold: 0.5,
    target_sha256: m.target.sha256,
    ...overrides,
  };
}

async function addJudge(dir: string, judge: unknown): Promise<void> {
  const text = JSON.stringify(judge);
  await writeFile(join(dir, 'judge.json'), text);
  const m = await readManifest(dir);
  const { sha256Bytes } = await import('../src/bundle/hash.ts');
  m.judge = { file: 'judge.json', sha256: sha256Bytes(text) };
  await writeManifest(dir, m);
}

describe('loadBundle', () => {
  it('loads a synthetic bundle: paths, tokenizer, BOS, chat template', async () => {
    const b = await loadBundle(pristine);
    expect(b.targetPath).toBe(join(pristine, 'target.onnx'));
    expect(b.draftPath).toBe(join(pristine, 'draft.onnx'));
    expect(b.tokenizer.vocabSize).toBe(b.manifest.target.vocab_size);
    expect(b.judge).toBeUndefined();
    const text = b.renderChat([
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Hi there' },
    ]);
    expect(text).toBe('<|system|>\nBe brief.</s>\n<|user|>\nHi there</s>\n<|assistant|>\n');
    const ids = b.encodePrompt(text);
    expect(ids[0]).toBe(b.manifest.bos_token_id);
    expect(ids.filter((id) => id === b.manifest.eos_token_ids[0])).toHaveLength(2);
    expect(b.tokenizer.decode(ids)).toBe(`<s>${text}`);
    // A template that already emits BOS does not get a second one.
    expect(b.encodePrompt('<s>hello').filter((id) => id === b.manifest.bos_token_id)).toHaveLength(1);
  });

  it("renders the bundle's own chat_template with bos_token/eos_token", async () => {
    const dir = await copy();
    const m = await readManifest(dir);
    m.chat_template = "{{ bos_token }}{% for m in messages %}[{{ m.role }}] {{ m.content }}{{ eos_token }}{% endfor %}{% if add_generation_prompt %}[assistant] {% endif %}";
    await writeManifest(dir, m);
    const b = await loadBundle(dir);
    expect(b.renderChat([{ role: 'user', content: 'x' }])).toBe('<s>[user] x</s>[assistant] ');
    expect(DEFAULT_CHAT_TEMPLATE).not.toContain('bos_token');
  });

  it('accepts a judge that fits the target', async () => {
    const dir = await copy();
    await addJudge(dir, judgeFor(await readManifest(dir)));
    const b = await loadBundle(dir);
    expect(b.judge?.hidden_size).toBe(b.manifest.target.hidden_size);
  });

  it('rejects a missing bundle.json', async () => {
    const dir = await copy();
    await unlink(join(dir, 'bundle.json'));
    await expectBundleError(dir, 'bundle.json', /missing/);
  });

  it('rejects malformed bundle.json (bad JSON, schema violations)', async () => {
    const dir = await copy();
    await writeFile(join(dir, 'bundle.json'), '{"format": ');
    await expectBundleError(dir, 'bundle.json', /not valid JSON/);
    const m = await readManifest(pristine);
    delete m.draft;
    m.target.sha256 = 'XYZ';
    await writeManifest(dir, m);
    await expectBundleError(dir, 'bundle.json', /draft.*target\.sha256|target\.sha256.*draft/);
  });

  it('rejects a missing model file', async () => {
    const dir = await copy();
    await unlink(join(dir, 'draft.onnx'));
    await expectBundleError(dir, 'draft.onnx', /draft file is missing/);
  });

  it('rejects a corrupted file (sha256 mismatch)', async () => {
    const dir = await copy();
    await appendFile(join(dir, 'target.onnx'), Buffer.from([0]));
    await expectBundleError(dir, 'target.onnx', /target file is corrupted.*sha256 [0-9a-f]{64} does not match/);
  });

  it('rejects paths that leave the bundle directory', async () => {
    const dir = await copy();
    const m = await readManifest(dir);
    m.tokenizer.file = '../pristine/tokenizer.json';
    await writeManifest(dir, m);
    await expectBundleError(dir, 'bundle.json', /outside the bundle directory/);
  });

  it('rejects draft/target vocabulary mismatch', async () => {
    const dir = await copy();
    const m = await readManifest(dir);
    m.draft.vocab_size = 1000;
    await writeManifest(dir, m);
    await expectBundleError(dir, 'draft.onnx', /draft vocab_size 1000 differs from the target's 512/);
  });

  it('rejects a tokenizer whose vocabulary differs from the models', async () => {
    const dir = await copy();
    const m = await readManifest(dir);
    m.draft.vocab_size = m.target.vocab_size = 600;
    await writeManifest(dir, m);
    await expectBundleError(dir, 'tokenizer.json', /tokenizer has 512 tokens but the target's vocab_size is 600/);
  });

  it('rejects a judge of the wrong width', async () => {
    const dir = await copy();
    await addJudge(dir, judgeFor(await readManifest(dir), { hidden_size: 32, weights: new Array(32).fill(0) }));
    await expectBundleError(dir, 'judge.json', /judge hidden_size 32 does not match the target's hidden_size 64/);
  });

  it('rejects a judge trained on another target', async () => {
    const dir = await copy();
    await addJudge(dir, judgeFor(await readManifest(dir), { target_sha256: 'a'.repeat(64) }));
    await expectBundleError(dir, 'judge.json', /different target.*retrain/);
  });

  it('rejects a judge.json that fails its schema', async () => {
    const dir = await copy();
    await addJudge(dir, judgeFor(await readManifest(dir), { weights: [1, 2, 3] }));
    await expectBundleError(dir, 'judge.json', /invalid judge.json: weights/);
  });
});
