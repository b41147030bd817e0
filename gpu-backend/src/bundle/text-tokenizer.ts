import { Tokenizer } from '@huggingface/tokenizers';
import type { TextTokenizer } from './types.ts';

/**
 * What a bundle's tokenizer is built for. `full` encodes and decodes. `decode` only turns ids into
 * text, which is all an inference worker does with it (detokenizing, stop strings); it leaves out a
 * BPE model's merges, which only encoding reads. V8 heap of Llama 3's tokenizer.json: 84 MiB as
 * @huggingface/tokenizers builds it, 40 MiB `full` and 9 MiB `decode` here (docs/performance.md).
 * Both are checked against the library's own tokenizer in test/text-tokenizer.test.ts.
 */
export type TokenizerUse = 'full' | 'decode';

/** A TextTokenizer over a parsed Hugging Face tokenizer.json (the same path real models take). */
export class HfTextTokenizer implements TextTokenizer {
  private readonly tokenizer: Tokenizer;
  readonly vocabSize: number;
  readonly use: TokenizerUse;

  constructor(tokenizerJson: object, config: object = {}, use: TokenizerUse = 'full') {
    this.use = use;
    const source = buildCopy(tokenizerJson, use);
    // Exact round trips: no clean-up of spaces around punctuation on decode.
    this.tokenizer = new Tokenizer(source, { clean_up_tokenization_spaces: false, ...config });
    releaseBuildInputs(source, this.tokenizer);
    this.vocabSize = this.tokenizer.get_vocab(true).size;
  }

  encode(text: string): number[] {
    if (this.use === 'decode') {
      throw new Error("this tokenizer was built to decode only (loadBundle's tokenizer: 'decode', as inference workers load it); load the bundle with tokenizer: 'full' to encode text");
    }
    return this.tokenizer.encode(text, { add_special_tokens: false }).ids;
  }

  /** Special tokens are kept, as Hugging Face's decode does by default. */
  decode(ids: number[]): string {
    return this.tokenizer.decode(ids, { skip_special_tokens: false });
  }

  tokenToId(token: string): number | undefined {
    return this.tokenizer.token_to_id(token);
  }

  idToToken(id: number): string | undefined {
    return this.tokenizer.id_to_token(id);
  }
}

type ModelJson = { type?: string; vocab?: unknown; merges?: unknown };

/** A copy to build from (the caller's object is never touched), without merges for `decode`. */
function buildCopy(json: object, use: TokenizerUse): { model?: ModelJson } {
  const model = (json as { model?: ModelJson }).model;
  if (!model || typeof model !== 'object') return { ...json };
  const dropMerges = use === 'decode' && model.type === 'BPE' && Array.isArray(model.merges);
  return { ...json, model: { ...model, ...(dropMerges ? { merges: [] } : {}) } };
}

/**
 * @huggingface/tokenizers (0.2) keeps the object it was built from for good (the tokenizer's
 * `tokenizer`, the model's `config`), and a BPE model keeps its merges list beside the ranks map it
 * builds from it, though vocab and merges are read only while building: encoding reads the vocab
 * Map and the ranks. Dropping them from our copy, and the model's merges list, frees the JSON's
 * vocabulary object and merge strings (Llama 3: 84 → 40 MiB). Should a later version read either
 * while encoding, test/text-tokenizer.test.ts (encode and decode against an untouched
 * tokenizer) fails.
 */
function releaseBuildInputs(source: { model?: ModelJson }, tokenizer: Tokenizer): void {
  if (source.model) {
    delete source.model.vocab;
    delete source.model.merges;
  }
  const model = (tokenizer as unknown as { model?: { merges?: unknown; bpe_ranks?: unknown } }).model;
  if (model && model.bpe_ranks instanceof Map) model.merges = undefined;
}
