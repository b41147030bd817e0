/**
 * Token ids -> text, one token at a time, never splitting a UTF-8 character: a byte-level token
 * that ends mid-character decodes to U+FFFD, so its text waits until the character completes.
 * Decodes a short window [prefix, end) rather than everything so far (the offsets scheme of
 * Hugging Face TGI), so a long generation costs O(n), and decoders that strip a leading space
 * at the start of a sequence still get their context.
 */
export class IncrementalDetokenizer {
  private readonly ids: number[] = [];
  private prefix = 0;
  private read = 0;

  constructor(private readonly tokenizer: { decode(ids: number[]): string }) {}

  /** Append one token; returns the text that became final (possibly ''). */
  push(id: number): string {
    this.ids.push(id);
    const before = this.decode(this.prefix, this.read);
    const after = this.decode(this.prefix, this.ids.length);
    if (after.length > before.length && !after.endsWith('\uFFFD')) {
      this.prefix = this.read;
      this.read = this.ids.length;
      return after.slice(before.length);
    }
    return '';
  }

  private decode(from: number, to: number): string {
    return to > from ? this.tokenizer.decode(this.ids.slice(from, to)) : ''; // HF's decode refuses []
  }

  /** The text still held back (an incomplete character decodes to U+FFFD). */
  flush(): string {
    const before = this.decode(this.prefix, this.read);
    const after = this.decode(this.prefix, this.ids.length);
    this.prefix = this.read = this.ids.length;
    return after.length > before.length ? after.slice(before.length) : '';
  }
}
