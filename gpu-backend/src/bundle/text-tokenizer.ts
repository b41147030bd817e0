import { Tokenizer } from '@huggingface/tokenizers';
import type { TextTokenizer } from './types.ts';

/**
 * What a bundle's tokenizer is built for. `full` encodes and decodes. `decode` only turns ids into
 * text, which is all an inference worker does with it (detokenizing, stop strings); it leaves out a
 * BPE model's merges, which only encoding reads and which are most of its memory: V8 heap measured
 * for Llama 3's tokenizer.json 84 → 15 MiB, Qwen3's 46 → 19, Gemma 3's 121 → 40
 * (docs/performance.md). Its decode is exactly the full tokenizer's (test/tokenizer-decode-only.test.ts).
 */
export type TokenizerUse = 'full' | 'decode';

/** A TextTokenizer over a parsed Hugging Face tokenizer.json (the same path real models take). */
export class HfTextTokenizer implements TextTokenizer {
  private readonly tokenizer: Tokenizer;
  readonly vocabSize: number;
  readonly use: TokenizerUse;

  constructor(tokenizerJson: object, config: object = {}, use: TokenizerUse = 'full') {
    this.use = use;
    // Exact round trips: no clean-up of spaces around punctuation on decode.
    this.tokenizer = new Tokenizer(use === 'decode' ? withoutMerges(tokenizerJson) : tokenizerJson, { clean_up_tokenization_spaces: false, ...config });
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

/** The same tokenizer.json with a BPE model's merges emptied (the caller's object is not touched). */
function withoutMerges(json: object): object {
  const model = (json as { model?: { type?: string; merges?: unknown } }).model;
  if (model?.type !== 'BPE' || !Array.isArray(model.merges)) return json;
  return { ...json, model: { ...model, merges: [] } };
}
