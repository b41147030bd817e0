import type { TextTokenizer } from '../bundle/types.ts';
import type { JudgeRecord } from './data.ts';

/** A record turned into token ids with one label per response token. */
export interface TokenizedExample {
  promptIds: number[];
  responseIds: number[];
  /** labels[i] is the label of responseIds[i]: 1 = correct, 0 = wrong. */
  labels: (0 | 1)[];
}

const REPLACEMENT = '\uFFFD';

function commonPrefixLength(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  return i;
}

/**
 * Index of the first token that touches character `charIndex` of `text` (or any later one),
 * found by incremental decoding (our tokenizer reports no offsets).
 *
 * Decoding ids[0..i] gives the characters completed so far plus, when the prefix ends inside
 * a multi-byte character, U+FFFD for its pending bytes. A token touches a character as soon
 * as it contributes any of its bytes, so an error in a character split over two tokens marks
 * the first of them.
 */
export function firstTokenTouching(tokenizer: TextTokenizer, ids: number[], text: string, charIndex: number): number {
  for (let i = 0; i < ids.length; i++) {
    const decoded = tokenizer.decode(ids.slice(0, i + 1));
    const complete = commonPrefixLength(decoded, text);
    // Characters [0, complete) are finished; a trailing U+FFFD beyond them is a started character.
    const pending = decoded.length > complete && decoded.slice(complete).startsWith(REPLACEMENT);
    const lastTouched = pending ? complete : complete - 1;
    if (lastTouched >= charIndex) return i;
  }
  throw new Error(`character ${charIndex} is not covered by the ${ids.length} response tokens`);
}

/**
 * Tokenizes a record and expands its labels to one per response token.
 * Throws (without file context; callers add the line number) when labels do not fit.
 */
export function tokenizeExample(
  record: JudgeRecord,
  tokenizer: TextTokenizer,
  encodePrompt: (text: string) => number[],
): TokenizedExample {
  const promptIds = record.prompt_ids ?? encodePrompt(record.prompt);
  const responseIds = record.response_ids ?? tokenizer.encode(record.response);
  if (responseIds.length === 0) throw new Error('response has no tokens');
  let labels: (0 | 1)[];
  if (record.labels !== undefined) {
    if (record.labels.length > responseIds.length) {
      throw new Error(
        `labels: index ${responseIds.length} is past the end (response has ${responseIds.length} tokens, labels has ${record.labels.length})`,
      );
    }
    if (record.labels.length < responseIds.length) {
      throw new Error(`labels: has ${record.labels.length} entries but response has ${responseIds.length} tokens`);
    }
    labels = record.labels;
  } else if (record.first_error !== undefined) {
    const decoded = tokenizer.decode(responseIds);
    if (decoded !== record.response) {
      throw new Error(
        `response does not survive tokenization (decodes to ${JSON.stringify(decoded.slice(0, 60))}); give explicit labels`,
      );
    }
    const firstBad = firstTokenTouching(tokenizer, responseIds, record.response, record.first_error);
    labels = responseIds.map((_, i) => (i < firstBad ? 1 : 0));
  } else {
    labels = responseIds.map(() => 1);
  }
  return { promptIds, responseIds, labels };
}
