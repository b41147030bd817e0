import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { TextTokenizer } from '../bundle/types.ts';
import { seededRandom } from './logistic.ts';

/**
 * Reads a prompts file: one prompt per non-empty line, either plain text or a JSON object with
 * a `prompt` string (so judge data files work as prompt files too).
 */
export async function readPrompts(file: string): Promise<string[]> {
  const prompts: string[] = [];
  let lineNo = 0;
  const lines = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity });
  try {
    for await (const line of lines) {
      lineNo++;
      if (line.trim() === '') continue;
      if (line.trimStart().startsWith('{')) {
        let obj: { prompt?: unknown };
        try {
          obj = JSON.parse(line);
        } catch (err) {
          throw new Error(`${file}:${lineNo}: malformed JSON (${(err as Error).message})`);
        }
        if (typeof obj.prompt !== 'string') throw new Error(`${file}:${lineNo}: the object has no "prompt" string`);
        prompts.push(obj.prompt);
      } else prompts.push(line);
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(`${file}: no such prompts file`);
    throw err;
  }
  if (prompts.length === 0) throw new Error(`${file}: no prompts (the file is empty)`);
  return prompts;
}

/**
 * Seeded prompts made of random vocabulary tokens (specials excluded), decoded to text.
 * Synthetic models have no natural language to draw on; this covers the vocabulary evenly.
 */
export function syntheticPrompts(tokenizer: TextTokenizer, count: number, seed: number, exclude: ReadonlySet<number>, length: [number, number] = [4, 12]): string[] {
  const rand = seededRandom(seed ^ 0x5eed);
  const prompts: string[] = [];
  while (prompts.length < count) {
    const n = length[0] + Math.floor(rand() * (length[1] - length[0] + 1));
    const ids: number[] = [];
    while (ids.length < n) {
      const id = Math.floor(rand() * tokenizer.vocabSize);
      if (!exclude.has(id)) ids.push(id);
    }
    const text = tokenizer.decode(ids);
    // Byte tokens can decode to broken or control characters; keep prompts that are clean text.
    if (text.trim() !== '' && !/[\uFFFD\u0000-\u0008\u000b-\u001f\u007f]/.test(text)) prompts.push(text);
  }
  return prompts;
}
