import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { afterAll, beforeAll } from 'vitest';
import { synthBundle } from '../src/synth/synth-bundle.ts';
import type { TextTokenizer } from '../src/bundle/types.ts';
import { byteToUnicode } from '../src/bundle/byte-level.ts';

/**
 * A tiny byte-level BPE tokenizer: the 256 byte tokens plus merges given as strings
 * (each merge joins the byte pieces of its text, e.g. 'ab' or 'é' → one token).
 */
export function byteBpeTokenizer(mergeTexts: string[]): TextTokenizer {
  const table = byteToUnicode();
  const vocab: Record<string, number> = {};
  table.forEach((ch, b) => (vocab[ch] = b));
  const merges: string[] = [];
  for (const text of mergeTexts) {
    const pieces = [...new TextEncoder().encode(text)].map((b) => table[b]);
    // Left-to-right merges: ((p0 p1) p2) ...
    let acc = pieces[0];
    for (let i = 1; i < pieces.length; i++) {
      merges.push(`${acc} ${pieces[i]}`);
      acc += pieces[i];
      if (!(acc in vocab)) vocab[acc] = Object.keys(vocab).length;
    }
  }
  const json = {
    version: '1.0',
    added_tokens: [],
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: null,
    decoder: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, vocab, merges },
  };
  const tok = new Tokenizer(json, {});
  return {
    vocabSize: Object.keys(vocab).length,
    encode: (text) => tok.encode(text, { add_special_tokens: false }).ids,
    decode: (ids) => tok.decode(ids, { skip_special_tokens: false }),
  };
}

/**
 * A tiny synthetic bundle in a fresh temp directory for one test file: built before its tests,
 * removed after. `root` is the temp directory (for the test's own files), `dir` the bundle.
 */
export function tinyBundleFixture(prefix: string, seed: number): { readonly root: string; readonly dir: string } {
  const state = { root: '', dir: '' };
  beforeAll(async () => {
    state.root = await mkdtemp(join(tmpdir(), prefix));
    state.dir = (await synthBundle({ preset: 'tiny', out: join(state.root, 'tiny'), seed })).dir;
  });
  afterAll(async () => {
    if (state.root) await rm(state.root, { recursive: true, force: true });
  });
  return state;
}
