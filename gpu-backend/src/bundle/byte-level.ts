/**
 * GPT-2's bytes_to_unicode, as Hugging Face's ByteLevel pre-tokenizer and decoder use it: every
 * byte gets a printable stand-in, so byte-level tokens are plain strings. The synth builds its
 * vocabularies from it; the server maps tokens back to their raw bytes (logprobs' `bytes`).
 */
export function byteToUnicode(): string[] {
  const printable: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) printable.push(b);
  for (let b = 0xa1; b <= 0xac; b++) printable.push(b);
  for (let b = 0xae; b <= 0xff; b++) printable.push(b);
  const table: string[] = new Array(256);
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    table[b] = String.fromCodePoint(printable.includes(b) ? b : 256 + extra++);
  }
  return table;
}
