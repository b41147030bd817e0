import { describe, expect, it } from 'vitest';
import { buildTokenizerJson } from '../src/synth/tokenizer-json.ts';
import { byteToUnicode } from '../src/bundle/byte-level.ts';
import { HfTextTokenizer } from '../src/bundle/text-tokenizer.ts';

describe('synthetic tokenizer.json', () => {
  const json = buildTokenizerJson(512, 1);
  const tok = new HfTextTokenizer(json);

  it('has exactly the requested vocabulary, with specials and all 256 byte tokens', () => {
    expect(tok.vocabSize).toBe(512);
    expect(tok.tokenToId('<s>')).toBe(0);
    expect(tok.tokenToId('</s>')).toBe(1);
    for (const ch of byteToUnicode()) expect(tok.tokenToId(ch)).toBeDefined();
    expect(new HfTextTokenizer(buildTokenizerJson(4096, 1)).vocabSize).toBe(4096);
  });

  it('every merge joins two existing tokens into a vocabulary entry', () => {
    const model = json.model as { vocab: Record<string, number>; merges: string[] };
    for (const m of model.merges) {
      const [a, b] = m.split(' ');
      expect(model.vocab[a], m).toBeDefined();
      expect(model.vocab[b], m).toBeDefined();
      expect(model.vocab[a + b], m).toBeDefined();
    }
  });

  it('round-trips arbitrary text including multi-byte UTF-8', () => {
    for (const text of [
      'Hello, world! The quick brown fox.',
      'Ünïcødé — 日本語のテキスト 🎉🧪 and emoji 👩‍👩‍👧',
      '  leading spaces\n\ttabs\r\nand\u0000control\u007f bytes',
      'tralo menka shou',
    ]) {
      const ids = tok.encode(text);
      expect(ids.every((id) => id >= 0 && id < 512)).toBe(true);
      expect(tok.decode(ids)).toBe(text);
    }
  });

  it('compresses its own pseudo-words and decodes random ids to legible pieces', () => {
    const words = Object.keys((json.model as { vocab: Record<string, number> }).vocab).filter((t) => /^Ġ[a-z]{4,}$/.test(t));
    expect(words.length).toBeGreaterThan(20);
    const sample = words.slice(0, 10).map((w) => w.slice(1)).join(' ');
    expect(tok.encode(` ${sample}`).length).toBeLessThan(sample.length / 2);
    const text = tok.decode(Array.from({ length: 40 }, (_, i) => 258 + ((i * 37) % 254)));
    expect(text).toMatch(/^[a-z ]+$/);
  });

  it('is seeded: same seed same vocabulary, another seed another', () => {
    expect(JSON.stringify(buildTokenizerJson(512, 1))).toBe(JSON.stringify(json));
    expect(JSON.stringify(buildTokenizerJson(512, 2))).not.toBe(JSON.stringify(json));
  });
});
