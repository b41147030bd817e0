import { Tokenizer } from '@huggingface/tokenizers';
import type { TextTokenizer } from './types.ts';

/** A TextTokenizer over a parsed Hugging Face tokenizer.json (the same path real models take). */
export class HfTextTokenizer implements TextTokenizer {
  private readonly tokenizer: Tokenizer;
  readonly vocabSize: number;

  constructor(tokenizerJson: object, config: object = {}) {
    // Exact round trips: no clean-up of spaces around punctuation on decode.
    this.tokenizer = new Tokenizer(tokenizerJson, { clean_up_tokenization_spaces: false, ...config });
    this.vocabSize = this.tokenizer.get_vocab(true).size;
  }

  encode(text: string): number[] {
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
