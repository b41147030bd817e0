import { describe, expect, it } from 'vitest';
import type { LoadedBundle } from '../src/bundle/types.ts';
import type { BundleManifest } from '../src/bundle/manifest.ts';
import { parseConfig, type ServeConfig } from '../src/server/config.ts';
import { answerFingerprint } from '../src/server/fingerprint.ts';

// The fingerprint the gateway keys its cache on must change with everything that shapes an answer.
const sha = (c: string) => c.repeat(64);
const decoder = (file: string, s: string) => ({ file, sha256: sha(s), num_layers: 1, num_kv_heads: 1, head_dim: 4, hidden_size: 4, vocab_size: 8, has_hidden_states: true, has_judge_logits: false });
const manifest = (): BundleManifest => ({
  format: 'verdict-bundle/1',
  name: 'm',
  target: decoder('target.onnx', 'a'),
  draft: decoder('draft.onnx', 'b'),
  tokenizer: { file: 'tokenizer.json', sha256: sha('c') },
  judge: { file: 'judge.json', sha256: sha('d') },
  bos_token_id: 1,
  eos_token_ids: [2],
  chat_template: '{{ messages }}',
  max_context: 64,
});
const head = { format: 'verdict-judge/1' as const, hidden_size: 4, weights: [0, 0, 0, 0], bias: 0, threshold: 0.5, target_sha256: sha('a') };
const bundle = (m: BundleManifest, judge: LoadedBundle['judge'] = head): LoadedBundle => ({ dir: '/x', manifest: m, targetPath: '', draftPath: '', tokenizer: { vocabSize: 8, encode: () => [], decode: () => '' }, judge, renderChat: () => '', encodePrompt: () => [] });
const config = (over: Partial<Record<string, unknown>> = {}): ServeConfig => parseConfig({ bundle: '/x', ...over });
const MODES = ['target', 'exact', 'judge', 'kl'] as const;

describe('answer fingerprint', () => {
  const base = answerFingerprint(bundle(manifest()), config(), MODES);

  it('is a sha256, stable for the same inputs, and not the target sha256 alone', () => {
    expect(base).toMatch(/^[0-9a-f]{64}$/);
    expect(answerFingerprint(bundle(manifest()), config(), MODES)).toBe(base);
    expect(base).not.toBe(sha('a'));
  });

  const changes: [string, (m: BundleManifest) => void][] = [
    ['target', (m) => (m.target.sha256 = sha('e'))],
    ['draft', (m) => (m.draft.sha256 = sha('e'))],
    ['tokenizer', (m) => (m.tokenizer.sha256 = sha('e'))],
    ['judge head', (m) => (m.judge = { file: 'judge.json', sha256: sha('e') })],
    ['no judge head', (m) => delete m.judge],
    ['chat template', (m) => (m.chat_template = '{{ messages }} ')],
    ['default chat template', (m) => delete m.chat_template],
    ['model name', (m) => (m.name = 'n')],
    ['bos', (m) => (m.bos_token_id = null)],
    ['eos', (m) => (m.eos_token_ids = [2, 3])],
    ['context length', (m) => (m.max_context = 65)],
  ];
  for (const [what, change] of changes) {
    it(`changes with the bundle's ${what}`, () => {
      const m = manifest();
      change(m);
      expect(answerFingerprint(bundle(m), config(), MODES)).not.toBe(base);
    });
  }

  const settings: [string, Record<string, unknown>][] = [
    ['default mode', { defaultMode: 'exact' }],
    ['default k', { defaultK: 5 }],
    ['default threshold', { defaultThreshold: 0.7 }],
    ['default kl threshold', { defaultKlThreshold: 0.4 }],
    ['default kl confidence', { defaultKlConfidence: 0.8 }],
    ['default temperature', { defaultTemperature: 0.5 }],
    ['default max tokens', { defaultMaxTokens: 100 }],
  ];
  for (const [what, over] of settings) {
    it(`changes with the server's ${what}`, () => {
      expect(answerFingerprint(bundle(manifest()), config(over), MODES)).not.toBe(base);
    });
  }

  it("changes with the judge head's own threshold when no default overrides it, and with the modes on offer (the default mode follows them)", () => {
    expect(answerFingerprint(bundle(manifest(), { ...head, threshold: 0.6 }), config(), MODES)).not.toBe(base);
    expect(answerFingerprint(bundle(manifest()), config(), ['target', 'exact', 'kl'])).not.toBe(base);
  });

  it('ignores settings that do not shape answers (port, workers, log level)', () => {
    expect(answerFingerprint(bundle(manifest()), config({ port: 1234, workers: 2, logLevel: 'debug', queueSize: 3 }), MODES)).toBe(base);
  });
});
