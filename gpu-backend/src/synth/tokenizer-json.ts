import { byteToUnicode } from '../bundle/byte-level.ts';
import { Prng } from './prng.ts';

export const BOS_TOKEN = '<s>';
export const EOS_TOKEN = '</s>';
const SPECIALS = [BOS_TOKEN, EOS_TOKEN];
/** Vocabulary layout: specials, then the 256 byte tokens, then word pieces from this id on. */
export const FIRST_WORD_PIECE_ID = SPECIALS.length + 256;

const ONSETS = ['', 'b', 'c', 'd', 'f', 'g', 'h', 'j', 'k', 'l', 'm', 'n', 'p', 'r', 's', 't', 'v', 'w', 'z', 'br', 'ch', 'pl', 'sh', 'st', 'th', 'tr'];
const VOWELS = ['a', 'e', 'i', 'o', 'u', 'ai', 'ea', 'ou'];
const CODAS = ['', '', '', 'n', 'r', 's', 'l', 't', 'm', 'nd'];
/** ByteLevel's stand-in for a leading space. */
const SPACE = 'Ġ';

/**
 * A Hugging Face byte-level BPE tokenizer.json with exactly `vocabSize` entries:
 * BOS/EOS specials (ids 0, 1), all 256 byte tokens (so any UTF-8 text encodes), then merges that
 * build seeded pseudo-words from syllables ("Ġtralo", "Ġmenka", …), so generated ids decode to
 * legible, if meaningless, text. Every merge joins two existing tokens, as BPE requires.
 */
export function buildTokenizerJson(vocabSize: number, seed: number): Record<string, unknown> {
  const minimum = SPECIALS.length + 256 + 1;
  if (vocabSize < minimum) throw new Error(`tokenizer: vocabSize ${vocabSize} is below the minimum ${minimum} (specials + 256 bytes)`);
  const vocab = new Map<string, number>();
  SPECIALS.forEach((t) => vocab.set(t, vocab.size));
  for (const ch of byteToUnicode()) vocab.set(ch, vocab.size);
  const merges: string[] = [];
  const full = (): boolean => vocab.size >= vocabSize;
  /** Joins the pieces left to right, adding each missing intermediate as a merge; false when the vocabulary filled up. */
  const chain = (pieces: string[]): boolean => {
    let acc = pieces[0];
    for (const next of pieces.slice(1)) {
      const joined = acc + next;
      if (!vocab.has(joined)) {
        if (full()) return false;
        merges.push(`${acc} ${next}`);
        vocab.set(joined, vocab.size);
      }
      acc = joined;
    }
    return true;
  };

  const rng = new Prng(seed ^ 0x70c3);
  const pick = (xs: string[]): string => xs[rng.int(xs.length)];
  const syllable = (): string => {
    const s = pick(ONSETS) + pick(VOWELS) + pick(CODAS);
    return s;
  };
  // Cap attempts: once common syllables exist most words are new anyway, but tiny vocabularies fill fast.
  for (let attempt = 0; !full() && attempt < vocabSize * 20; attempt++) {
    const syllables = Array.from({ length: 1 + rng.int(3) }, syllable);
    // Each syllable as a token (char by char), then the spaced word syllable by syllable.
    if (!syllables.every((s) => chain([...s]))) break;
    if (!chain([SPACE, ...syllables])) break;
  }
  if (!full()) throw new Error(`tokenizer: could not fill ${vocabSize} entries with pseudo-words`);

  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: SPECIALS.map((content) => ({
      id: vocab.get(content),
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    })),
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: null,
    decoder: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab: Object.fromEntries(vocab),
      merges,
    },
  };
}
