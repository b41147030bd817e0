import type { LlamaConfig } from './llama-config.ts';
import { Prng, subSeed } from './prng.ts';
import { buildTokenizerJson, FIRST_WORD_PIECE_ID } from './tokenizer-json.ts';

/** Nats added to word-start pieces (`Ġ…`), so generated text breaks into words (docs/models.md). */
export const WORD_START_BONUS = 2;

/**
 * The word-piece prior: a fixed per-token bias added to the logits after the LM head, so the
 * synthetic LM prefers word pieces the way a trained LM does (random logits would treat the 256
 * byte tokens, half the tiny vocabulary, like words, and generated text would be mostly U+FFFD
 * and control characters).
 *
 * Word piece of frequency rank r (a seeded permutation of the pieces): −α·ln r, a Zipf law with
 * exponent α, plus {@link WORD_START_BONUS} for word-start pieces. Byte tokens and specials (BOS/EOS): −2α·ln V, as unlikely as a piece of rank V².
 * Draft and target share it (it is part of the shared LM head), so it shifts both models alike.
 * Returns undefined when α = 0 (the graph then has no bias node: the old models, byte for byte).
 */
export function makeLogitPrior(c: LlamaConfig, seed: number): Float32Array | undefined {
  const alpha = c.wordPrior;
  if (alpha === 0) return undefined;
  const V = c.vocabSize;
  const bias = new Float32Array(V).fill(-2 * alpha * Math.log(V));
  const pieces = Array.from({ length: V - FIRST_WORD_PIECE_ID }, (_, i) => FIRST_WORD_PIECE_ID + i);
  // Fisher–Yates with its own named stream, so the prior never shifts any weight tensor.
  const rng = new Prng(subSeed(seed, 'logit_prior.rank'));
  for (let i = pieces.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [pieces[i], pieces[j]] = [pieces[j], pieces[i]];
  }
  pieces.forEach((id, rank) => (bias[id] = -alpha * Math.log(rank + 1)));
  // The vocabulary is a function of (vocabSize, seed): rebuild it to find the word starts.
  const vocab = (buildTokenizerJson(V, seed).model as { vocab: Record<string, number> }).vocab;
  for (const [token, id] of Object.entries(vocab)) if (id >= FIRST_WORD_PIECE_ID && token.startsWith('Ġ')) bias[id] += WORD_START_BONUS;
  return bias;
}
